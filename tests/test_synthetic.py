"""The embedded benchmark and the Figure 3 toy examples (fca_utils.synthetic)."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from sklearn.metrics import roc_auc_score

from fca_utils import datasets
from fca_utils.datasets import defects, synthetic, textures

SCALE = 0.25  # same code path as the benchmark, images 4x smaller


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return synthetic.generate_benchmark(tmp_path_factory.mktemp("a") / "embedded", seed=0, progress=False,
                                        scale=SCALE)


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes_and_another_seed_differs(bench, tmp_path):
    again = synthetic.generate_benchmark(tmp_path / "b", seed=0, progress=False, scale=SCALE)
    other = synthetic.generate_benchmark(tmp_path / "c", seed=1, progress=False, scale=SCALE)
    first = _files(bench)
    assert first == _files(again)
    third = _files(other)
    images = [rel for rel in first if rel.endswith(".png")]
    assert sum(first[rel] != third.get(rel) for rel in images) > 0.95 * len(images)


def test_layout_counts_and_sizes(bench):
    ds = datasets.open_dataset("embedded", root=bench, generate=False)
    assert ds.classes == list(synthetic.CLASS_NAMES) and len(ds.classes) >= 6
    for cls in ds.classes:
        assert ds.count(cls) - ds.count(cls, "good") >= 10
        assert ds.count(cls, "good") >= 3
        assert len(list((bench / cls / "train" / "good").glob("*.png"))) == synthetic.TRAIN_GOOD
    sides = [spec.size for spec in synthetic.CLASSES]
    assert all(256 <= s <= 1024 for s in sides) and 1024 in sides
    assert sum(256 <= s <= 512 for s in sides) > len(sides) / 2
    types = {t for spec in synthetic.CLASSES for t in spec.defects}
    assert types == set(defects.DEFECT_TYPES)
    sample = next(ds.samples("woven", "phase"))
    assert sample.image.dtype == np.uint8 and sample.image.shape == (256, 256, 3)
    assert sample.mask.dtype == bool and sample.mask.any()
    mask_file = bench / "woven" / "ground_truth" / "phase" / "000_mask.png"
    assert set(np.unique(np.asarray(Image.open(mask_file)))) == {0, 255}


@pytest.mark.parametrize("spec", synthetic.CLASSES, ids=lambda s: s.name)
def test_masks_are_exactly_where_pixels_changed(bench, spec):
    """Re-render each image with its clean texture and compare with the files on disk."""
    for sample in synthetic.render_class(spec, seed=0, scale=SCALE):
        image = np.asarray(Image.open(bench / sample.image_relpath))
        np.testing.assert_array_equal(image, sample.image)
        changed = np.any(image != sample.clean, axis=-1)
        if sample.mask_relpath is None:
            assert not changed.any()
            continue
        mask = np.asarray(Image.open(bench / sample.mask_relpath)) > 0
        assert not (changed & ~mask).any(), f"{sample.image_relpath}: pixels changed outside the mask"
        assert changed[mask].mean() >= defects.MIN_CHANGED, f"{sample.image_relpath}: mask larger than the change"
        assert 0 < mask.mean() < 0.2


def _component_sizes(mask):
    """Sizes of the 4-connected components of ``mask`` and of its holes (unmasked parts off the border)."""
    labels, _ = ndimage.label(mask)
    objects = np.bincount(labels.ravel())[1:]
    background, _ = ndimage.label(np.pad(~mask, 1))
    outside = set(background[0]) | set(background[-1]) | set(background[:, 0]) | set(background[:, -1])
    holes = [n for k, n in enumerate(np.bincount(background.ravel())) if k and k not in outside]
    return objects, holes


def test_masks_have_no_small_fragments_or_holes(bench):
    """Every embedded mask, every defect type: no component and no hole under MIN_FRAGMENT pixels."""
    seen = set()
    for spec in synthetic.CLASSES:
        for rel in sorted((bench / spec.name / "ground_truth").glob("*/*_mask.png")):
            mask = np.asarray(Image.open(rel)) > 0
            objects, holes = _component_sizes(mask)
            assert objects.size and objects.min() >= defects.MIN_FRAGMENT, f"{rel}: fragments of {sorted(objects)[:3]} px"
            assert not holes or min(holes) >= defects.MIN_FRAGMENT, f"{rel}: holes of {sorted(holes)[:3]} px"
            seen.add(rel.parent.name)
    assert seen == set(defects.DEFECT_TYPES)


@pytest.mark.parametrize("kind", defects.DEFECT_TYPES)
def test_plant_drops_fragments_and_resets_their_pixels(kind):
    """At full size too: the cleaned mask has no small fragment, and nothing changed outside it."""
    spec = next(s for s in synthetic.CLASSES if kind in s.defects)
    for k in range(3):
        rng = np.random.default_rng([7, k])
        clean = textures.render(spec.texture, rng, (256, 256))
        ctx = defects.Context(donor=lambda r, shape: textures.render(spec.donors[0], r, shape),
                              period=textures.period(spec.texture, (256, 256)) or (16.0, 16.0),
                              anisotropic=spec.anisotropic)
        planted = defects.plant(clean, kind, rng, ctx)
        objects, holes = _component_sizes(planted.mask)
        assert objects.min() >= defects.MIN_FRAGMENT and (not holes or min(holes) >= defects.MIN_FRAGMENT)
        base = np.rint(np.clip(clean, 0, 1) * 255).astype(np.uint8)
        assert not (np.any(planted.image != base, -1) & ~planted.mask).any()


def test_clean_mask_fills_small_holes_and_drops_small_fragments():
    mask = np.zeros((20, 20), bool)
    mask[2:10, 2:10] = True
    mask[5, 5] = False                    # a one-pixel hole
    mask[14, 14] = True                   # a one-pixel fragment
    mask[12:20, 12] = True                # a thin line of 8 px: too small
    mask[0:4, 15:20] = True               # 20 px touching the border: kept
    out = defects.clean_mask(mask)
    expected = np.zeros_like(mask)
    expected[2:10, 2:10] = True
    expected[0:4, 15:20] = True
    np.testing.assert_array_equal(out, expected)
    big_hole = mask.copy()
    big_hole[3:9, 3:9] = False            # 36 px hole: kept open
    assert not defects.clean_mask(big_hole)[5, 5]


def test_defects_are_not_found_by_a_colour_threshold(bench):
    ds = datasets.open_dataset("embedded", root=bench, generate=False)
    scores = []
    for cls in ds.classes:
        for s in ds.samples(cls):
            if s.defect_type == "good":
                continue
            best = max(max(a, 1 - a) for a in (roc_auc_score(s.mask.ravel(), s.image[..., k].ravel())
                                               for k in range(3)))
            scores.append(best)
    # measured: mean 0.70 at this scale and at full size; 1.0 would be trivially separable
    assert np.mean(scores) < 0.8
    assert np.median(scores) < 0.8


def test_report_is_written(bench):
    report = json.loads((bench / "report.json").read_text())
    assert set(report["classes"]) == set(synthetic.CLASS_NAMES)
    brick = report["classes"]["brick"]
    assert sum(brick["test_defective"].values()) == 2 * len(synthetic.CLASSES[0].defects)
    assert brick["mask_coverage_percent"]["min"] > 0
    assert "| brick |" in (bench / "report.md").read_text()


def test_current_copy_is_kept_and_a_damaged_one_regenerated(bench, tmp_path):
    root = synthetic.generate_benchmark(tmp_path / "d", seed=0, progress=False, scale=SCALE)
    target = root / "gravel" / "test" / "good" / "000.png"
    stamp = target.stat().st_mtime_ns
    synthetic.generate_benchmark(root, seed=0, progress=False, scale=SCALE)
    assert target.stat().st_mtime_ns == stamp
    assert not synthetic.is_current(root, seed=1, scale=SCALE)
    target.write_bytes(target.read_bytes()[:100])  # a truncated file
    assert not synthetic.is_current(root, seed=0, scale=SCALE)
    synthetic.generate_benchmark(root, seed=0, progress=False, scale=SCALE)
    assert _files(root) == _files(bench)


def test_interrupted_generation_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(defects, "plant", crash)
    with pytest.raises(KeyboardInterrupt):
        synthetic.generate_benchmark(tmp_path / "e", seed=0, progress=False, scale=SCALE)
    assert os.listdir(tmp_path) == []
    assert not synthetic.is_current(tmp_path / "e", seed=0, scale=SCALE)


def test_a_folder_that_is_not_a_benchmark_is_not_replaced(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not an embedded benchmark"):
        synthetic.generate_benchmark(tmp_path, progress=False, scale=SCALE)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_work_folders_of_dead_runs_are_removed(tmp_path):
    stale = tmp_path / ".embedded.tmp-999999999"
    (stale / "brick").mkdir(parents=True)
    synthetic.generate_benchmark(tmp_path / "embedded", progress=False, scale=SCALE)
    assert sorted(os.listdir(tmp_path)) == ["embedded"]


def test_command_line(tmp_path, capsys):
    assert synthetic.main(["--root", str(tmp_path / "f"), "--scale", str(SCALE), "--quiet"]) == 0
    assert "generated" in capsys.readouterr().out
    assert synthetic.main(["--root", str(tmp_path / "f"), "--scale", str(SCALE), "--quiet"]) == 0
    assert "up to date" in capsys.readouterr().out


def _nearest_distance(values, others):
    """For each of ``values``, the distance to the nearest of ``others``."""
    others = np.sort(others)
    i = np.clip(np.searchsorted(others, values), 1, len(others) - 1)
    return np.minimum(np.abs(values - others[i - 1]), np.abs(values - others[i]))


def _window_counts(levels, t):
    """Number of True pixels in every t x t window (valid windows only)."""
    return np.lib.stride_tricks.sliding_window_view(levels, (t, t)).sum(axis=(-1, -2))


def _touching(mask, t):
    """Which valid t x t windows contain at least one pixel of ``mask``."""
    return np.lib.stride_tricks.sliding_window_view(mask, (t, t)).any(axis=(-1, -2))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_toy_outlier_is_a_few_pixels_whose_values_occur_nowhere_else(seed):
    """Sec. 3.2: the first example's error has a source, a few pixels; their values are not
    those of the texture, so FCA's rank matching can pin them."""
    outlier, _ = synthetic.toy_examples(size=128, seed=seed)
    assert outlier.name == "outlier"
    assert outlier.image.shape == (128, 128, 3) and outlier.image.dtype == np.float32
    gray = outlier.image[..., 0]
    assert (outlier.image == gray[..., None]).all()  # gray: R = G = B
    assert 4 <= outlier.mask.sum() <= 25
    ys, xs = np.nonzero(outlier.mask)
    assert ys.max() - ys.min() <= 4 and xs.max() - xs.min() <= 4  # compact
    assert _nearest_distance(gray[outlier.mask], gray[~outlier.mask]).min() > 0.15


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_toy_contextual_anomaly_has_only_values_that_occur_elsewhere(seed):
    """Sec. 3.2: a contextual anomaly -- every value is normal, its place is not."""
    _, contextual = synthetic.toy_examples(size=128, seed=seed)
    gray, mask = contextual.image[..., 0], contextual.mask
    assert (contextual.image == gray[..., None]).all()
    # the anomaly's values are those of one colour of the normal texture, drawn the same way
    assert _nearest_distance(gray[mask], gray[~mask]).max() < 1e-3
    anomaly_bright = gray[mask].mean() > 0.5
    same = gray[~mask][(gray[~mask] > 0.5) == anomaly_bright]
    assert same.min() - 1e-3 <= gray[mask].min() and gray[mask].max() <= same.max() + 1e-3  # same range
    assert ((gray[mask] > 0.5) == anomaly_bright).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_toy_contextual_anomaly_is_one_checkerboard_cell_of_the_wrong_colour(seed):
    _, contextual = synthetic.toy_examples(size=128, seed=seed)
    cell = synthetic.TOY_CELL
    levels = contextual.image[..., 0] > 0.5
    y, x = np.mgrid[:128, :128]
    checkerboard = ((y // cell + x // cell) % 2).astype(bool)
    np.testing.assert_array_equal(levels != checkerboard, contextual.mask)  # the mask is what changed
    ys, xs = np.nonzero(contextual.mask)
    assert contextual.mask.sum() == cell * cell and ys.min() % cell == 0 and xs.min() % cell == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_toy_contextual_anomaly_is_hidden_from_a_small_patch_and_shown_to_a_large_one(seed):
    """Why a small-patch histogram fails on it and a large one does not (Sec. 3.2).

    With two gray levels, a window's histogram is its count of bright pixels, and the
    reference (the whole image's histogram) is half and half. Every small window (T = 5, inside
    a cell) over the anomaly is no more lopsided than the small windows inside normal cells;
    a window of the large T = 25 that holds the anomaly is more lopsided, towards the
    anomaly's colour, than every window of the normal texture.
    """
    _, contextual = synthetic.toy_examples(size=128, seed=seed)
    levels, mask = contextual.image[..., 0] > 0.5, contextual.mask
    assert abs(levels.mean() - 0.5) < 0.01
    small, large = 5, 25
    assert small < synthetic.TOY_CELL and 2 * synthetic.TOY_CELL < large
    counts, touch = _window_counts(levels, small), _touching(mask, small)
    lopsided = np.abs(counts - small * small / 2)
    assert lopsided[touch].max() <= lopsided[~touch].max()
    counts, touch = _window_counts(levels, large), _touching(mask, large)
    whole = _window_counts(mask, large) == mask.sum()  # windows that hold the whole anomaly
    assert whole.any()
    surplus = counts[whole] - large * large / 2
    normal = counts[~touch] - large * large / 2
    if levels[mask].all():  # a bright cell where a dark one belongs: more bright pixels
        assert (surplus > normal.max()).all()
    else:
        assert (surplus < normal.min()).all()


def test_toy_examples_are_deterministic():
    a, b = synthetic.toy_examples(seed=3), synthetic.toy_examples(seed=3)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.image, y.image)
        np.testing.assert_array_equal(x.mask, y.mask)


def test_a_copy_from_another_generator_version_is_regenerated(bench, tmp_path, monkeypatch):
    """Changing how defects are made bumps GENERATOR_VERSION: an older copy is then not current."""
    root = synthetic.generate_benchmark(tmp_path / "v", seed=0, progress=False, scale=SCALE)
    assert synthetic.is_current(root, seed=0, scale=SCALE)
    monkeypatch.setattr(synthetic, "GENERATOR_VERSION", synthetic.GENERATOR_VERSION + "-next")
    assert not synthetic.is_current(root, seed=0, scale=SCALE)
    synthetic.generate_benchmark(root, seed=0, progress=False, scale=SCALE)
    assert json.loads((root / "manifest.json").read_text())["generator_version"] == synthetic.GENERATOR_VERSION
