"""Failure cases and ambiguous ground truth (paper Sec. 5, Appendix C; Figures 6 and 7).

Helpers that build the paper's failure cases from a dataset: a crop in which one defect
covers most of the image (:func:`crop_around_defect`, :func:`center_crop`,
:func:`largest_defect_entry`), the defect-free texture under an embedded defect
(:func:`clean_image`), other plausible annotations of the same defect
(:func:`annotation_variants`, :func:`seam_mask`), the evidence that an annotated region
is normal texture that was only moved (:func:`displaced_copy`), their metrics (:func:`case_metrics`), a figure grid
(:func:`plot_cases`) and the takeaways generated from the tables of notebook 08
(:func:`figure7_takeaway`, :func:`figure6_takeaway`).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..datasets.dataset import Dataset
from ..datasets.layout import Entry
from ..evaluation import metrics
from ..evaluation.runs import configure
from ..pipeline import localize
from .prose import backbone_sentence, num, points, signed, verdict

__all__ = [
    "center_crop", "crop_around_defect", "largest_defect_entry", "clean_image",
    "visible_change_mask", "thickness_radius", "seam_mask", "displaced_copy", "annotation_variants", "count_regions", "case_metrics",
    "case_maps", "plot_cases",
    "SEPARATOR", "figure7_takeaway", "displacement_sentence", "figure6_takeaway",
]

#: Between the case and the method (Figure 7) or the annotation (Figure 6) in a table row label.
SEPARATOR = " · "

def center_crop(image: np.ndarray, mask: np.ndarray, side: int):
    """The central ``side x side`` crop of an image and its mask (Figure 7: MVTec tile, 512).

    Returns
    -------
    image, mask, box
        Cropped arrays and ``(y0, y1, x0, x1)``.
    """
    h, w = mask.shape
    if side > min(h, w):
        raise ValueError(f"crop side {side} is larger than the {h}x{w} image")
    y0, x0 = (h - side) // 2, (w - side) // 2
    box = (y0, y0 + side, x0, x0 + side)
    return image[y0:y0 + side, x0:x0 + side], mask[y0:y0 + side, x0:x0 + side], box


def crop_around_defect(image: np.ndarray, mask: np.ndarray, coverage: float = 0.5, multiple: int = 32,
                       min_side: int = 64):
    """A square crop centred on the defect in which the defect covers at least ``coverage``.

    Figure 7 (third row) shows that FCA fails when the anomaly covers most of the image:
    the median reference (Eq. 7) is then computed mostly from defective windows. The
    paper makes such an image by centre-cropping an MVTec AD tile image (512 x 512);
    this makes one from any defective image: among the sides ``min_side``,
    ``min_side + multiple``, ... up to the image size, it takes the *largest* crop,
    centred on the mask's centre of mass (shifted to stay inside the image), whose
    defect coverage is at least ``coverage``; if none reaches it, the crop with the
    highest coverage.

    Returns
    -------
    image, mask, box, coverage
        Cropped arrays, ``(y0, y1, x0, x1)`` and the fraction of the crop in the mask.
    """
    mask = np.asarray(mask, bool)
    if not mask.any():
        raise ValueError("crop_around_defect needs a defective image (the mask is empty)")
    if not 0 < coverage <= 1:
        raise ValueError(f"coverage must be in (0, 1], got {coverage}")
    h, w = mask.shape
    cy, cx = ndimage.center_of_mass(mask)
    best = None
    for side in range(min_side, min(h, w) + 1, multiple):
        y0 = int(np.clip(round(cy - side / 2), 0, h - side))
        x0 = int(np.clip(round(cx - side / 2), 0, w - side))
        cov = float(mask[y0:y0 + side, x0:x0 + side].mean())
        box = (y0, y0 + side, x0, x0 + side)
        if cov >= coverage:
            best = (box, cov, True)  # keep growing: the largest crop that still qualifies
        elif best is None or (not best[2] and cov > best[1]):
            best = (box, cov, False)
    (y0, y1, x0, x1), cov, _ = best
    return image[y0:y1, x0:x1], mask[y0:y1, x0:x1], (y0, y1, x0, x1), cov


def largest_defect_entry(dataset: Dataset, cls: str, side: int | None = None, defect_types=None) -> Entry:
    """The defective test image of ``cls`` whose mask covers the largest area.

    With ``side``, the area inside the central ``side x side`` crop counts (the paper's
    Figure 7 crops MVTec AD tile images to 512 x 512). ``defect_types`` restricts the
    search. Ties go to the first entry (sorted by defect type and name).
    """
    best, best_area = None, -1.0
    for entry in dataset.entries(cls):
        if entry.mask_path is None or (defect_types is not None and entry.defect_type not in defect_types):
            continue
        mask = dataset.load(entry).mask
        if side is not None:
            mask = center_crop(mask, mask, min(side, *mask.shape))[1]
        area = float(mask.mean())
        if area > best_area:
            best, best_area = entry, area
    if best is None:
        raise ValueError(f"{dataset.name}/{cls} has no defective test image" +
                         (f" of type {list(defect_types)}" if defect_types else ""))
    return best


def clean_image(cls: str, defect_type: str, stem: str, seed: int = 0, check: np.ndarray | None = None) -> np.ndarray:
    """The defect-free texture under an embedded test image (uint8 ``(H, W, 3)``).

    The embedded benchmark (:mod:`fca_utils.datasets.synthetic`) plants each defect into a
    rendered clean texture; this renders the class again with the same ``seed`` and
    returns the clean texture of image ``<cls>/test/<defect_type>/<stem>``. With
    ``check`` (the image as read from disk), raises if the re-rendered defective image
    differs from it (other library versions can change the rendering).
    """
    from ..datasets import synthetic

    spec = next((s for s in synthetic.CLASSES if s.name == cls), None)
    if spec is None:
        raise ValueError(f"unknown embedded class {cls!r}; expected one of {synthetic.CLASS_NAMES}")
    for sample in synthetic.render_class(spec, seed):
        if sample.split == "test" and sample.defect_type == defect_type and sample.stem == stem:
            if check is not None and not np.array_equal(sample.image, np.asarray(check)):
                raise RuntimeError(f"re-rendered {cls}/{defect_type}/{stem} differs from the file on disk "
                                   f"(seed {seed}); the benchmark was made with other library versions")
            return sample.clean
    raise ValueError(f"the embedded class {cls!r} has no test image {defect_type}/{stem}")


def visible_change_mask(image: np.ndarray, clean: np.ndarray, threshold: float = 8.0, sigma: float = 1.5):
    """Pixels where the defect visibly changes the texture: an alternative annotation.

    The embedded masks mark every pixel whose 8-bit colour changed at all
    (:mod:`fca_utils.datasets.defects`), including soft edges that change by one or two grey
    levels and that no annotator would see. Here: the largest absolute change over the
    RGB channels, smoothed by a Gaussian of ``sigma`` pixels, at least ``threshold``
    grey levels (of 255).
    """
    diff = np.abs(np.asarray(image, np.float32) - np.asarray(clean, np.float32)).max(axis=-1)
    if sigma:
        diff = ndimage.gaussian_filter(diff, sigma)
    return diff >= threshold


def _disk(radius: int) -> np.ndarray:
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    return yy ** 2 + xx ** 2 <= radius * radius


def _radius(mask: np.ndarray, radius: int | None) -> int:
    """``radius``, default 1 % of the image side, at least 2 pixels."""
    return max(2, int(round(0.01 * min(mask.shape)))) if radius is None else int(radius)


def thickness_radius(mask: np.ndarray) -> int:
    """A quarter of a region's thickness (the diameter of the largest disk inside it), at least 1 pixel.

    The radius at which :func:`seam_mask` and the tight / loose
    :func:`annotation_variants` of a thin band stay distinct: an erosion by it leaves
    half of the band.
    """
    mask = np.asarray(mask, bool)
    if not mask.any():
        raise ValueError("thickness_radius needs a non-empty region")
    half = float(ndimage.distance_transform_edt(np.pad(mask, 1)).max())
    return max(1, int(round(half / 2)))


def seam_mask(mask: np.ndarray, radius: int | None = None) -> np.ndarray:
    """The seams of an annotated region: pixels within ``radius`` of its outline, on either side.

    The other plausible annotation of a *displaced* region (the embedded ``phase`` defect,
    a band of a regular texture shifted by half a period): inside the band the texture is
    normal, only where it meets the unshifted texture is the pattern broken. ``radius``
    defaults to :func:`thickness_radius` (a quarter of the band's thickness).
    """
    mask = np.asarray(mask, bool)
    disk = _disk(thickness_radius(mask) if radius is None else int(radius))
    return ndimage.binary_dilation(mask, disk) & ~ndimage.binary_erosion(mask, disk, border_value=1)


def displaced_copy(image: np.ndarray, clean: np.ndarray, mask: np.ndarray) -> dict:
    """Whether an annotated region is the defect-free texture moved: the best circular shift.

    Among all shifts along y and along x, the one for which the largest share of the
    region's pixels equals the defect-free texture at the shifted place (exact uint8
    equality on all channels). Returns ``changed`` (% of the region's pixels that differ
    from the defect-free texture at the *same* place), ``copied`` (% that equal it at the
    best shift), ``shift`` (pixels) and ``axis`` (``"y"`` or ``"x"``). A region that is a
    moved copy of normal texture has both near 100.
    """
    image, clean, mask = np.asarray(image), np.asarray(clean), np.asarray(mask, bool)
    if image.shape != clean.shape or image.shape[:2] != mask.shape:
        raise ValueError(f"image {image.shape}, clean {clean.shape} and mask {mask.shape} must have the same size")
    if not mask.any():
        raise ValueError("displaced_copy needs a non-empty region")
    ys, xs = np.nonzero(mask)
    inside = image[ys, xs]
    best = (0, 0, "x")
    for axis, n in (("y", mask.shape[0]), ("x", mask.shape[1])):
        for shift in range(1, n // 2 + 1):
            for signed_shift in (shift, -shift):
                src = clean[(ys - signed_shift) % n, xs] if axis == "y" else clean[ys, (xs - signed_shift) % n]
                hits = int(np.all(src == inside, axis=-1).sum())
                if hits > best[0]:
                    best = (hits, signed_shift, axis)
    changed = 100.0 * float(np.any(clean[ys, xs] != inside, axis=-1).mean())
    return {"changed": changed, "copied": 100.0 * best[0] / len(ys), "shift": best[1], "axis": best[2]}


def annotation_variants(mask: np.ndarray, radius: int | None = None, image=None, clean=None,
                        threshold: float = 8.0) -> dict[str, np.ndarray]:
    """Plausible alternative ground truths of one defect (Figure 6: annotations are subjective).

    Returns ``{"given": mask, "tight": eroded, "loose": dilated}`` (disk of ``radius``
    pixels, default 1 % of the image side, at least 2), plus ``"visible"``
    (:func:`visible_change_mask`) when ``image`` and ``clean`` are given. An eroded mask
    that would vanish is replaced by the given one.
    """
    mask = np.asarray(mask, bool)
    disk = _disk(_radius(mask, radius))
    tight = ndimage.binary_erosion(mask, disk)
    out = {"given": mask, "tight": tight if tight.any() else mask, "loose": ndimage.binary_dilation(mask, disk)}
    if image is not None and clean is not None:
        out["visible"] = visible_change_mask(image, clean, threshold)
    return out


def count_regions(mask: np.ndarray) -> int:
    """Number of 8-connected regions of a mask: the regions PRO averages over (Sec. 4.2).

    Every region weighs the same in PRO, so a one-pixel fragment of an annotation counts
    as much as the whole defect.
    """
    return int(ndimage.label(np.asarray(mask, bool), structure=np.ones((3, 3), int))[1])


def case_metrics(scores: np.ndarray, mask: np.ndarray, border: int = 0) -> dict[str, float]:
    """AU-PRO (FPR 0.3), pixel AUROC and F1-max of one image's map (Sec. 4.2), in percent."""
    scores = metrics.upsample_to(scores, np.asarray(mask).shape)
    result = metrics.evaluate([scores], [np.asarray(mask, bool)], border=border)
    return {"PRO": 100 * result["au_pro"], "AUROC": 100 * result["pixel_auroc"], "F1": 100 * result["f1_max"]}


def case_maps(image: np.ndarray, methods: dict, dataset: Dataset, backbone="auto", device=None) -> dict:
    """Anomaly maps of one image by several presets, each under ``dataset``'s protocol.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W, 3)`` uint8 (e.g. a test image or a crop of one).
    methods : dict
        label -> preset name (``"paper"``, ``"paper320"``, ``"paper320_knn"``, ``"aota"``).
        A full-resolution preset gets the protocol's ``T`` for the image's size
        (:func:`fca_utils.evaluation.runs.configure`).
    dataset : Dataset
        Whose protocol applies.
    backbone, device : as in :func:`fca_utils.localize`.

    Returns
    -------
    dict
        label -> float32 ``(H, W)`` map at the image's resolution.
    """
    h, w = np.asarray(image).shape[:2]
    return {label: localize(image, preset=configure(method, dataset, h, w), backbone=backbone, device=device,
                             precision="float32").scores
            for label, method in methods.items()}


def plot_cases(rows, titles, border: int | list = 0, cell: float = 2.0, annotations_on_image: bool = False):
    """A grid of qualitative results as in the paper's Figures 6 and 7.

    Parameters
    ----------
    rows : list of (label, image, masks, maps)
        ``image`` uint8 ``(H, W, 3)``; ``masks`` a dict name -> bool ``(H, W)`` whose first
        entry is the ground truth, drawn as a black contour on every map; ``maps`` a dict
        title -> ``(H, W)`` scores, each coloured with "Reds" over its own range
        (:func:`fca_utils.evaluation.viz.class_normalizer`).
    titles : list of str
        Column titles: input, ground truth, then one per map.
    border : int or list of int (one per row)
        Pixels cut from every side before showing, as the paper shows its figures "after
        cropping to the center" and ignores the border (Appendix B.2; the evaluation
        border of the protocol).
    cell : float
        Inches per panel.
    annotations_on_image : bool
        Second column: the image with one contour per mask (Figure 6) instead of the
        binary ground truth with the other masks as contours (Figure 7).

    Returns
    -------
    matplotlib Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from ..evaluation.viz import class_normalizer, colorize

    styles = [("black", "-"), ("tab:blue", "-"), ("tab:green", "--"), ("tab:orange", ":"), ("tab:purple", "-.")]
    ncols = 2 + max(len(r[3]) for r in rows)
    fig, axes = plt.subplots(len(rows), ncols, figsize=(ncols * cell, len(rows) * cell), squeeze=False)
    legend = {}
    for i, (label, image, masks, maps) in enumerate(rows):
        b = int(border[i] if isinstance(border, (list, tuple)) else border)
        cut = (slice(b, np.asarray(image).shape[0] - b), slice(b, np.asarray(image).shape[1] - b))
        names = list(masks)
        shown = {n: np.asarray(masks[n], bool)[cut] for n in names}
        gt = shown[names[0]]
        axes[i, 0].imshow(np.asarray(image)[cut])
        if annotations_on_image:
            axes[i, 1].imshow(np.asarray(image)[cut])
            drawn = names
        else:
            axes[i, 1].imshow(gt, cmap="gray", vmin=0, vmax=1)
            drawn = names[1:]
        for name in drawn:
            color, style = styles[names.index(name) % len(styles)]
            if shown[name].any():
                axes[i, 1].contour(shown[name], levels=[0.5], colors=color, linestyles=style, linewidths=0.9)
                legend[name] = (color, style)
        for j, scores in enumerate(maps.values()):
            ax = axes[i, 2 + j]
            scores = np.asarray(scores)[cut]
            ax.imshow(colorize(class_normalizer([scores])(scores)))
            if gt.any():
                ax.contour(gt, levels=[0.5], colors="black", linewidths=0.6)
        for j in range(ncols):
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
            if i == 0 and j < len(titles):
                axes[i, j].set_title(titles[j], fontsize=8)
        axes[i, 0].set_ylabel(label, fontsize=7)
        for j in range(2 + len(maps), ncols):
            axes[i, j].axis("off")
    fig.tight_layout()
    if legend:
        handles = [Line2D([], [], color=c, linestyle=s, label=n) for n, (c, s) in legend.items()]
        fig.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=7, frameon=False,
                   bbox_to_anchor=(0.5, 0.0))
    return fig


# --------------------------------------------------------------------------- takeaways
def _split_rows(table) -> dict[str, dict[str, str]]:
    """case -> {method or annotation: row label}, from labels ``"<case> · <name>"``, in table order."""
    out: dict[str, dict[str, str]] = {}
    for label in table.index:
        case, name = str(label).rsplit(SEPARATOR, 1)
        out.setdefault(case, {})[name] = label
    return out


def figure7_takeaway(table, *, median: str = "Ours (median)", median320: str = "Ours320 (median)",
                     knn: str = "Ours320 + k-NN", found: float = 50.0, noise: float = 2.0,
                     backbone: str | None = None) -> str:
    """Markdown bullets on the Figure 7 failure cases, every number taken from ``table``.

    ``table``: rows ``"<case> · <method>"`` (cases starting "(a)": a bimodal texture, "(b)":
    a defect covering most of the image), columns ``defect %``, ``PRO``, ``AUROC``, ``F1``
    in percent. For (a): the PRO of the median reference at both resolutions and of the
    k-NN reference, and in how many cases k-NN beats the median at the same resolution by
    ``noise`` points. For (b): PRO and AUROC (below 50: an inverted map), whether k-NN
    helps, whether F1-max is the same for every map, and whether the median reference
    fails (PRO below ``found``) as the paper says. ``backbone``: the network that produced
    the features, named in a last bullet.

    >>> import pandas as pd
    >>> rows = [f"(a) t/c/000 · {m}" for m in ("Ours (median)", "Ours320 (median)", "Ours320 + k-NN")]
    >>> t = pd.DataFrame({"defect %": 3.0, "PRO": [30.0, 40.0, 85.0], "AUROC": [70.0, 72.0, 95.0],
    ...                   "F1": [10.0, 20.0, 50.0]}, index=rows)
    >>> print(figure7_takeaway(t))  # doctest: +ELLIPSIS
    * **(a) Bimodal texture, large period.** PRO of the median reference at full resolution / at 320 px, and of k-NN references at 320 px: `t/c/000` 30.00 / 40.00 / 85.00. k-NN beats the median reference at 320 px by at least 2 points in 1 of 1 cases (+45.00): as the paper says, k-NN fixes this failure here.
    """
    t = table
    cases = _split_rows(t)
    lines = []
    bimodal = {c: m for c, m in cases.items() if c.startswith("(a)")}
    if bimodal:
        listing = "; ".join(f"`{c[4:]}` " + " / ".join(num(t.loc[m[k], 'PRO']) for k in (median, median320, knn))
                            for c, m in bimodal.items())
        gains = {c: float(t.loc[m[knn], "PRO"] - t.loc[m[median320], "PRO"]) for c, m in bimodal.items()}
        fixed = [c for c, m in bimodal.items() if verdict(t.loc[m[knn], "PRO"], t.loc[m[median320], "PRO"], noise) > 0]
        verdict_text = ("as the paper says, k-NN fixes this failure here" if len(fixed) == len(bimodal) else
                        "k-NN does not fix this failure in every case here, unlike the paper's example")
        lines.append(f"* **(a) Bimodal texture, large period.** PRO of the median reference at full resolution / at "
                     f"320 px, and of k-NN references at 320 px: {listing}. k-NN beats the median reference at 320 px "
                     f"by at least {points(noise)} in {len(fixed)} of {len(bimodal)} cases "
                     f"({', '.join(signed(g) for g in gains.values())}): {verdict_text}.")
    for case, m in cases.items():
        if not case.startswith("(b)"):
            continue
        rows = [m[k] for k in (median, median320, knn) if k in m]
        inverted = [k for k in (median, median320, knn) if k in m and t.loc[m[k], "AUROC"] < 50]
        text = (f"* **(b) Defect covering most of the image.** `{case[4:]}` is {t.loc[rows[0], 'defect %']:.1f} % "
                f"defective. PRO / pixel AUROC: " + "; ".join(
                    f"{k} {num(t.loc[m[k], 'PRO'])} / {num(t.loc[m[k], 'AUROC'])}" for k in (median, median320, knn)
                    if k in m) + ".")
        if inverted:
            text += f" Pixel AUROC below 50 (an inverted map: normal pixels score higher) for {', '.join(inverted)}."
        if knn in m and median320 in m:
            v = verdict(t.loc[m[knn], "PRO"], t.loc[m[median320], "PRO"], noise)
            text += {1: " k-NN references help", 0: " k-NN references do not help (within noise)",
                     -1: " k-NN references are worse"}[v] + " against the median reference at 320 px."
        f1 = [float(t.loc[r, "F1"]) for r in rows]
        if len(f1) > 1 and max(f1) - min(f1) < 0.005:
            text += (f" F1-max is the same ({num(f1[0])}) for every map, which suggests that its best threshold "
                     "marks nearly every pixel: when most evaluated pixels are defective, that alone scores high.")
        medians = [float(t.loc[m[k], "PRO"]) for k in (median, median320) if k in m]
        text += (" This matches the paper's statement that FCA needs enough normal patches to infer normality."
                 if medians and max(medians) < found else
                 f" Here the median reference still reaches PRO ≥ {found:g}, unlike the paper's example.")
        lines.append(text)
    if backbone is not None:
        lines.append(f"* Here {backbone_sentence(backbone)}.")
    return "\n".join(lines)


def displacement_sentence(case: str, evidence: dict, copied: float = 50.0) -> str:
    """A Markdown bullet on what the annotated region of ``case`` contains (:func:`displaced_copy`).

    >>> print(displacement_sentence("b/phase/000", {"changed": 99.0, "copied": 80.0, "shift": -12, "axis": "x"}))
    * `b/phase/000`: the annotated region is normal texture, moved: 99.0 % of its pixels differ from the defect-free texture at the same place, yet 80.0 % equal the defect-free texture 12 px away along x. Inside, the region is normal texture; only where it meets the unmoved texture is the pattern broken. Its whole area (the given mask) and only those seams are both defensible annotations.
    """
    head = (f"* `{case}`: " + ("the annotated region is normal texture, moved: " if evidence["copied"] >= copied else
                               "the annotated region is not simply moved normal texture: ")
            + f"{evidence['changed']:.1f} % of its pixels differ from the defect-free texture at the same place, "
            f"{'yet ' if evidence['copied'] >= copied else 'and only '}{evidence['copied']:.1f} % equal the "
            f"defect-free texture {abs(int(evidence['shift']))} px away along {evidence['axis']}.")
    if evidence["copied"] >= copied:
        head += (" Inside, the region is normal texture; only where it meets the unmoved texture is the pattern "
                 "broken. Its whole area (the given mask) and only those seams are both defensible annotations.")
    return head


def figure6_takeaway(table, *, methods=("Ours", "Aota"), evidence: dict | None = None) -> str:
    """Markdown bullets on Figure 6: how far the annotation alone moves each image's scores.

    ``table``: rows ``"<image> · <annotation>"`` (the first annotation of an image is the
    given mask), columns ``regions`` and ``"<method> PRO"`` / ``"<method> F1"`` in percent.
    For each image: the range of the first method's PRO and F1 over the annotations (with
    the annotations at both ends), the regions of those annotations, and the difference
    between the methods on the given mask; then in how many images the annotation moves
    PRO more than the choice of the method does. ``evidence``: case -> :func:`displaced_copy`
    result, stated first for each case that has one (:func:`displacement_sentence`).

    >>> import pandas as pd
    >>> idx = ["w/b/000 · given", "w/b/000 · tight"]
    >>> t = pd.DataFrame({"regions": [2, 1], "Ours PRO": [40.0, 87.0], "Ours F1": [50.0, 55.0],
    ...                   "Aota PRO": [39.0, 86.0], "Aota F1": [59.0, 67.0]}, index=idx)
    >>> print(figure6_takeaway(t).splitlines()[0])
    * `w/b/000`: Ours' PRO ranges from 40.00 (given, 2 regions) to 87.00 (tight, 1 region) over the annotations, its F1-max from 50.00 (given) to 55.00 (tight); on the given mask Ours and Aota differ by 1.00 PRO and 9.00 F1-max.
    """
    first, second = methods[0], methods[1]
    cases = _split_rows(table)
    lines = []
    spread = {"PRO": {}, "F1": {}}
    gap = {"PRO": {}, "F1": {}}
    for case, rows in cases.items():
        given = next(iter(rows))
        ends = {}
        for metric in ("PRO", "F1"):
            v = {a: float(table.loc[r, f"{first} {metric}"]) for a, r in rows.items()}
            ends[metric] = (min(v, key=v.get), max(v, key=v.get), v)
            spread[metric][case] = max(v.values()) - min(v.values())
            gap[metric][case] = abs(float(table.loc[rows[given], f"{first} {metric}"]
                                          - table.loc[rows[given], f"{second} {metric}"]))

        def regions(a, rows=rows):
            n = int(table.loc[rows[a], "regions"])
            return f"{n} region" + ("" if n == 1 else "s")

        lo, hi, pro = ends["PRO"]
        flo, fhi, f1 = ends["F1"]
        if evidence and case in evidence:
            lines.append(displacement_sentence(case, evidence[case]))
        lines.append(f"* `{case}`: {first}' PRO ranges from {num(pro[lo])} ({lo}, {regions(lo)}) to {num(pro[hi])} "
                     f"({hi}, {regions(hi)}) over the annotations, its F1-max from {num(f1[flo])} ({flo}) to "
                     f"{num(f1[fhi])} ({fhi}); on the {given} mask {first} and {second} differ by "
                     f"{num(gap['PRO'][case])} PRO and {num(gap['F1'][case])} F1-max.")
    more = {m: [c for c in cases if spread[m][c] > gap[m][c]] for m in spread}
    every = all(c in more["PRO"] or c in more["F1"] for c in cases)
    lines.append(f"* Changing only the annotation moves {first}' PRO by up to {num(max(spread['PRO'].values()))} and "
                 f"its F1-max by up to {num(max(spread['F1'].values()))} points. It moves them more than the choice "
                 f"between {first} and {second} does in {len(more['PRO'])} of {len(cases)} images for PRO and "
                 f"{len(more['F1'])} of {len(cases)} for F1-max"
                 + (". On every image the annotation matters more than the method in at least one metric: "
                    "differences between methods of a point or two on single images lie within this uncertainty, "
                    "as the paper's Figure 6 argues." if every else
                    "; the paper's point that annotations are subjective shows less clearly here."))
    return "\n".join(lines)
