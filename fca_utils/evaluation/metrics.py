"""Anomaly localization metrics: AU-PRO, pixel AUROC, F1-max and image AUROC.

These are the metrics of Section 4.2 of the paper, computed as MVTec AD's
official evaluation script defines them (Bergmann et al., "The MVTec Anomaly
Detection Dataset", IJCV 2021): the per-region-overlap (PRO) curve over the
8-connected components of the ground-truth masks, integrated up to a false
positive rate of 0.3 and divided by 0.3; pixel AUROC and F1-max over all pixels
of a class as :mod:`sklearn.metrics` computes them; image AUROC with the image
score taken as the maximum of its anomaly map.

Protocol (paper, Section 4, as in MVTec AD's evaluation script): a map whose shape differs from its mask is
first resized to the mask resolution with :func:`upsample_to`; then ``border``
pixels are cropped from both (:func:`crop_border`). Masks are binarized with
``> 0``; ``None`` stands for a good image (all-zero mask). Anomaly scores are
handled as float32.

How a whole class fits in memory
--------------------------------
Every pixel metric here is a function of the cumulative counts at each distinct
score ``t`` (taken in descending order, as the official script does after
merging equal scores):

* ``FP(t)`` normal pixels with score >= t,
* ``TP(t)`` anomalous pixels with score >= t,
* ``O(t)`` the sum of ``1 / |r|`` over the anomalous pixels with score >= t,
  where ``|r|`` is the size of the region the pixel belongs to.

Instead of arg-sorting all pixels, the normal scores are sorted by value (no
index array) and only the anomalous scores, usually a small fraction, are
arg-sorted together with their region weights. The distinct thresholds are then
visited in blocks of about ``_BLOCK_SIZE`` normal pixels, and the counts at each
threshold come from binary searches in the two sorted arrays. Metrics consume
the blocks as they stream by. Evaluating 120 maps of 1024 x 1024 pixels (126 M
pixels, 4 % anomalous) takes about 0.8 GiB beyond the maps themselves: float32
normal scores, boolean masks and per-block temporaries.

Examples
--------
>>> import numpy as np
>>> mask = np.zeros((8, 8), dtype=np.uint8); mask[2:4, 2:5] = 255
>>> perfect = (mask > 0).astype(np.float32)
>>> round(au_pro([perfect], [mask]), 12), pixel_auroc([perfect], [mask])
(1.0, 1.0)
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np
import torch
from scipy import ndimage
from sklearn.metrics import roc_auc_score

from ..core.ops import resize

__all__ = [
    "au_pro",
    "pro_curve",
    "pixel_auroc",
    "f1_max",
    "image_auroc",
    "crop_border",
    "upsample_to",
    "evaluate",
]

ArrayLike = Any  # numpy array, torch tensor or nested sequence of shape (H, W)
MaskLike = Union[ArrayLike, None]

#: Normal pixels per block of thresholds while streaming the curves.
_BLOCK_SIZE = 1 << 22
#: 8-connectivity for the ground-truth regions, as in the official script.
_STRUCTURE = np.ones((3, 3), dtype=int)


# ----------------------------------------------------------------------------
# Resizing and cropping
# ----------------------------------------------------------------------------
def _as_numpy(array: ArrayLike) -> np.ndarray:
    """Return ``array`` as a numpy array (torch tensors are moved to the CPU)."""
    if hasattr(array, "detach"):
        array = array.detach().cpu().numpy()
    return np.asarray(array)


def _check_border(border: int) -> int:
    if isinstance(border, bool) or not float(border).is_integer() or border < 0:
        raise ValueError(f"border must be a non-negative integer number of pixels, got {border!r}")
    return int(border)


def _check_border_fits(border: int, shape: tuple[int, ...], what: str) -> None:
    if 2 * border >= min(shape[0], shape[1]):
        raise ValueError(
            f"border={border} leaves no pixels of {what} with shape {tuple(shape)}; "
            f"expected border < {(min(shape[0], shape[1]) + 1) // 2} (half the smaller side)"
        )


def crop_border(array: ArrayLike, border: int) -> ArrayLike:
    """Remove ``border`` pixels from each side of the first two axes.

    Parameters
    ----------
    array : numpy array or torch tensor, shape (H, W, ...)
        Map or mask to crop.
    border : int
        Pixels removed on each side; 0 returns ``array`` unchanged.

    Returns
    -------
    The view ``array[border:-border, border:-border]`` of shape
    ``(H - 2 * border, W - 2 * border, ...)``.

    Examples
    --------
    >>> crop_border(np.zeros((10, 12)), 2).shape
    (6, 8)
    """
    border = _check_border(border)
    if border == 0:
        return array
    if len(array.shape) < 2:
        raise ValueError(f"crop_border needs an array with at least 2 dimensions, got shape {tuple(array.shape)}")
    _check_border_fits(border, tuple(array.shape), "an array")
    return array[border:-border, border:-border]


def upsample_to(map: ArrayLike, shape: tuple[int, int]) -> np.ndarray:
    """Bilinearly resize a 2-D map to ``shape`` (``align_corners=False``).

    :func:`fca_utils.core.ops.resize` (``torch.nn.functional.interpolate``, bilinear,
    ``align_corners=False``, no antialiasing) on a NumPy map: how every map is brought to
    its mask's resolution before scoring; works for up- and down-sampling.

    Parameters
    ----------
    map : array-like, shape (h, w)
        Anomaly map (numpy array or torch tensor).
    shape : tuple of int
        Target ``(H, W)``, usually the mask's shape.

    Returns
    -------
    numpy.ndarray, shape (H, W)
        Float32 (float64 if the map is float64). A map already at ``shape`` is
        returned unchanged (as a numpy array).

    Examples
    --------
    >>> upsample_to(np.array([[0.0, 1.0]]), (1, 4))
    array([[0.  , 0.25, 0.75, 1.  ]])
    """
    array = _as_numpy(map)
    if array.ndim != 2:
        raise ValueError(f"upsample_to expects a 2-D (h, w) map, got shape {array.shape}")
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"shape must be a pair of positive sizes (H, W), got {tuple(shape)}")
    if array.shape == tuple(shape):
        return array
    if array.dtype != np.float64:
        array = array.astype(np.float32)
    return resize(torch.from_numpy(np.ascontiguousarray(array)), tuple(shape)).numpy()


# ----------------------------------------------------------------------------
# Input validation and preparation
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Mask:
    """One binarized ground truth: target shape, cropped mask, image label."""

    shape: tuple[int, int]
    pixels: np.ndarray  # bool, cropped
    anomalous: bool  # any positive pixel in the cropped mask (the FCA authors' evaluation)


def _shape_2d(array: ArrayLike, name: str) -> tuple[int, int]:
    shape = tuple(np.shape(array))
    if len(shape) != 2:
        hint = " (squeeze channel or batch axes first)" if len(shape) > 2 else ""
        raise ValueError(f"{name} must be a 2-D (H, W) array, got shape {shape}{hint}")
    return shape


def _prepare_masks(maps: Sequence[ArrayLike], masks: Sequence[MaskLike], border: int) -> list[_Mask]:
    """Validate the pairing and shapes; binarize and crop every mask."""
    if len(maps) != len(masks):
        raise ValueError(
            f"maps and masks must have the same length (one mask per map), got {len(maps)} maps and {len(masks)} masks"
        )
    if len(maps) == 0:
        raise ValueError("maps is empty; expected a list of at least one (H, W) anomaly map")
    prepared = []
    for i, (anomaly_map, mask) in enumerate(zip(maps, masks)):
        map_shape = _shape_2d(anomaly_map, f"maps[{i}]")
        if mask is None:
            full = np.zeros(map_shape, dtype=bool)
        else:
            _shape_2d(mask, f"masks[{i}]")
            full = _as_numpy(mask) > 0
        _check_border_fits(border, full.shape, f"image {i}")
        cropped = crop_border(full, border)
        prepared.append(_Mask(full.shape, cropped, bool(cropped.any())))
    return prepared


def _iter_maps(maps: Sequence[ArrayLike], masks: list[_Mask], border: int) -> Iterator[np.ndarray]:
    """Yield each map as float32, resized to its mask's shape and cropped."""
    for i, (anomaly_map, mask) in enumerate(zip(maps, masks)):
        array = _as_numpy(anomaly_map).astype(np.float32, copy=False)
        if not np.isfinite(array).all():
            raise ValueError(f"maps[{i}] contains NaN or infinite values; expected finite anomaly scores")
        yield crop_border(upsample_to(array, mask.shape), border)


def _region_weights(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """``1 / |r|`` for every anomalous pixel (C order) and the number of regions.

    Regions are the 8-connected components of ``mask`` (``scipy.ndimage.label``
    with a 3 x 3 structuring element of ones).
    """
    labels, num_regions = ndimage.label(mask, structure=_STRUCTURE)
    sizes = np.bincount(labels.ravel())
    return 1.0 / sizes[labels[mask]], num_regions


@dataclass(frozen=True)
class _Pixels:
    """All pixels of a class, split by label and sorted ascending by score."""

    normal: np.ndarray  # float32 scores of normal pixels, ascending
    anomalous: np.ndarray  # float32 scores of anomalous pixels, ascending
    overlap: np.ndarray  # float64, overlap[k] = sum of 1/|r| over anomalous[k:]; overlap[-1] = 0
    num_regions: int
    image_scores: np.ndarray  # float64 max of each cropped map
    image_labels: np.ndarray  # bool


def _collect(maps: Sequence[ArrayLike], masks: Sequence[MaskLike], border: int) -> _Pixels:
    """Gather, validate and sort the pixels of all images."""
    border = _check_border(border)
    maps = list(maps)
    prepared = _prepare_masks(maps, list(masks), border)
    weights, regions = zip(*(_region_weights(mask.pixels) for mask in prepared))
    num_anomalous = sum(w.size for w in weights)
    num_normal = sum(mask.pixels.size for mask in prepared) - num_anomalous
    normal = np.empty(num_normal, dtype=np.float32)
    anomalous = np.empty(num_anomalous, dtype=np.float32)
    image_scores = np.empty(len(prepared))
    at_normal = at_anomalous = 0
    for i, (scores, mask) in enumerate(zip(_iter_maps(maps, prepared, border), prepared)):
        inside = scores[mask.pixels]
        outside = scores[~mask.pixels]
        anomalous[at_anomalous:at_anomalous + inside.size] = inside
        normal[at_normal:at_normal + outside.size] = outside
        at_anomalous += inside.size
        at_normal += outside.size
        image_scores[i] = scores.max()
    normal.sort()
    order = np.argsort(anomalous, kind="stable")
    weight = np.concatenate(weights)[order]
    overlap = np.zeros(num_anomalous + 1)
    overlap[:-1] = np.cumsum(weight[::-1])[::-1]
    return _Pixels(
        normal=normal,
        anomalous=anomalous[order],
        overlap=overlap,
        num_regions=int(sum(regions)),
        image_scores=image_scores,
        image_labels=np.array([mask.anomalous for mask in prepared]),
    )


def _require_pixels(pixels: _Pixels, metric: str, border: int, *, normal: bool = True) -> None:
    """Raise if the class lacks anomalous (or, when needed, normal) pixels."""
    where = f" after cropping border={border}" if border else ""
    if pixels.anomalous.size == 0:
        raise ValueError(
            f"{metric} needs at least one anomalous pixel, but every mask is empty{where}; "
            "pass the masks of the defective images too (masks are binarized with > 0)"
        )
    if normal and pixels.normal.size == 0:
        raise ValueError(f"{metric} needs at least one normal pixel, but every pixel is anomalous{where}")


def _check_fpr_limit(fpr_limit: float) -> float:
    if isinstance(fpr_limit, bool) or not 0.0 < float(fpr_limit) <= 1.0:
        raise ValueError(f"fpr_limit must be in (0, 1], got {fpr_limit!r}")
    return float(fpr_limit)


# ----------------------------------------------------------------------------
# Cumulative counts at the distinct thresholds
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Block:
    """Counts at consecutive distinct thresholds, thresholds descending."""

    thresholds: np.ndarray  # float32
    false_positives: np.ndarray  # FP(t), int
    true_positives: np.ndarray  # TP(t), int
    overlap: np.ndarray  # O(t), float64


def _distinct_sorted(values: np.ndarray) -> np.ndarray:
    """Unique values of an ascending array."""
    keep = np.empty(values.size, dtype=bool)
    keep[:1] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def _operating_points(pixels: _Pixels) -> Iterator[_Block]:
    """Stream FP(t), TP(t), O(t) over all distinct scores t, descending.

    Each block covers a half-open score interval ``[lower, upper)`` that starts
    at the first occurrence of a normal score, so equal scores never straddle
    two blocks; the last block extends down to ``-inf``. A block holds at
    least ``_BLOCK_SIZE`` normal pixels (fewer only in the last) plus the
    anomalous pixels in its interval.
    """
    normal, anomalous = pixels.normal, pixels.anomalous
    high, upper = normal.size, np.float32(np.inf)
    while True:
        if high <= _BLOCK_SIZE:
            low = 0
        else:
            low = int(np.searchsorted(normal[:high], normal[high - _BLOCK_SIZE], side="left"))
        lower = normal[low] if low > 0 else np.float32(-np.inf)
        first = int(np.searchsorted(anomalous, lower, side="left"))
        last = int(np.searchsorted(anomalous, upper, side="left"))
        merged = np.concatenate((normal[low:high], anomalous[first:last]))
        merged.sort(kind="stable")  # two sorted runs: a linear merge
        thresholds = _distinct_sorted(merged)
        normal_below = low + np.searchsorted(normal[low:high], thresholds, side="left")
        anomalous_below = first + np.searchsorted(anomalous[first:last], thresholds, side="left")
        yield _Block(
            thresholds=thresholds[::-1],
            false_positives=(normal.size - normal_below)[::-1],
            true_positives=(anomalous.size - anomalous_below)[::-1],
            overlap=pixels.overlap[anomalous_below][::-1],
        )
        if low == 0:
            return
        high, upper = low, lower


def _pro_coordinates(block: _Block, pixels: _Pixels) -> tuple[np.ndarray, np.ndarray]:
    """FPR(t) = FP(t) / #normal and PRO(t) = O(t) / #regions, clipped to <= 1."""
    fpr = block.false_positives / pixels.normal.size
    pro = np.minimum(block.overlap / pixels.num_regions, 1.0)
    return fpr, pro


class _ProArea:
    """Trapezoidal area under the PRO curve from FPR 0 to ``fpr_limit``.

    Same result as the official ``trapezoid(x, y, x_max)``: the curve starts at
    (0, 0) and ends at (1, 1); segments with both ends at x <= x_max count in
    full; if x_max falls inside a segment (bisect-right: the last point with
    x <= x_max and the next one), y is linearly interpolated at x_max and the
    partial trapezoid is added.
    """

    def __init__(self, pixels: _Pixels, fpr_limit: float) -> None:
        self.pixels, self.limit = pixels, fpr_limit
        self.area, self.last, self.done = 0.0, (0.0, 0.0), False

    def update(self, block: _Block) -> None:
        self._add(*_pro_coordinates(block, self.pixels))

    def _add(self, x: np.ndarray, y: np.ndarray) -> None:
        inside = int(np.searchsorted(x, self.limit, side="right"))
        xs = np.concatenate(([self.last[0]], x[:inside]))
        ys = np.concatenate(([self.last[1]], y[:inside]))
        self.area += float(np.sum(0.5 * (ys[1:] + ys[:-1]) * (xs[1:] - xs[:-1])))
        x0, y0 = float(xs[-1]), float(ys[-1])
        if inside < x.size:
            x1, y1 = float(x[inside]), float(y[inside])
            y_limit = y0 + (y1 - y0) * (self.limit - x0) / (x1 - x0)
            self.area += 0.5 * (y0 + y_limit) * (self.limit - x0)
            self.done = True
        self.last = (x0, y0)

    def result(self) -> float:
        if not self.done:
            self._add(np.ones(1), np.ones(1))
        return self.area / self.limit


class _RocArea:
    """Exact area under the pixel ROC curve from integer counts.

    ``2 * #normal * #anomalous * AUROC = sum_k (FP_k - FP_{k-1}) (TP_k + TP_{k-1})``
    over the distinct thresholds, starting from (0, 0); ties count one half,
    exactly as ``sklearn.metrics.roc_auc_score``.
    """

    def __init__(self, pixels: _Pixels) -> None:
        self.pixels, self.twice_area, self.last, self.done = pixels, 0, (0, 0), False

    def update(self, block: _Block) -> None:
        fp = np.concatenate(([self.last[0]], block.false_positives))
        tp = np.concatenate(([self.last[1]], block.true_positives))
        self.twice_area += int(np.sum(np.diff(fp) * (tp[1:] + tp[:-1])))
        self.last = (int(fp[-1]), int(tp[-1]))

    def result(self) -> float:
        return self.twice_area / (2 * self.pixels.normal.size * self.pixels.anomalous.size)


class _BestF1:
    """Maximum of ``2 P R / (P + R + 1e-8)`` over the distinct thresholds.

    ``P = TP / (TP + FP)`` and ``R = TP / #anomalous`` in float64, the values of
    ``sklearn.metrics.precision_recall_curve``. Among equal maxima the lowest
    threshold wins, as ``argmax`` over sklearn's ascending thresholds does.
    """

    def __init__(self, pixels: _Pixels) -> None:
        self.pixels, self.best, self.threshold, self.done = pixels, -1.0, float("nan"), False

    def update(self, block: _Block) -> None:
        tp = block.true_positives
        precision = tp / (tp + block.false_positives)
        recall = tp / self.pixels.anomalous.size
        f1 = 2 * precision * recall / (precision + recall + 1e-8)
        k = f1.size - 1 - int(np.argmax(f1[::-1]))  # last maximum = lowest threshold
        if f1[k] >= self.best:
            self.best, self.threshold = float(f1[k]), float(block.thresholds[k])

    def result(self) -> tuple[float, float]:
        return self.best, self.threshold


def _stream(pixels: _Pixels, *accumulators: _ProArea | _RocArea | _BestF1) -> None:
    """Feed every block to the accumulators; stop once all are done."""
    for block in _operating_points(pixels):
        for accumulator in accumulators:
            if not accumulator.done:
                accumulator.update(block)
        if all(accumulator.done for accumulator in accumulators):
            return


def _image_auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC of image scores, NaN when only one class is present."""
    if labels.all() or not labels.any():
        return float("nan")
    return float(roc_auc_score(labels, scores))


# ----------------------------------------------------------------------------
# Public metrics
# ----------------------------------------------------------------------------
def pro_curve(
    maps: Sequence[ArrayLike], masks: Sequence[MaskLike], border: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Per-region-overlap curve of MVTec AD's official evaluation.

    Regions are the 8-connected components of every binary mask. At each
    distinct score ``t`` (descending, over all images together)

    ``FPR(t) = #{normal pixels with score >= t} / #normal pixels``,
    ``PRO(t) = (1 / #regions) * sum_r #{pixels of r with score >= t} / |r|``.

    Both are clipped to <= 1; the curve is prefixed with (0, 0) and ends with
    (1, 1).

    Parameters
    ----------
    maps : sequence of (h, w) arrays
        Anomaly maps (numpy or torch), resized to the mask shape if needed.
    masks : sequence of (H, W) arrays or None
        Ground truths, binarized with ``> 0``; ``None`` is a good image.
    border : int
        Pixels cropped from each side after resizing.

    Returns
    -------
    fprs, pros : numpy.ndarray
        Float64 arrays of equal length, FPR non-decreasing.

    Examples
    --------
    >>> fprs, pros = pro_curve([np.array([[0.0, 1.0, 0.5]])], [np.array([[0, 1, 0]])])
    >>> fprs.tolist(), pros.tolist()
    ([0.0, 0.0, 0.5, 1.0, 1.0], [0.0, 1.0, 1.0, 1.0, 1.0])
    """
    pixels = _collect(maps, masks, border)
    _require_pixels(pixels, "pro_curve", border)
    points = [_pro_coordinates(block, pixels) for block in _operating_points(pixels)]
    fprs = np.concatenate([[0.0], *(fpr for fpr, _ in points), [1.0]])
    pros = np.concatenate([[0.0], *(pro for _, pro in points), [1.0]])
    return fprs, pros


def au_pro(
    maps: Sequence[ArrayLike], masks: Sequence[MaskLike], fpr_limit: float = 0.3, border: int = 0
) -> float:
    """Normalized area under the PRO curve up to ``fpr_limit`` (PRO(0.3)).

    ``AU-PRO = (1 / fpr_limit) * integral_0^fpr_limit PRO(FPR) dFPR`` with the
    trapezoidal rule over :func:`pro_curve`; if ``fpr_limit`` is not one of the
    curve's FPR values, PRO at ``fpr_limit`` is linearly interpolated between
    its neighbours (the official ``trapezoid(x, y, x_max)``). The curve is
    streamed and the integration stops at ``fpr_limit``.

    Parameters
    ----------
    maps, masks, border
        As in :func:`pro_curve`.
    fpr_limit : float
        Integration limit in (0, 1]; the paper uses 0.3.

    Returns
    -------
    float
        In [0, 1]; 1 for a map that scores every anomalous pixel above every
        normal one.

    Examples
    --------
    >>> au_pro([np.array([[0.0, 1.0, 0.5]])], [np.array([[0, 1, 0]])])
    1.0
    """
    fpr_limit = _check_fpr_limit(fpr_limit)
    pixels = _collect(maps, masks, border)
    _require_pixels(pixels, "au_pro", border)
    area = _ProArea(pixels, fpr_limit)
    _stream(pixels, area)
    return area.result()


def pixel_auroc(maps: Sequence[ArrayLike], masks: Sequence[MaskLike], border: int = 0) -> float:
    """Area under the ROC curve over all pixels of all images.

    Equals ``sklearn.metrics.roc_auc_score`` on the flattened masks and maps
    (ties count one half), computed from exact integer counts at the distinct
    thresholds.

    Parameters
    ----------
    maps, masks, border
        As in :func:`pro_curve`.

    Returns
    -------
    float
        In [0, 1].

    Examples
    --------
    >>> pixel_auroc([np.array([[0.2, 0.9, 0.5, 0.9]])], [np.array([[0, 1, 0, 0]])])
    0.8333333333333334
    """
    pixels = _collect(maps, masks, border)
    _require_pixels(pixels, "pixel_auroc", border)
    area = _RocArea(pixels)
    _stream(pixels, area)
    return area.result()


def f1_max(
    maps: Sequence[ArrayLike], masks: Sequence[MaskLike], border: int = 0, return_threshold: bool = False
) -> float | tuple[float, float]:
    """Best pixel-level F1 score over all thresholds.

    ``F1 = 2 P R / (P + R + 1e-8)`` at every threshold of
    ``sklearn.metrics.precision_recall_curve`` (every distinct score; a pixel is
    predicted anomalous when its score is >= the threshold).

    Parameters
    ----------
    maps, masks, border
        As in :func:`pro_curve`.
    return_threshold : bool
        Also return the threshold reaching the maximum (the lowest such
        threshold if several do).

    Returns
    -------
    float, or (float, float)
        F1-max, and the threshold if requested.

    Examples
    --------
    >>> f1_max([np.array([[0.2, 0.9, 0.5, 0.9]])], [np.array([[0, 1, 0, 0]])], return_threshold=True)
    (0.6666666622222223, 0.8999999761581421)
    """
    pixels = _collect(maps, masks, border)
    _require_pixels(pixels, "f1_max", border, normal=False)
    best = _BestF1(pixels)
    _stream(pixels, best)
    score, threshold = best.result()
    return (score, threshold) if return_threshold else score


def image_auroc(maps: Sequence[ArrayLike], masks: Sequence[MaskLike], border: int = 0) -> float:
    """Image-level ROC AUC with the image score = max of its (cropped) map.

    The label of an image is 1 when its cropped mask has any positive pixel
    (``None`` and all-zero masks are good images), as in the evaluation script the
    paper's authors used: both map and mask are cropped before anything is computed. Returns NaN, without an
    exception, when all images are good or all are defective.

    Parameters
    ----------
    maps, masks, border
        As in :func:`pro_curve`.

    Returns
    -------
    float
        ``sklearn.metrics.roc_auc_score(labels, scores)`` or NaN.

    Examples
    --------
    >>> maps = [np.array([[0.1, 0.2]]), np.array([[0.1, 0.9]])]
    >>> image_auroc(maps, [None, np.array([[0, 255]])])
    1.0
    """
    border = _check_border(border)
    maps = list(maps)
    prepared = _prepare_masks(maps, list(masks), border)
    scores = np.array([scores.max() for scores in _iter_maps(maps, prepared, border)], dtype=np.float64)
    return _image_auroc(scores, np.array([mask.anomalous for mask in prepared]))


def evaluate(
    maps: Sequence[ArrayLike], masks: Sequence[MaskLike], border: int = 0, fpr_limit: float = 0.3
) -> dict[str, float]:
    """All metrics of Section 4.2 from a single pass over the pixels.

    Parameters
    ----------
    maps, masks, border
        As in :func:`pro_curve`.
    fpr_limit : float
        Integration limit of :func:`au_pro`.

    Returns
    -------
    dict
        ``au_pro``, ``pixel_auroc``, ``f1_max``, ``f1_threshold`` and
        ``image_auroc`` (NaN when all images are good or all defective).

    Examples
    --------
    >>> maps = [np.array([[0.1, 0.2]]), np.array([[0.1, 0.9]])]
    >>> evaluate(maps, [None, np.array([[0, 1]])])["pixel_auroc"]
    1.0
    """
    fpr_limit = _check_fpr_limit(fpr_limit)
    pixels = _collect(maps, masks, border)
    _require_pixels(pixels, "evaluate", border)
    pro, roc, f1 = _ProArea(pixels, fpr_limit), _RocArea(pixels), _BestF1(pixels)
    _stream(pixels, pro, roc, f1)
    best_f1, threshold = f1.result()
    return {
        "au_pro": pro.result(),
        "pixel_auroc": roc.result(),
        "f1_max": best_f1,
        "f1_threshold": threshold,
        "image_auroc": _image_auroc(pixels.image_scores, pixels.image_labels),
    }
