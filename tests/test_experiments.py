"""Experiment loops of Tables 1 and 2 (fca_utils.experiments)."""

import numpy as np
import pytest
import torch

from fca_utils import features, metrics, reference, statistics
from fca_utils.core import ops
from fca_utils.core.images import resize_image, resize_mask
from fca_utils.paper import experiments
from fca_utils.paper import numbers as paper_numbers
from fca_utils.paper.experiments import Setting
from fca_utils.evaluation.tables import compare
from fca_utils.paper.tables import paper_table


@pytest.fixture
def tiny_dataset(spot_dataset):
    """Two classes, 64 x 64: one good image, two with a bright 10 x 10 square."""
    return spot_dataset(64, n_good=1, n_spot=2, first=(16, 20), step=(12, 8), side=10)


SMALL = Setting(image_size=32, patch_size=7, sigma=1.5, sigma_p=1.5, sigma_s=0.75)


# ---------------------------------------------------------------- settings and references

def test_preliminary_setting_is_the_papers_and_scales_consistently():
    hp = paper_numbers.HYPERPARAMETERS["preliminary"]
    s = Setting.preliminary()
    assert (s.image_size, s.patch_size, s.sigma, s.sigma_p, s.sigma_s, s.bins) == (
        hp["image_size"], hp["T"], hp["sigma"], hp["fca_sigma_p"], hp["fca_sigma_s"], 10)
    assert s.scaled(256) == s
    half = s.scaled(128)
    assert (half.patch_size, half.sigma, half.sigma_p, half.sigma_s) == (13, 3.0, 3.0, 1.5)
    q = s.scaled(64)
    assert q.patch_size == 7 and q.sigma == pytest.approx(1.5) and q.sigma_s == pytest.approx(0.75)
    assert s.scaled(48).patch_size == 5 and s.scaled(16).patch_size == 3  # odd, at least 3
    assert "T=25" in s.describe() and "256" in s.describe() and "scored at mask resolution" in s.describe()


@pytest.mark.parametrize("kwargs", [dict(patch_size=8), dict(patch_size=1), dict(sigma=0),
                                    dict(image_size=16, patch_size=25), dict(sigma_s=-1)])
def test_setting_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        Setting(**kwargs)


def test_reference_specs():
    assert experiments.parse_reference("global") == ("global", None)
    assert experiments.parse_reference("all") == ("all", None)
    assert experiments.parse_reference("random(100)") == ("random", 100)
    for bad in ("random(0)", "random", "median", "Random (3)"):
        with pytest.raises(ValueError, match="expected 'global', 'all' or 'random"):
            experiments.parse_reference(bad)
    labels = [experiments.reference_label(r) for r in ("random(1)", "random(100)", "all", "global")]
    assert labels == ["Random (1)", "Random (100)", "All", "Global"]
    assert set(labels) <= set(paper_numbers.TABLE2)


def test_build_reference_kinds():
    feats = torch.rand(4, 12, 12)
    assert experiments.build_reference("global", feats, 5) is None
    r = experiments.build_reference("random(3)", feats, 5, seed=1)
    assert isinstance(r, reference.PatchReference) and len(r) == 3
    assert torch.equal(r.centers, experiments.build_reference("random(3)", feats, 5, seed=1).centers)
    a = experiments.build_reference("all", feats, 5)
    assert len(a) == 144
    with pytest.raises(ValueError, match="max_patches"):
        experiments.build_reference("all", feats, 5, max_patches=100)


def test_anomaly_map_dispatches_with_the_settings_parameters():
    torch.manual_seed(0)
    feats = torch.rand(3, 20, 20)
    s = Setting(image_size=20, patch_size=5, sigma=1.2, sigma_p=2.0, sigma_s=0.8, bins=6)
    expected = {
        "moments": statistics.moments(feats, 5, sigma=1.2),
        "histogram": statistics.histogram(feats, 5, bins=6, sigma=1.2),
        "sww": statistics.sww(feats, 5, 1.2),
        "fca": statistics.fca(feats, 5, 2.0, 0.8),
    }
    for name, want in expected.items():
        got = experiments.anomaly_map(feats, name, s)
        assert got.shape == (20, 20)
        torch.testing.assert_close(got, want)
    with pytest.raises(ValueError, match="unknown statistic"):
        experiments.anomaly_map(feats, "emd", s)


# ---------------------------------------------------------------- images, features, masks

def test_feature_map_has_the_working_resolution_for_every_stride():
    image = (np.random.default_rng(0).random((50, 70, 3)) * 255).astype(np.uint8)
    tem = features.get_extractor("tem")
    f = experiments.features_on_grid(tem, image, 32)
    assert f.shape == (9, 32, 32)

    class Strided(features.Extractor):  # stride-4 stand-in for a neural backbone
        name, stride, channels, min_size = "strided", 4, 2, 4

        def __init__(self):
            super().__init__(None)
            self.seen = None

        def _features(self, x):
            self.seen = tuple(x.shape[-2:])
            return torch.nn.functional.avg_pool2d(x[:, :2], 4)

    s = Strided()
    f = experiments.features_on_grid(s, image, 16)
    assert s.seen == (64, 64) and f.shape == (2, 16, 16)  # image enlarged by the stride


def test_resize_image_resizes_to_a_square_in_unit_range():
    image = (np.random.default_rng(1).random((40, 60, 3)) * 255).astype(np.uint8)
    img = resize_image(image, 24)
    assert img.shape == (1, 3, 24, 24) and img.dtype == torch.float32
    assert 0 <= float(img.min()) and float(img.max()) <= 1


def test_resize_mask_keeps_pixels_at_least_half_covered():
    m = np.zeros((8, 8), bool)
    m[0:4, 0:4] = True   # one full output pixel of 4x4
    m[4:6, 4:8] = True   # half of one output pixel
    out = resize_mask(m, 2)
    assert out.tolist() == [[True, False], [False, True]]
    assert np.array_equal(resize_mask(m, 8), m)


def test_select_samples_with_and_without_good_images(tiny_dataset):
    with_good = experiments.select_samples(tiny_dataset, "a", 2)
    assert [e.defect_type for e in with_good] == ["good", "spot"]
    defective = experiments.select_samples(tiny_dataset, "a", 1, include_good=False)
    assert [e.defect_type for e in defective] == ["spot"]
    assert len(experiments.select_samples(tiny_dataset, "a", None, include_good=False)) == 2


# ---------------------------------------------------------------- the grid

def test_grid_scores_a_planted_defect(tiny_dataset):
    ex = {"Colors": features.get_extractor("colors"), "TEM": features.get_extractor("tem")}
    grid = experiments.evaluate_grid(tiny_dataset, ex, ["moments", "fca"], ["global"], SMALL, progress=False)
    assert grid.extractors == {"Colors": "colors", "TEM": "tem"}
    assert grid.images == {"a": 3, "b": 3}
    assert set(grid.metrics) == {(f, s, "global") for f in ex for s in ("moments", "fca")}
    # a bright square on stripes: colors + FCA localizes it well
    assert grid.mean("Colors", "fca", "global", "au_pro") > 0.8
    assert len(grid.seconds[("TEM", "fca", "global")]) == 6
    assert grid.seconds_per_image("TEM", "fca", "global") > 0


def test_grid_scores_at_full_mask_resolution_after_the_border_crop(tiny_dataset):
    """Section 4.1 and the authors' evaluate_experiment.py: each 32 px map is brought to its 64 px
    mask, then the protocol's border (in mask pixels) is cropped from both before the metrics."""
    ex = {"Colors": features.get_extractor("colors")}
    grid = experiments.evaluate_grid(tiny_dataset, ex, ["fca"], ["global"], SMALL, classes=["a"], progress=False)
    maps, masks = [], []
    for entry in tiny_dataset.entries("a"):
        sample = tiny_dataset.load(entry)
        assert sample.mask.shape == (64, 64)
        img = torch.nn.functional.interpolate(torch.from_numpy(np.array(sample.image)).permute(2, 0, 1)[None].float() / 255,
                                              size=(32, 32), mode="bilinear", align_corners=False)
        small = statistics.fca(img[0], 7, 1.5, 0.75).numpy()
        maps.append(metrics.upsample_to(small, sample.mask.shape))
        masks.append(sample.mask)
    border = tiny_dataset.protocol.border_for(64, 64)
    assert border == 6  # 10 % of the 64 px side (the protocol of a folder in MVTec AD layout)
    maps = [metrics.crop_border(m, border) for m in maps]
    masks = [metrics.crop_border(m, border) for m in masks]
    got = grid.metrics[("Colors", "fca", "global")]["a"]
    assert got["au_pro"] == pytest.approx(metrics.au_pro(maps, masks), abs=1e-12)
    assert got["pixel_auroc"] == pytest.approx(metrics.pixel_auroc(maps, masks), abs=1e-12)


def test_images_are_resized_without_antialiasing_unless_asked(tiny_dataset):
    """The authors' op_utils.load_image_tensor: plain bilinear F.interpolate; antialias=True is an option."""
    image = tiny_dataset.load(tiny_dataset.entries("a")[1]).image
    x = torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 255
    plain = torch.nn.functional.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
    colors = features.get_extractor("colors")
    torch.testing.assert_close(experiments.features_on_grid(colors, image, 32), plain[0])
    smooth = experiments.features_on_grid(colors, image, 32, antialias=True)
    assert not torch.allclose(smooth, plain[0], atol=1e-3)
    assert not Setting().antialias and not SMALL.antialias and not Setting.preliminary().antialias
    a = experiments.evaluate_grid(tiny_dataset, {"Colors": colors}, ["fca"], ["global"], SMALL, classes=["a"],
                                  progress=False)
    b = experiments.evaluate_grid(tiny_dataset, {"Colors": colors}, ["fca"], ["global"],
                                  Setting(**{**SMALL.__dict__, "antialias": True}), classes=["a"], progress=False)
    assert a.metrics[("Colors", "fca", "global")]["a"]["au_pro"] != b.metrics[("Colors", "fca", "global")]["a"]["au_pro"]


def test_grid_is_deterministic_and_skips_infeasible_all(tiny_dataset):
    ex = {"VGG": features.get_extractor("random", num_kernels=4)}
    refs = ["random(1)", "random(3)", "all", "global"]
    kw = dict(classes=["a"], max_images=2, include_good=False, max_patches=100, progress=False)
    g1 = experiments.evaluate_grid(tiny_dataset, ex, ["histogram", "sww", "fca"], refs, SMALL, **kw)
    g2 = experiments.evaluate_grid(tiny_dataset, ex, ["histogram", "sww", "fca"], refs, SMALL, **kw)
    for combo, per_class in g1.metrics.items():  # bitwise equal (image AUROC is NaN without good images)
        for key in ("au_pro", "pixel_auroc", "f1_max", "f1_threshold"):
            assert per_class["a"][key] == g2.metrics[combo]["a"][key]
    for s in ("histogram", "sww", "fca"):
        assert ("VGG", s, "all") in g1.skipped and "max_patches=100" in g1.skipped[("VGG", s, "all")]
        assert g1.mean("VGG", s, "all") is None and g1.seconds_per_image("VGG", s, "all") is None
        assert g1.mean("VGG", s, "random(3)") is not None

    pro = experiments.table2(g1, "VGG", metric="PRO")
    assert list(pro.index) == ["Random (1)", "Random (3)", "All", "Global"]
    assert list(pro.columns) == ["Hist", "SWW", "FCA"]
    assert np.isnan(pro.loc["All", "FCA"])
    assert pro.loc["Global", "FCA"] == round(100 * g1.mean("VGG", "fca", "global"), 2)
    full = experiments.table2(g1, "VGG")
    assert list(full.columns) == ["Hist PRO", "Hist time [s]", "SWW PRO", "SWW time [s]", "FCA PRO", "FCA time [s]"]
    assert np.isnan(full.loc["All", "Hist time [s]"]) and full.loc["Global", "SWW time [s]"] > 0
    assert full.attrs["formats"]["SWW time [s]"] == "{:.3f}"
    times = experiments.table2(g1, "VGG", metric="time")
    assert list(times.columns) == ["Hist", "SWW", "FCA"]
    # lines up with the paper's table
    cmp = compare(pro, paper_table(2, metric="PRO"))
    assert cmp.loc["Global", "FCA paper"] == 81.08
    with pytest.raises(ValueError):
        experiments.table2(g1, "VGG", metric="AUROC")


def test_grid_warms_up_every_statistic_before_timing(tiny_dataset, monkeypatch):
    """No timed image pays for JIT compilation: each statistic runs untimed first, with both reference kinds."""
    calls, clock_reads = [], []
    real_map = experiments.anomaly_map
    monkeypatch.setattr(experiments, "anomaly_map",
                        lambda feats, stat, setting, ref=None: calls.append((stat, type(ref).__name__,
                                                                              len(clock_reads)))
                        or real_map(feats, stat, setting, ref))
    real_clock = ops.clock
    monkeypatch.setattr(ops, "clock", lambda device: (lambda: clock_reads.append(1) or real_clock(device)()))
    ex = {"Colors": features.get_extractor("colors")}
    experiments.evaluate_grid(tiny_dataset, ex, ["sww", "fca"], ["random(3)"], SMALL, classes=["a"], max_images=1, include_good=False,
                              progress=False)
    warm = [(stat, kind) for stat, kind, reads in calls if reads == 0]
    assert sorted(warm) == [("fca", "NoneType"), ("fca", "PatchReference"), ("sww", "NoneType"),
                            ("sww", "PatchReference")]
    assert len(calls) == len(warm) + 2  # then one timed map per statistic


def test_all_reference_is_computed_when_feasible(tiny_dataset):
    s = Setting(image_size=16, patch_size=3, sigma=0.75, sigma_p=0.75, sigma_s=0.5)
    ex = {"VGG": features.get_extractor("colors")}
    g = experiments.evaluate_grid(tiny_dataset, ex, ["histogram"], ["all"], s, classes=["b"], progress=False)
    assert not g.skipped and g.mean("VGG", "histogram", "all") is not None


def test_table1_layout_matches_paper_table1(tiny_dataset):
    ex = {"Colors": features.get_extractor("colors")}
    stats = ["moments", "histogram", "sww", "fca"]
    grid = experiments.evaluate_grid(tiny_dataset, ex, stats, ["global"], SMALL, max_images=2, progress=False)
    t = experiments.table1(grid)
    assert list(t.index) == ["Moments", "Histogram", "SWW", "FCA"] == list(paper_table(1).index)
    assert list(t.columns) == ["Colors PRO", "Colors AUROC"] and t.attrs["title"] == "Table 1 (ours)"
    assert t.loc["FCA", "Colors AUROC"] == round(100 * grid.mean("Colors", "fca", "global", "pixel_auroc"), 2)
    cmp = compare(t, paper_table(1))
    assert cmp.loc["FCA", "Colors PRO paper"] == 63.30
    pro = experiments.table1(grid, metric="PRO")
    assert list(pro.columns) == ["Colors"] and pro.loc["SWW", "Colors"] == t.loc["SWW", "Colors PRO"]
    assert compare(pro, paper_table(1, metric="PRO")).loc["Moments", "Colors paper"] == 46.51
    with pytest.raises(ValueError):
        experiments.table1(grid, metric="F1")


def test_grid_rejects_bad_arguments(tiny_dataset):
    ex = {"Colors": features.get_extractor("colors")}
    with pytest.raises(ValueError, match="unknown statistic"):
        experiments.evaluate_grid(tiny_dataset, ex, ["emd"], ["global"], SMALL, progress=False)
    with pytest.raises(ValueError, match="unknown reference"):
        experiments.evaluate_grid(tiny_dataset, ex, ["fca"], ["median"], SMALL, progress=False)
    with pytest.raises(ValueError, match="at least one"):
        experiments.evaluate_grid(tiny_dataset, {}, ["fca"], ["global"], SMALL, progress=False)


def test_neural_extractor_falls_back_offline_and_says_so(monkeypatch):
    monkeypatch.setenv("FCA_OFFLINE", "1")
    tem = features.get_extractor("tem")
    if features.weights_path("vgg19").is_file():
        ex, info = experiments.neural_extractor(tem)
        assert ex.name == "vgg19" and "vgg19" in info
    else:
        ex, info = experiments.neural_extractor(tem)
        assert ex is tem and "instead of vgg19" in info and str(features.weights_path("vgg19")) in info


# ------------------------------------------------------------------ takeaways (notebooks 02, 04)
def _table1(values):
    import pandas as pd

    return pd.DataFrame(values, ["Moments", "Histogram", "SWW", "FCA"], ["Colors", "TEM", "VGG"], dtype=float)


def test_table1_takeaway_follows_the_numbers():
    pro = _table1([[30, 40, 60], [32, 41, 62], [35, 45, 70], [40, 44.5, 75]])
    md = experiments.table1_takeaway(pro, pro, extractor="efficientnet_lite0", noise=1.0)
    assert "VGG (66.75) > TEM (42.62) > Colors (34.25)" in md  # means over the statistics, best first
    assert "ahead of every other extractor (by at least 1 point) for 4 of 4 statistics" in md
    assert "FCA beats SWW in PRO for 2 of 3 extractors (Colors, VGG), within noise for TEM" in md
    assert "Best statistic per extractor** (PRO, ours / paper): Colors FCA / FCA, TEM SWW / FCA, VGG FCA / FCA" in md
    assert "`efficientnet_lite0`, not the paper's VGG19" in md
    # the paper's side comes from Table 1: FCA beats SWW there for Colors, TEM and VGG
    assert "The paper: 3 of 3 in PRO." in md.split("FCA vs. SWW")[1].splitlines()[0]
    swapped = pro.copy()
    swapped.loc[["SWW", "FCA"]] = pro.loc[["FCA", "SWW"]].to_numpy()  # SWW and FCA trade places
    md2 = experiments.table1_takeaway(swapped, swapped, noise=1.0)
    assert "FCA beats SWW in PRO for 0 of 3 extractors, within noise for TEM, behind for Colors, VGG" in md2
    assert "Colors SWW / FCA" in md2 and "the paper's VGG19" not in md2  # no extractor given: no sentence


def test_table1_takeaway_calls_small_differences_noise():
    pro = _table1([[30, 40, 60], [30.5, 40.5, 60.5], [35, 45, 70], [40, 50, 75]])
    md = experiments.table1_takeaway(pro, noise=1.0)
    assert "the histogram beats moments in PRO for 0 of 3 extractors, within noise for Colors, TEM, VGG" in md
    md = experiments.table1_takeaway(pro, noise=0.1)
    assert "the histogram beats moments in PRO for 3 of 3 extractors." in md


def _table2(pro_rows, time_rows=None):
    import pandas as pd

    rows = ["Random (1)", "Random (10)", "Random (100)", "All", "Global"]
    pro = pd.DataFrame(pro_rows, rows, ["Hist", "SWW", "FCA"], dtype=float)
    time = None if time_rows is None else pd.DataFrame(time_rows, rows, ["Hist", "SWW", "FCA"], dtype=float)
    return pro, time


def test_table2_takeaway_follows_the_numbers():
    pro, time = _table2([[50, 52, 55], [60, 62, 66], [70, 72, 75], [72, 74, 78], [68, 72.5, 77]],
                        [[0.1, 0.1, 0.1], [0.2, 0.3, 0.4], [1, 2, 3], [5, 8, 12], [0.1, 0.1, 0.2]])
    md = experiments.table2_takeaway(pro, time, extractor="vgg19", noise=1.0)
    assert "Random (1): PRO 50.00 / 52.00 / 55.00 for Hist / SWW / FCA (paper: 60.95 / 59.56 / 62.01)" in md
    assert "PRO changes by +20.00 / +20.00 / +20.00 points (paper: +13.60 / +16.13 / +16.44)" in md
    assert "at every step for 3 of 3 statistics" in md
    assert "Hist worse, −2.00 (paper: −1.38); SWW as good (within noise), +0.50 (paper: +1.71); FCA better, +2.00" in md
    assert "global / Random (1): 1.00× / 1.00× / 2.00×" in md
    assert "PRO 72.00 / 74.00 / 78.00; the best row for 3 of 3 statistics; +4.00 / +1.50 / +1.00" in md
    assert "at 50× / 80× / 60× its time per image" in md
    assert "FCA has the best PRO in 5 of 5 rows. SWW is ahead of the histogram in 5 of 5 rows" in md
    assert "The features are the paper's VGG19" in md
    pro.loc["Random (10)", ["SWW", "FCA"]] = [66.5, 62]  # SWW overtakes FCA in one row
    pro.loc["Random (100)", "Hist"] = 58                  # ... and the histogram drops from 10 to 100 patches
    md2 = experiments.table2_takeaway(pro, time, noise=1.0)
    assert "FCA has the best PRO in 4 of 5 rows, not in Random (10) (SWW ahead by 4.50). SWW" in md2
    assert "at every step for 2 of 3 statistics (SWW, FCA)" in md2
    assert "The features are" not in md2


def test_table2_takeaway_without_all_and_times():
    pro, _ = _table2([[50, 52, 55], [60, 62, 66], [70, 72, 75], [None, None, None], [70.5, 72, 77]])
    md = experiments.table2_takeaway(pro, noise=1.0)
    assert "**All patches** was not computed here" in md and "Hist PRO 74.01, 380 s" in md
    assert "Hist as good (within noise), +0.50" in md and "time per image" not in md.lower()
    assert "FCA has the best PRO in 4 of 4 rows" in md
