"""Tests for fca_utils.metrics against slow, literal brute-force references."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import precision_recall_curve, roc_auc_score

from fca_utils import metrics

SHAPE = (12, 15)


# ----------------------------------------------------------------------------
# Brute-force references (literal definitions, deliberately slow)
# ----------------------------------------------------------------------------
def regions_8(mask: np.ndarray) -> list[list[tuple[int, int]]]:
    """8-connected components of a boolean mask by flood fill."""
    seen = np.zeros(mask.shape, dtype=bool)
    regions = []
    for start in zip(*np.nonzero(mask)):
        if seen[start]:
            continue
        seen[start] = True
        stack, region = [start], []
        while stack:
            r, c = stack.pop()
            region.append((r, c))
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    rr, cc = r + dr, c + dc
                    inside = 0 <= rr < mask.shape[0] and 0 <= cc < mask.shape[1]
                    if inside and mask[rr, cc] and not seen[rr, cc]:
                        seen[rr, cc] = True
                        stack.append((rr, cc))
        regions.append(region)
    return regions


def binarize(maps, masks):
    """float32 maps and boolean masks (None -> all zeros), same shapes."""
    maps = [np.asarray(m, dtype=np.float32) for m in maps]
    masks = [np.zeros(m.shape, bool) if k is None else np.asarray(k) > 0 for m, k in zip(maps, masks)]
    return maps, masks


def brute_pro_curve(maps, masks):
    maps, masks = binarize(maps, masks)
    normal = np.concatenate([m[~k] for m, k in zip(maps, masks)])
    regions = [(i, region) for i, k in enumerate(masks) for region in regions_8(k)]
    thresholds = sorted({float(v) for m in maps for v in m.ravel()}, reverse=True)
    xs, ys = [0.0], [0.0]
    for t in thresholds:
        xs.append(np.mean(normal >= t))
        overlaps = [np.mean([maps[i][p] >= t for p in region]) for i, region in regions]
        ys.append(np.mean(overlaps))
    return np.array(xs + [1.0]), np.array(ys + [1.0])


def brute_integral(xs, ys, limit):
    """Trapezoids up to `limit`; the segment crossing it is cut at an interpolated y."""
    area = 0.0
    for x0, y0, x1, y1 in zip(xs[:-1], ys[:-1], xs[1:], ys[1:]):
        if x1 <= limit:
            area += (x1 - x0) * (y0 + y1) / 2
        else:
            y_limit = y0 + (y1 - y0) * (limit - x0) / (x1 - x0)
            area += (limit - x0) * (y0 + y_limit) / 2
            break
    return area / limit


def brute_auroc(scores, labels):
    """P(random positive > random negative) + 0.5 P(tie)."""
    positives = scores[labels][:, None]
    negatives = scores[~labels][None, :]
    return np.mean(positives > negatives) + 0.5 * np.mean(positives == negatives)


def flat(maps, masks):
    maps, masks = binarize(maps, masks)
    return np.concatenate([m.ravel() for m in maps]), np.concatenate([k.ravel() for k in masks])


def brute_f1(maps, masks):
    scores, labels = flat(maps, masks)
    best, best_t = -1.0, None
    for t in sorted(set(scores.tolist())):  # ascending: ties keep the lowest threshold
        predicted = scores >= t
        tp = np.sum(predicted & labels)
        fp = np.sum(predicted & ~labels)
        precision, recall = tp / (tp + fp), tp / labels.sum()
        f1 = 2 * precision * recall / (precision + recall + 1e-8)
        if f1 > best:
            best, best_t = f1, t
    return best, best_t


# ----------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------
def fixed_mask() -> np.ndarray:
    """Several regions; a diagonal chain is one region only under 8-connectivity."""
    mask = np.zeros(SHAPE, dtype=np.uint8)
    mask[1, 1] = mask[2, 2] = mask[3, 3] = mask[2, 4] = 255  # diagonal-only touching
    mask[6:9, 8:12] = 255
    mask[9, 12] = 255  # touches the block by a corner
    mask[10, 2] = 255  # isolated pixel
    return mask


def random_mask(rng: np.random.Generator) -> np.ndarray:
    mask = np.zeros(SHAPE, dtype=np.uint8)
    for _ in range(rng.integers(1, 4)):
        r, c = rng.integers(0, SHAPE[0] - 3), rng.integers(0, SHAPE[1] - 3)
        mask[r:r + rng.integers(1, 4), c:c + rng.integers(1, 4)] = 255
    r, c = rng.integers(0, SHAPE[0] - 2), rng.integers(0, SHAPE[1] - 2)
    mask[r, c] = mask[r + 1, c + 1] = 255  # a diagonal pair
    return mask


def make_case(seed: int, ties: bool):
    """5 maps with masks: fixed, random, empty and None; optional heavy ties."""
    rng = np.random.default_rng(seed)
    masks = [fixed_mask(), random_mask(rng), np.zeros(SHAPE, np.uint8), None, random_mask(rng)]
    maps = []
    for mask in masks:
        signal = 0.0 if mask is None else 0.4 * (mask > 0)
        values = rng.random(SHAPE) + signal
        maps.append((np.round(values, 1) if ties else values).astype(np.float32))
    return maps, masks


CASES = [(seed, ties) for seed in range(3) for ties in (False, True)]


@pytest.fixture(params=[1, 7, 64, metrics._BLOCK_SIZE], ids=lambda b: f"block{b}")
def block_size(request, monkeypatch):
    """Run with tiny blocks too, so equal scores and regions span block boundaries."""
    monkeypatch.setattr(metrics, "_BLOCK_SIZE", request.param)
    return request.param


# ----------------------------------------------------------------------------
# Against brute force
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("seed,ties", CASES)
def test_pro_curve_matches_brute_force(seed, ties, block_size):
    maps, masks = make_case(seed, ties)
    fprs, pros = metrics.pro_curve(maps, masks)
    ref_fprs, ref_pros = brute_pro_curve(maps, masks)
    assert fprs.shape == ref_fprs.shape
    np.testing.assert_allclose(fprs, ref_fprs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(pros, ref_pros, rtol=0, atol=1e-12)
    assert (fprs[0], pros[0], fprs[-1], pros[-1]) == (0.0, 0.0, 1.0, 1.0)


@pytest.mark.parametrize("fpr_limit", [0.3, 0.05, 1.0])
@pytest.mark.parametrize("seed,ties", CASES)
def test_au_pro_matches_brute_force(seed, ties, fpr_limit, block_size):
    maps, masks = make_case(seed, ties)
    expected = brute_integral(*brute_pro_curve(maps, masks), fpr_limit)
    assert metrics.au_pro(maps, masks, fpr_limit=fpr_limit) == pytest.approx(expected, abs=1e-12)


def test_au_pro_when_limit_is_a_curve_point():
    # 10 normal pixels: FPR takes the values k / 10, and 3 / 10 == 0.3 exactly.
    rng = np.random.default_rng(5)
    mask = np.zeros((4, 5), np.uint8)
    mask[:2] = 1
    maps = [rng.random((4, 5)).astype(np.float32)]
    xs, ys = brute_pro_curve(maps, [mask])
    assert 0.3 in xs
    assert metrics.au_pro(maps, [mask]) == pytest.approx(brute_integral(xs, ys, 0.3), abs=1e-12)


def test_regions_are_8_connected():
    # The diagonal chain is one region: PRO jumps to 1 once all of it scores high.
    mask = np.zeros((5, 5), np.uint8)
    mask[0, 0] = mask[1, 1] = mask[2, 2] = 1
    score = np.zeros((5, 5), np.float32)
    score[0, 0] = 3.0
    score[1, 1] = score[2, 2] = 2.0
    fprs, pros = metrics.pro_curve([score], [mask])
    np.testing.assert_allclose(pros, [0.0, 1 / 3, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(fprs, [0.0, 0.0, 0.0, 1.0, 1.0])


@pytest.mark.parametrize("seed,ties", CASES)
def test_pixel_auroc_matches_brute_force_and_sklearn(seed, ties, block_size):
    maps, masks = make_case(seed, ties)
    scores, labels = flat(maps, masks)
    result = metrics.pixel_auroc(maps, masks)
    assert result == pytest.approx(brute_auroc(scores, labels), abs=1e-12)
    assert result == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


@pytest.mark.parametrize("seed,ties", CASES)
def test_f1_max_matches_brute_force_and_sklearn(seed, ties, block_size):
    maps, masks = make_case(seed, ties)
    best, threshold = metrics.f1_max(maps, masks, return_threshold=True)
    ref_best, ref_threshold = brute_f1(maps, masks)
    assert best == pytest.approx(ref_best, abs=1e-12)
    assert threshold == ref_threshold
    scores, labels = flat(maps, masks)
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    f1 = 2 * precision * recall / (precision + recall + 1e-8)
    assert best == f1.max()
    assert threshold == thresholds[np.argmax(f1)]
    assert metrics.f1_max(maps, masks) == best


def test_f1_max_threshold_ties_pick_the_lowest_threshold(block_size):
    # (TP, FP) = (2, 0) at t = 5 and (4, 4) at t = 1: P, R swap, F1 is exactly equal.
    score = np.array([[5, 5, 1, 1, 3, 1, 1, 1, 0, 0, 0, 0]], np.float32)
    mask = np.array([[1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]], np.uint8)
    best, threshold = metrics.f1_max([score], [mask], return_threshold=True)
    precision, recall, thresholds = precision_recall_curve(mask.ravel(), score.ravel())
    f1 = 2 * precision * recall / (precision + recall + 1e-8)
    assert np.sum(f1 == f1.max()) == 2
    assert (best, threshold) == (f1.max(), thresholds[np.argmax(f1)]) == brute_f1([score], [mask])
    assert threshold == 1.0


@pytest.mark.parametrize("ties", [False, True])
def test_image_auroc_matches_brute_force(ties):
    rng = np.random.default_rng(11)
    masks = [fixed_mask() if i % 3 else None for i in range(12)]
    maps = [rng.random(SHAPE).astype(np.float32) + 0.3 * (i % 2) for i in range(12)]
    if ties:
        maps = [np.round(m, 0) for m in maps]
    scores = np.array([m.max() for m in maps])
    labels = np.array([m is not None for m in masks])
    assert metrics.image_auroc(maps, masks) == pytest.approx(brute_auroc(scores, labels), abs=1e-12)


def test_image_auroc_is_nan_with_one_class():
    maps = [np.ones(SHAPE), np.zeros(SHAPE)]
    assert np.isnan(metrics.image_auroc(maps, [None, np.zeros(SHAPE)]))
    assert np.isnan(metrics.image_auroc(maps, [fixed_mask(), fixed_mask()]))


def test_image_label_and_score_both_come_from_the_cropped_images():
    mask = np.zeros(SHAPE, np.uint8)
    mask[0, 0] = 255  # anomaly only inside the border: the image counts as good
    mask2 = np.zeros(SHAPE, np.uint8)
    mask2[5, 5] = 255
    a, b, c = (np.zeros(SHAPE, np.float32) for _ in range(3))
    a[0, 0] = 9.0  # cropped away
    a[5, 5] = 1.0
    b[5, 5] = 2.0
    c[5, 5] = 3.0
    assert metrics.image_auroc([a, b, c], [mask, None, mask2], border=1) == 1.0
    assert np.isnan(metrics.image_auroc([a, b], [mask, None], border=1))


# ----------------------------------------------------------------------------
# Protocol: resizing, cropping, input types
# ----------------------------------------------------------------------------
def test_crop_border():
    array = np.arange(10 * 12).reshape(10, 12)
    assert metrics.crop_border(array, 0) is array
    cropped = metrics.crop_border(array, 2)
    assert cropped.shape == (6, 8)
    np.testing.assert_array_equal(cropped, array[2:-2, 2:-2])
    assert metrics.crop_border(torch.zeros(10, 12), 3).shape == (4, 6)
    with pytest.raises(ValueError, match="border=5 leaves no pixels"):
        metrics.crop_border(array, 5)
    with pytest.raises(ValueError, match="non-negative integer"):
        metrics.crop_border(array, -1)


@pytest.mark.parametrize("source,target", [((5, 7), (12, 15)), ((12, 15), (5, 7)), ((4, 4), (32, 32)), ((1, 3), (2, 9))])
def test_upsample_to_matches_torch_bilinear(source, target):
    array = np.random.default_rng(0).random(source).astype(np.float32)
    result = metrics.upsample_to(array, target)
    expected = F.interpolate(torch.from_numpy(array)[None, None], size=target, mode="bilinear", align_corners=False)
    assert result.shape == target and result.dtype == np.float32
    np.testing.assert_allclose(result, expected[0, 0].numpy(), rtol=0, atol=1e-5)
    np.testing.assert_allclose(metrics.upsample_to(torch.from_numpy(array), target), result)


def test_upsample_to_keeps_constants_and_same_shape():
    constant = np.full((5, 7), 0.37, np.float32)
    np.testing.assert_allclose(metrics.upsample_to(constant, (64, 33)), 0.37, rtol=1e-6)
    array = np.random.default_rng(1).random(SHAPE).astype(np.float32)
    assert metrics.upsample_to(array, SHAPE) is array
    with pytest.raises(ValueError, match="2-D"):
        metrics.upsample_to(np.zeros((1, 5, 7)), SHAPE)


def test_maps_are_upsampled_to_the_mask_shape():
    maps, masks = make_case(0, ties=False)
    masks = [fixed_mask() if m is None else m for m in masks]
    small = [np.asarray(F.avg_pool2d(torch.from_numpy(m)[None, None], 3)[0, 0]) for m in maps]
    upsampled = [metrics.upsample_to(m, SHAPE) for m in small]
    assert metrics.evaluate(small, masks) == metrics.evaluate(upsampled, masks)


def test_border_equals_metrics_on_cropped_arrays():
    maps, masks = make_case(1, ties=True)
    masks = [np.zeros(SHAPE) if m is None else m for m in masks]
    cropped_maps = [metrics.crop_border(m, 2) for m in maps]
    cropped_masks = [metrics.crop_border(m, 2) for m in masks]
    with_border = metrics.evaluate(maps, masks, border=2)
    on_cropped = metrics.evaluate(cropped_maps, cropped_masks)
    assert with_border == pytest.approx(on_cropped, nan_ok=True)


def test_torch_inputs_and_mask_encodings_agree():
    maps, masks = make_case(2, ties=False)
    as_torch = [torch.from_numpy(m) for m in maps]
    as_bool = [None if m is None else torch.from_numpy(m > 0) for m in masks]
    assert metrics.evaluate(as_torch, as_bool) == metrics.evaluate(maps, masks)


def test_evaluate_equals_the_individual_metrics():
    maps, masks = make_case(0, ties=True)
    result = metrics.evaluate(maps, masks, fpr_limit=0.2)
    best, threshold = metrics.f1_max(maps, masks, return_threshold=True)
    assert result == {
        "au_pro": metrics.au_pro(maps, masks, fpr_limit=0.2),
        "pixel_auroc": metrics.pixel_auroc(maps, masks),
        "f1_max": best,
        "f1_threshold": threshold,
        "image_auroc": metrics.image_auroc(maps, masks),
    }


# ----------------------------------------------------------------------------
# Properties
# ----------------------------------------------------------------------------
def test_perfect_and_inverted_maps(block_size):
    rng = np.random.default_rng(3)
    masks = [fixed_mask(), None, random_mask(rng)]
    labels = [np.zeros(SHAPE) if m is None else (m > 0) for m in masks]
    perfect = [(k + 0.5 * rng.random(SHAPE)).astype(np.float32) for k in labels]  # distinct scores
    inverted = [-m for m in perfect]
    assert metrics.au_pro(perfect, masks) == pytest.approx(1.0, abs=1e-12)
    assert metrics.pixel_auroc(perfect, masks) == 1.0
    assert metrics.f1_max(perfect, masks) == pytest.approx(1.0, abs=1e-8)
    assert metrics.au_pro(inverted, masks) == 0.0
    assert metrics.pixel_auroc(inverted, masks) == 0.0
    # every anomalous score lies below every normal one: the last block must reach them
    assert metrics.f1_max(inverted, masks, return_threshold=True) == pytest.approx(brute_f1(inverted, masks))
    np.testing.assert_allclose(metrics.pro_curve(inverted, masks), brute_pro_curve(inverted, masks), atol=1e-12)


def test_au_pro_full_range_is_the_area_under_the_whole_curve():
    maps, masks = make_case(2, ties=True)
    fprs, pros = metrics.pro_curve(maps, masks)
    assert metrics.au_pro(maps, masks, fpr_limit=1.0) == pytest.approx(np.trapezoid(pros, fprs), abs=1e-12)


# ----------------------------------------------------------------------------
# Input errors
# ----------------------------------------------------------------------------
GOOD_MAP, GOOD_MASK = np.zeros(SHAPE, np.float32), fixed_mask()


@pytest.mark.parametrize(
    "maps,masks,kwargs,message",
    [
        ([GOOD_MAP, GOOD_MAP], [GOOD_MASK], {}, "same length.*2 maps and 1 masks"),
        ([], [], {}, "maps is empty"),
        ([GOOD_MAP[None]], [GOOD_MASK], {}, r"maps\[0\] must be a 2-D"),
        ([GOOD_MAP], [GOOD_MASK[..., None]], {}, r"masks\[0\] must be a 2-D"),
        ([np.full(SHAPE, np.nan)], [GOOD_MASK], {}, r"maps\[0\] contains NaN"),
        ([GOOD_MAP], [GOOD_MASK], {"border": 6}, "border=6 leaves no pixels of image 0"),
        ([GOOD_MAP], [GOOD_MASK], {"border": 1.5}, "non-negative integer"),
        ([GOOD_MAP], [GOOD_MASK], {"fpr_limit": 0.0}, r"fpr_limit must be in \(0, 1\]"),
        ([GOOD_MAP], [GOOD_MASK], {"fpr_limit": 1.5}, r"fpr_limit must be in \(0, 1\]"),
        ([GOOD_MAP], [None], {}, "needs at least one anomalous pixel"),
        ([GOOD_MAP], [np.ones(SHAPE)], {}, "needs at least one normal pixel"),
    ],
)
def test_bad_inputs_raise_clear_errors(maps, masks, kwargs, message):
    with pytest.raises(ValueError, match=message):
        metrics.evaluate(maps, masks, **kwargs)


@pytest.mark.parametrize("metric", [metrics.au_pro, metrics.pixel_auroc, metrics.f1_max])
def test_each_pixel_metric_needs_anomalies(metric):
    with pytest.raises(ValueError, match=f"{metric.__name__} needs at least one anomalous pixel.*border=2"):
        metric([GOOD_MAP, GOOD_MAP], [None, np.zeros(SHAPE)], border=2)
