"""Which image each row of Figures 5 and 8 shows, what it gets wrong, and the text about it.

The paper's Figures 5 and 8 show "challenging examples", one per row, without saying how
they were chosen. Here the choice is a stated rule, so that a figure is neither a
best case nor a worst case:

**Rule.** For each class, every defective test image of the evaluated selection gets its
*per-image PRO* (:func:`per_image_pro`) under the map of the selecting method (FCA,
"Ours"); the row shows the image whose per-image PRO is the class's median
(:func:`median_key`: the lower median when the count is even; equal values are ordered by
the image's name ``defect/stem``, so the choice is deterministic).

For Figure 8 (regions above the class's F1-optimal threshold, Appendix B.2),
:func:`threshold_errors` measures what the outline gets wrong on the shown image: how much
of the marked area is outside the ground truth (false positives), how much of that lies
next to the defect (an outline wider than the annotation) rather than away from it
(detections on normal texture), and how much of the defect is missed.
:func:`figure58_takeaway` turns the table of these numbers into the text under the figures.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy import ndimage

from ..evaluation import metrics
from .prose import count, num

__all__ = ["per_image_pro", "median_key", "threshold_errors", "protocol_caption", "figure58_takeaway"]


def per_image_pro(scores: np.ndarray, mask: np.ndarray, border: int = 0, fpr_limit: float = 0.3) -> float:
    """PRO of one image: the class metric of Sec. 4.2 computed on that image alone.

    The PRO curve of MVTec AD's evaluation (mean overlap of the 8-connected ground-truth
    regions of this image against the false-positive rate over this image's normal
    pixels), integrated up to ``fpr_limit`` and divided by it
    (:func:`fca_utils.evaluation.metrics.au_pro` with one map), after cropping ``border``
    pixels. In [0, 1].
    """
    mask = np.asarray(mask, bool)
    if not mask.any():
        raise ValueError("per_image_pro needs a defective image (the mask is empty)")
    return metrics.au_pro([scores], [mask], fpr_limit=fpr_limit, border=border)


def median_key(values: Mapping[str, float]) -> str:
    """The key whose value is the median: lower median for an even count, ties by key.

    >>> median_key({"b/001": 0.7, "a/000": 0.5, "c/000": 0.9, "a/001": 0.7})
    'a/001'
    """
    if not values:
        raise ValueError("median_key needs at least one value")
    ranked = sorted(values, key=lambda k: (float(values[k]), k))
    return ranked[(len(ranked) - 1) // 2]


def threshold_errors(scores: np.ndarray, mask: np.ndarray, threshold: float, border: int = 0,
                     near: float = 0.05) -> dict[str, float]:
    """What the region above ``threshold`` gets wrong on one image, in percent.

    Inside the evaluated area (``border`` cropped):

    - ``marked``: the image area at or above the threshold;
    - ``false positive``: the share of the marked area outside the ground truth (NaN when
      nothing is marked);
    - ``near defect``: the share of those false positives within ``near`` × the image side
      of the ground truth (an outline wider than the annotation) rather than farther away
      (detections on normal texture) (NaN without false positives);
    - ``missed``: the share of the ground truth below the threshold.
    """
    scores = metrics.crop_border(metrics.upsample_to(scores, np.asarray(mask).shape), border)
    mask = metrics.crop_border(np.asarray(mask, bool), border)
    above = scores >= threshold
    false_pos = above & ~mask
    reach = near * max(mask.shape)
    close = ndimage.distance_transform_edt(~mask) <= reach if mask.any() else np.zeros_like(mask)
    share = lambda part, whole: 100.0 * part.sum() / whole.sum() if whole.any() else float("nan")  # noqa: E731
    return {"marked": 100.0 * above.mean(), "false positive": share(false_pos, above),
            "near defect": share(false_pos & close, false_pos), "missed": share(mask & ~above, mask)}


def protocol_caption(dataset, backbone: str, images: str | None = None) -> str:
    """What a figure or table was made with: dataset, protocol, (which images,) backbone.

    ``"embedded; protocol: full resolution, T from the feature size, 10 % border; 6 test
    images per class; backbone efficientnet_lite0"`` (``images`` is free text, left out when
    None).
    """
    p = dataset.protocol
    size = "full resolution" if p.image_size is None else f"{p.image_size}²"
    window = "T from the feature size" if p.patch_size is None else f"T = {p.patch_size}"
    border = f"{100 * p.border:g} % border" if isinstance(p.border, float) else f"{p.border} px border"
    return "; ".join(x for x in (dataset.name, f"protocol: {size}, {window}, {border}", images, f"backbone {backbone}")
                     if x)


def figure58_takeaway(table, *, method: str = "Ours", other: str = "Aota et al.", low: float = 50.0,
                      most: float = 50.0) -> str:
    """Markdown bullets on the images of Figures 5 and 8, every number taken from ``table``.

    ``table``: one row per shown image (``"<class>/<defect>/<stem>"``), columns
    ``defective`` (images the median was taken over), ``"<m> PRO"`` (per-image PRO, %) and
    ``"<m> false positive"``, ``"<m> near defect"``, ``"<m> missed"``
    (:func:`threshold_errors`, %) for ``m`` in ``method``, ``other``. Names the rows whose
    ``method`` PRO is below ``low``, where ``method`` and ``other`` mark mostly (over
    ``most`` %) normal pixels and whether those lie next to the defect or away from it, and
    the rows where more than ``most`` % of the defect is missed.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"defective": [4, 4], "Ours PRO": [40.0, 90.0], "Aota et al. PRO": [30.0, 85.0],
    ...                   "Ours false positive": [70.0, 10.0], "Ours near defect": [20.0, 90.0],
    ...                   "Ours missed": [60.0, 5.0], "Aota et al. false positive": [80.0, 20.0],
    ...                   "Aota et al. near defect": [95.0, 50.0], "Aota et al. missed": [10.0, 10.0]},
    ...                  index=["a/x/000", "b/y/001"])
    >>> print(figure58_takeaway(t).splitlines()[0])
    * Per-image PRO of Ours on the shown (median) images: lowest `a/x/000` (40.00), highest `b/y/001` (90.00); 1 of 2 images (a/x/000) below 50 PRO, where the class's typical image is a failure.
    """
    t = table
    rows = list(t.index)
    pro = {r: float(t.loc[r, f"{method} PRO"]) for r in rows}
    lo, hi = min(pro, key=pro.get), max(pro, key=pro.get)
    failing = [r for r in rows if pro[r] < low]
    lines = [f"* Per-image PRO of {method} on the shown (median) images: lowest `{lo}` ({num(pro[lo])}), highest "
             f"`{hi}` ({num(pro[hi])}); {count(failing, len(rows), 'images')} below {low:g} PRO"
             + (", where the class's typical image is a failure." if failing else ".")]
    better = [r for r in rows if pro[r] > float(t.loc[r, f"{other} PRO"])]
    lines.append(f"* On these images {method} has the higher per-image PRO than {other} in "
                 f"{count(better, len(rows), 'images')}.")
    for m in (method, other):
        fp = {r: float(t.loc[r, f"{m} false positive"]) for r in rows}
        mostly = [r for r in rows if fp[r] > most]
        near = [r for r in mostly if float(t.loc[r, f"{m} near defect"]) > most]
        away = [r for r in mostly if r not in near]
        text = (f"* {m} at its class's F1-optimal threshold (Figure 8): the outline is mostly (over {most:g} %) "
                f"on normal pixels in {count(mostly, len(rows), 'images')}")
        if mostly:
            text += (f"; of these, the false positives lie mostly next to the defect (an outline wider than the "
                     f"annotation) in {count(near, len(mostly))} and mostly away from it (detections on normal "
                     f"texture) in {count(away, len(mostly))}")
        missed = [r for r in rows if float(t.loc[r, f"{m} missed"]) > most]
        lines.append(text + f". It misses more than half of the defect in {count(missed, len(rows), 'images')}.")
    return "\n".join(lines)
