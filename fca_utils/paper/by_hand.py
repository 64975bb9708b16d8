"""Pictures and the pixel explorer of notebook 01, "FCA by hand" (the paper's Figure 2).

The notebook computes Feature Correspondence Analysis, Eq. (5) with the smoothing
``G_{sigma_s}``, and its median reference, Eq. (7), itself, in NumPy a reader can follow,
and checks the result against :func:`fca_utils.core.statistics.fca`. This module holds
only what would distract from that arithmetic:

- :func:`crop_around` -- a square crop of an image and its mask around the defect;
- :func:`as_rgb` -- a feature map shown as a picture (its first three channels);
- :func:`show_matrix` -- a small matrix drawn with its numbers written in the cells;
- :func:`draw_window` and :func:`draw_tiles` -- a T x T window, or the grid of
  non-overlapping T x T tiles of Eq. (7), outlined on a picture;
- :func:`contributions` -- what each window containing a pixel adds to that pixel's
  score in Eq. (5): the window's (smoothed) error at the pixel times ``G_{sigma_p}``;
- :func:`contributions_figure` and :func:`pixel_explorer` -- those contributions drawn
  with matplotlib, and an ipywidgets explorer that redraws them for a chosen pixel;
- :func:`sww_vs_fca` and :func:`sww_vs_fca_takeaway` -- where the SWW map of Eq. (4) and
  the FCA map of Eq. (5) differ around the defect, counted and said in Markdown.

Window convention (as in :mod:`fca_utils.core.statistics`): the window of centre
``(cy, cx)`` covers rows ``cy - T//2 .. cy + T//2`` and columns ``cx - T//2 .. cx + T//2``
of the reflect-padded map; its error map ``errors[cy, cx]`` is ``(T, T)`` with entry
``[a, b]`` belonging to pixel ``(cy + a - T//2, cx + b - T//2)``. Windows are centred on
every pixel of the map and on nothing else, so a pixel near the border lies in fewer than
T^2 windows.

>>> import numpy as np
>>> errors = np.ones((6, 6, 3, 3)); weights = np.full((3, 3), 1 / 9)
>>> c = contributions(errors, weights, 0, 0)
>>> int(np.isnan(c).sum()), round(float(np.nansum(c)), 4)   # 5 of the 9 windows would be centred off the map
(5, 0.4444)
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from .prose import num

__all__ = [
    "crop_around",
    "as_rgb",
    "show_matrix",
    "draw_window",
    "draw_tiles",
    "contributions",
    "contributions_figure",
    "pixel_explorer",
    "sww_vs_fca",
    "sww_vs_fca_takeaway",
]


def crop_around(image: np.ndarray, mask: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """The ``side x side`` square of ``image`` and ``mask`` centred on the mask's centroid.

    The square is shifted to stay inside the image; an empty mask gives the image's centre.

    Parameters
    ----------
    image : (H, W[, 3]) array
    mask : (H, W) bool array
    side : side of the square, at most ``min(H, W)``

    Returns
    -------
    (image crop, mask crop, (top, left)) -- the crops are views of the inputs

    >>> img = np.zeros((10, 12)); m = np.zeros((10, 12), bool); m[8, 10] = True
    >>> crop_around(img, m, 4)[2]
    (6, 8)
    """
    image, mask = np.asarray(image), np.asarray(mask, bool)
    h, w = mask.shape
    if image.shape[:2] != (h, w):
        raise ValueError(f"image {image.shape[:2]} and mask {mask.shape} must have the same height and width")
    side = int(side)
    if not 1 <= side <= min(h, w):
        raise ValueError(f"side must be between 1 and the image's smaller side {min(h, w)}, got {side}")
    ys, xs = np.nonzero(mask)
    cy, cx = (int(ys.mean()), int(xs.mean())) if ys.size else (h // 2, w // 2)
    top = min(max(cy - side // 2, 0), h - side)
    left = min(max(cx - side // 2, 0), w - side)
    return image[top:top + side, left:left + side], mask[top:top + side, left:left + side], (top, left)


def as_rgb(feats) -> np.ndarray:
    """A ``(C, H, W)`` feature map as an ``(H, W, 3)`` picture in [0, 1].

    The first three channels, each min-max scaled (a map with fewer channels repeats
    its first one, so it shows as gray). For the ``colors`` features this is the image.
    """
    f = np.asarray(feats, dtype=np.float64)
    if f.ndim != 3:
        raise ValueError(f"feats must be a (C, H, W) map, got shape {f.shape}")
    f = f[:3] if f.shape[0] >= 3 else np.repeat(f[:1], 3, axis=0)
    lo = f.min(axis=(1, 2), keepdims=True)
    hi = f.max(axis=(1, 2), keepdims=True)
    return np.moveaxis((f - lo) / np.where(hi > lo, hi - lo, 1.0), 0, -1)


def show_matrix(ax, values, *, fmt: str = "{:.2f}", cmap: str = "viridis", vmin=None, vmax=None,
                title: str | None = None, mark: tuple[int, int] | None = None, fontsize: float = 7):
    """Draw a small 2-D matrix with its numbers written in the cells.

    NaN cells stay blank. ``mark=(row, col)`` outlines one cell in red. Text is white on
    dark cells and black on light ones. Returns the ``AxesImage``.
    """
    import matplotlib.pyplot as plt

    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[None]
    if v.ndim != 2:
        raise ValueError(f"values must be a 1-D or 2-D array, got shape {v.shape}")
    finite = v[np.isfinite(v)]
    lo = float(finite.min()) if vmin is None and finite.size else (0.0 if vmin is None else vmin)
    hi = float(finite.max()) if vmax is None and finite.size else (1.0 if vmax is None else vmax)
    im = ax.imshow(v, cmap=cmap, vmin=lo, vmax=hi)
    colormap = plt.get_cmap(cmap)
    for (r, c), value in np.ndenumerate(v):
        if np.isfinite(value):
            rgb = colormap((value - lo) / (hi - lo) if hi > lo else 0.5)[:3]
            dark = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] < 0.5
            ax.text(c, r, fmt.format(value), ha="center", va="center", fontsize=fontsize,
                    color="white" if dark else "black")
    if mark is not None:
        draw_window(ax, mark[0], mark[1], 1, color="red")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    return im


def draw_window(ax, y: int, x: int, t: int, *, color: str = "red", linewidth: float = 1.5) -> None:
    """Outline the ``t x t`` window centred on pixel ``(y, x)`` of an ``imshow`` picture."""
    from matplotlib.patches import Rectangle

    half = t / 2
    ax.add_patch(Rectangle((x - half, y - half), t, t, fill=False, edgecolor=color, linewidth=linewidth))


def draw_tiles(ax, picture: np.ndarray, t: int, *, color: str = "white") -> int:
    """Show ``picture`` with the grid of non-overlapping ``t x t`` tiles of Eq. (7).

    Tiles start at the top-left corner; the rows and columns that do not fill a whole
    tile (``H mod t`` at the bottom, ``W mod t`` on the right) belong to no tile and are
    shaded. Returns the number of tiles.
    """
    picture = np.asarray(picture)
    h, w = picture.shape[:2]
    ny, nx = h // t, w // t
    if ny < 1 or nx < 1:
        raise ValueError(f"a {h}x{w} picture holds no {t}x{t} tile")
    ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None)
    for i in range(ny + 1):
        ax.plot([-0.5, nx * t - 0.5], [i * t - 0.5] * 2, color=color, linewidth=0.8)
    for j in range(nx + 1):
        ax.plot([j * t - 0.5] * 2, [-0.5, ny * t - 0.5], color=color, linewidth=0.8)
    if ny * t < h:
        ax.axhspan(ny * t - 0.5, h - 0.5, color="black", alpha=0.5)
    if nx * t < w:
        ax.axvspan(nx * t - 0.5, w - 0.5, color="black", alpha=0.5)
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    return ny * nx


def _check_errors(errors, weights) -> tuple[np.ndarray, np.ndarray]:
    errors, weights = np.asarray(errors, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    if errors.ndim != 4 or errors.shape[2] != errors.shape[3] or errors.shape[2] % 2 == 0:
        raise ValueError(f"errors must be (H, W, T, T) per-window error maps with an odd T, got shape {errors.shape}")
    if weights.shape != errors.shape[2:]:
        raise ValueError(f"weights must be (T, T) = {errors.shape[2:]}, got shape {weights.shape}")
    return errors, weights


def contributions(errors, weights, y: int, x: int) -> np.ndarray:
    """What every window containing pixel ``(y, x)`` adds to its FCA score, Eq. (5).

    ``out[dy + T//2, dx + T//2]`` belongs to the window centred on ``(y + dy, x + dx)``: the
    window's error at the pixel, ``errors[y + dy, x + dx, T//2 - dy, T//2 - dx]`` (the
    pixel sits at that position inside the window), times the window weight
    ``weights[T//2 - dy, T//2 - dx]`` = ``G_{sigma_p}(x' - x, y' - y)``. Windows whose
    centre falls off the map do not exist and are NaN. ``np.nansum`` of the result is the
    pixel's score: Eq. (5) read for one pixel.

    Parameters
    ----------
    errors : (H, W, T, T) error map of every window (smoothed by ``G_{sigma_s}`` for the
        final formula), window convention of the module docstring
    weights : (T, T) window weights ``G_{sigma_p}``
    y, x : the pixel

    Returns
    -------
    (T, T) float64 array
    """
    errors, weights = _check_errors(errors, weights)
    h, w, t, _ = errors.shape
    if not (0 <= y < h and 0 <= x < w):
        raise ValueError(f"pixel ({y}, {x}) is outside the {h}x{w} map")
    p = t // 2
    out = np.full((t, t), np.nan)
    for dy in range(-p, p + 1):
        for dx in range(-p, p + 1):
            cy, cx = y + dy, x + dx
            if 0 <= cy < h and 0 <= cx < w:
                out[dy + p, dx + p] = errors[cy, cx, p - dy, p - dx] * weights[p - dy, p - dx]
    return out


def contributions_figure(errors, weights, y: int, x: int, picture: np.ndarray | None = None, *,
                         title: str | None = None):
    """The windows containing pixel ``(y, x)``, each with its error map, and their contributions.

    Left: ``picture`` (when given) with the pixel (red) and the region its windows cover
    (orange). Middle: a T x T grid, one panel per window (arranged by the window centre's
    offset from the pixel), showing the window's error map with the pixel outlined and
    its contribution (:func:`contributions`) in the title; windows centred off the map
    are left empty. Right: the contributions as a matrix, titled with their sum, the
    pixel's score.

    Returns
    -------
    matplotlib Figure
    """
    import matplotlib.pyplot as plt

    errors, weights = _check_errors(errors, weights)
    t = errors.shape[2]
    p = t // 2
    contrib = contributions(errors, weights, y, x)
    vmax = float(errors.max()) or 1.0
    left = 1 if picture is not None else 0
    fig = plt.figure(figsize=(2.6 * left + 1.15 * t + 3.0, 1.15 * t + 0.6))
    grid = fig.add_gridspec(t, t + 3 * left + 3, wspace=0.15, hspace=0.45)
    if picture is not None:
        ax = fig.add_subplot(grid[:, 0:3])
        ax.imshow(picture, cmap="gray" if np.asarray(picture).ndim == 2 else None)
        draw_window(ax, y, x, 2 * t - 1, color="orange")
        draw_window(ax, y, x, 1, color="red")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"pixel (y={y}, x={x})", fontsize=9)
    for dy in range(-p, p + 1):
        for dx in range(-p, p + 1):
            ax = fig.add_subplot(grid[dy + p, 3 * left + dx + p])
            ax.set_xticks([])
            ax.set_yticks([])
            value = contrib[dy + p, dx + p]
            if not np.isfinite(value):
                ax.axis("off")
                continue
            ax.imshow(errors[y + dy, x + dx], cmap="Reds", vmin=0, vmax=vmax)
            draw_window(ax, p - dy, p - dx, 1, color="blue", linewidth=1.2)
            ax.set_title(f"{value:.4f}", fontsize=7, pad=2)
    ax = fig.add_subplot(grid[:, 3 * left + t + 1:])
    show_matrix(ax, contrib, fmt="{:.3f}", cmap="Reds", vmin=0, fontsize=6,
                title=f"contributions\nsum = S = {np.nansum(contrib):.4f}")
    fig.suptitle(title or "each window containing the pixel: its error map (pixel in blue) and "
                 "G_σp · error at the pixel", fontsize=9)
    return fig


def pixel_explorer(errors, weights, picture: np.ndarray | None = None, *, y: int | None = None,
                   x: int | None = None, title: str | None = None):
    """An ipywidgets explorer: pick a pixel, see every window containing it and its contribution.

    Two sliders choose the pixel; on every change an HTML line states the pixel, how
    many windows contain it and the sum of their contributions (its FCA score), and an
    ``Output`` widget redraws :func:`contributions_figure`.

    Parameters
    ----------
    errors, weights : as in :func:`contributions`
    picture : optional (H, W[, 3]) picture of the map, drawn on the left
    y, x : the first pixel (default: the map's centre)
    title : figure title (default: a description of the panels)

    Returns
    -------
    (container, controls) -- the ``VBox`` to display, and a dict with the ``"y"`` and
    ``"x"`` ``IntSlider``, the ``"summary"`` ``HTML`` and the ``"output"`` ``Output``
    widgets. The summary states the sum of the contributions that :func:`contributions`
    gives for the chosen pixel.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    errors, weights = _check_errors(errors, weights)
    h, w = errors.shape[:2]
    y = h // 2 if y is None else int(y)
    x = w // 2 if x is None else int(x)
    controls = {
        "y": widgets.IntSlider(value=y, min=0, max=h - 1, description="pixel y", continuous_update=False),
        "x": widgets.IntSlider(value=x, min=0, max=w - 1, description="pixel x", continuous_update=False),
        "summary": widgets.HTML(),
        "output": widgets.Output(),
    }

    def update(_change=None) -> None:
        py, px = controls["y"].value, controls["x"].value
        contrib = contributions(errors, weights, py, px)
        n = int(np.isfinite(contrib).sum())
        controls["summary"].value = (f"pixel (y={py}, x={px}) lies in <b>{n}</b> windows; the sum of their "
                                     f"contributions, its FCA score S, is <b>{np.nansum(contrib):.6f}</b>")
        out = controls["output"]
        out.clear_output(wait=True)
        with out:
            fig = contributions_figure(errors, weights, py, px, picture, title=title)
            display(fig)
            plt.close(fig)

    controls["y"].observe(update, names="value")
    controls["x"].observe(update, names="value")
    update()
    container = widgets.VBox([widgets.HBox([controls["y"], controls["x"]]), controls["summary"], controls["output"]])
    return container, controls


def sww_vs_fca(sww, fca, mask, t: int) -> dict[str, float]:
    """Where SWW (Eq. 4) and FCA (Eq. 5) put a defect's score, counted on one map.

    Both maps must share their window weights, so that they spread the same errors
    (SWW onto window centres, FCA onto the pixels the values came from). The ring is
    the pixels within ``T // 2`` (Chebyshev distance) of the defect but outside it:
    the centres of windows that reach into the defect without being centred on it.

    Parameters
    ----------
    sww, fca : (H, W) maps
    mask : (H, W) bool ground truth, not empty, not the whole map
    t : the window side T

    Returns
    -------
    dict with ``defect`` and ``ring`` (pixel counts), ``fca_higher_in_defect`` and
    ``sww_higher_in_ring`` (pixel counts), ``fca_share`` and ``sww_share`` (percent of
    each map's total score that lies inside the defect)

    >>> m = np.zeros((7, 7), bool); m[3, 3] = True
    >>> s = np.zeros((7, 7)); s[2:5, 2:5] = 1.0      # SWW spreads the defect over its windows' centres
    >>> f = np.zeros((7, 7)); f[3, 3] = 9.0          # FCA sends it back to the pixel
    >>> d = sww_vs_fca(s, f, m, 3)
    >>> d["defect"], d["ring"], d["fca_higher_in_defect"], d["sww_higher_in_ring"], d["fca_share"], round(d["sww_share"], 1)
    (1, 8, 1, 8, 100.0, 11.1)
    """
    sww, fca, mask = np.asarray(sww, np.float64), np.asarray(fca, np.float64), np.asarray(mask, bool)
    if not (sww.shape == fca.shape == mask.shape and mask.ndim == 2):
        raise ValueError(f"sww {sww.shape}, fca {fca.shape} and mask {mask.shape} must be (H, W) maps of one shape")
    if not mask.any() or mask.all():
        raise ValueError("mask must mark some pixels as defective and leave others normal")
    ring = ndimage.binary_dilation(mask, np.ones((2 * (t // 2) + 1,) * 2, bool)) & ~mask
    return {
        "defect": int(mask.sum()),
        "ring": int(ring.sum()),
        "fca_higher_in_defect": int((fca[mask] > sww[mask]).sum()),
        "sww_higher_in_ring": int((sww[ring] > fca[ring]).sum()),
        "fca_share": 100 * float(fca[mask].sum() / fca.sum()),
        "sww_share": 100 * float(sww[mask].sum() / sww.sum()),
    }


def sww_vs_fca_takeaway(counts: dict[str, float], label: str, t: int) -> str:
    """Markdown bullets on :func:`sww_vs_fca`'s counts for the example ``label``.

    >>> print(sww_vs_fca_takeaway(dict(defect=10, ring=20, fca_higher_in_defect=9, sww_higher_in_ring=15,
    ...                                fca_share=40.0, sww_share=30.0), "grass/hole/000", 5))
    * Inside the defect of `grass/hole/000`, FCA's score is higher than SWW's at 9 of 10 pixels; in the ring of pixels at most 2 pixels outside it, SWW's is higher at 15 of 20.
    * Share of each map's total score that lies inside the defect: FCA 40.00 %, SWW 30.00 %; FCA keeps more of it on the defect.
    """
    more = ("FCA keeps more of it on the defect" if counts["fca_share"] > counts["sww_share"] else
            "SWW keeps more of it on the defect" if counts["sww_share"] > counts["fca_share"] else "the same")
    return "\n".join([
        f"* Inside the defect of `{label}`, FCA's score is higher than SWW's at {counts['fca_higher_in_defect']} of "
        f"{counts['defect']} pixels; in the ring of pixels at most {t // 2} pixels outside it, SWW's is higher at "
        f"{counts['sww_higher_in_ring']} of {counts['ring']}.",
        f"* Share of each map's total score that lies inside the defect: FCA {num(counts['fca_share'])} %, "
        f"SWW {num(counts['sww_share'])} %; {more}.",
    ])
