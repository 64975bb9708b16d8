"""Pictures of anomaly maps as in the paper (Appendix B.2): the "Reds" colour map.

Scores are mapped linearly to [0, 1] with one scale for a whole texture class
(:func:`class_normalizer`), borders ignored when finding the range and clipped
afterwards, then coloured with matplotlib's "Reds".
"""
from __future__ import annotations

import numpy as np

__all__ = ["class_normalizer", "range_normalizer", "inner_range", "colorize", "overlay", "comparison_grid"]


def range_normalizer(lo: float, hi: float):
    """Return ``f(map) -> [0, 1]`` mapping ``lo`` and ``hi`` to 0 and 1, clipping beyond (a constant range maps to 0).

    >>> range_normalizer(1.0, 3.0)(np.array([0.0, 2.0, 5.0])).tolist()
    [0.0, 0.5, 1.0]
    """
    lo, hi = float(lo), float(hi)
    span = hi - lo if hi > lo else 1.0
    return lambda m: np.clip((np.asarray(m, dtype=np.float32) - lo) / span, 0.0, 1.0)


def inner_range(scores, border: int = 0) -> tuple[float, float]:
    """Min and max of one map without ``border`` pixels on each side."""
    m = np.asarray(scores)
    inner = m[border : m.shape[0] - border, border : m.shape[1] - border]
    return float(inner.min()), float(inner.max())


def class_normalizer(maps, border: int = 0):
    """Return ``f(map) -> [0, 1]`` mapping the class-wide min and max (borders ignored) to 0 and 1."""
    ranges = [inner_range(m, border) for m in maps]
    return range_normalizer(min(lo for lo, _ in ranges), max(hi for _, hi in ranges))


def colorize(normalized: np.ndarray, cmap: str = "Reds") -> np.ndarray:
    """Colour a [0, 1] map with a matplotlib colour map; returns (H, W, 3) uint8."""
    from matplotlib import colormaps

    rgba = colormaps[cmap](np.clip(normalized, 0, 1))
    return (rgba[..., :3] * 255).round().astype(np.uint8)


def overlay(image: np.ndarray, normalized: np.ndarray, alpha: float = 0.6, cmap: str = "Reds") -> np.ndarray:
    """Blend a coloured [0, 1] map over an image; opacity grows with the score. (H, W, 3) uint8."""
    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    img = img[..., :3]
    if img.dtype != np.uint8:
        img = (np.clip(img.astype(np.float32) / (65535.0 if img.dtype == np.uint16 else 1.0), 0, 1) * 255).astype(np.uint8)
    if img.shape[:2] != normalized.shape:
        raise ValueError(f"image {img.shape[:2]} and map {normalized.shape} differ in size")
    weight = (alpha * np.clip(normalized, 0, 1))[..., None]
    blended = img.astype(np.float32) * (1 - weight) + colorize(normalized, cmap).astype(np.float32) * weight
    return blended.round().astype(np.uint8)



def comparison_grid(images, masks, maps: dict, normalizers: dict | None = None, thresholds: dict | None = None,
                    border: int = 0, row_labels=None, cell_size: float = 2.0):
    """The paper's qualitative comparisons: Figure 5 (maps) and Figure 8 (F1-optimal contours).

    Parameters
    ----------
    images : list of (H, W[, 3]) uint8 images; masks : list of (H, W) bool ground truths.
    maps : dict method name -> list of (H, W) anomaly maps, one per image.
    normalizers : dict method -> :func:`class_normalizer` result, or a list of them, one per
        row (Figure 5: "Reds" maps, one colour scale per class and method). Give this or
        ``thresholds``.
    thresholds : dict method -> score threshold, or a list, one per row (Figure 8: the region
        above the class's F1-optimal threshold is outlined in blue on the image; ground truth
        in black).
    border : pixels cropped from each side before showing ("shown after cropping to center").
    row_labels : optional label per row.

    Returns
    -------
    matplotlib Figure with columns image, ground truth (Figure 5 only), one per method.
    """
    import matplotlib.pyplot as plt

    if (normalizers is None) == (thresholds is None):
        raise ValueError("comparison_grid: give either normalizers (Figure 5 maps) or thresholds (Figure 8 contours)")
    methods = list(maps)
    for name in methods:
        if len(maps[name]) != len(images):
            raise ValueError(f"maps[{name!r}] has {len(maps[name])} maps for {len(images)} images")
    crop = (slice(border, -border or None),) * 2
    first = ["image"] + (["ground truth"] if normalizers is not None else [])
    columns = first + methods
    fig, axes = plt.subplots(len(images), len(columns), squeeze=False,
                             figsize=(len(columns) * cell_size, len(images) * cell_size))
    for i, (image, mask) in enumerate(zip(images, masks)):
        image, mask = np.asarray(image)[crop], np.asarray(mask, bool)[crop]
        row = axes[i]
        row[0].imshow(image, cmap="gray")
        if thresholds is not None and mask.any():
            row[0].contour(mask, levels=[0.5], colors="black", linewidths=0.8)
        if normalizers is not None:
            row[1].imshow(mask, cmap="gray", vmin=0, vmax=1)
        for j, name in enumerate(methods, len(first)):
            scores = np.asarray(maps[name][i])
            if normalizers is not None:
                normalize = normalizers[name][i] if isinstance(normalizers[name], list) else normalizers[name]
                row[j].imshow(colorize(normalize(scores)[crop]))
            else:
                row[j].imshow(image, cmap="gray")
                if mask.any():
                    row[j].contour(mask, levels=[0.5], colors="black", linewidths=0.6)
                threshold = thresholds[name][i] if isinstance(thresholds[name], list) else thresholds[name]
                above = scores[crop] >= threshold
                if above.any() and not above.all():
                    row[j].contour(above, levels=[0.5], colors="tab:blue", linewidths=1.0)
        for j, ax in enumerate(row):
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(columns[j], fontsize=9)
        if row_labels is not None:
            row[0].set_ylabel(row_labels[i], fontsize=8)
    fig.tight_layout()
    return fig
