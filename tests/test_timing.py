"""fca_utils.timing: Table 5 configurations, timing bookkeeping and the power-law fit.

No wall-clock assertions: only counts of runs, shapes, and bookkeeping are checked.
"""
import math

import numpy as np
import pytest
import torch

from fca_utils import features
from fca_utils.paper import timing
from fca_utils.paper import numbers as pn
from fca_utils.core.methods import PRESETS


def test_methods_are_table5_rows():
    assert timing.TABLE5_METHODS == tuple(pn.TABLE5)
    assert set(timing.N_EXPONENT) == set(pn.TABLE5)
    # quadratic rows are exactly those with N^2 in the paper's complexity
    quadratic = {m for m, v in pn.TABLE5.items() if "N^2" in v["complexity"]}
    assert quadratic == {m for m, e in timing.N_EXPONENT.items() if e == 2}


@pytest.mark.parametrize("method,stat", [("Moments", "moments"), ("Histogram", "histogram"), ("Ours", "fca")])
def test_table5_preset_follows_paper_patch_sizes(method, stat):
    low, high = timing.table5_preset(method, 320), timing.table5_preset(method, 1024)
    assert (low.statistic, low.patch_size, low.image_size, low.reference) == (stat, 3, 320, "median")
    assert (high.statistic, high.patch_size, high.image_size) == (stat, 9, 1024)
    assert low.sigma_p == high.sigma_p == pn.HYPERPARAMETERS["final"]["sigma_p"]


def test_table5_preset_quadratic_methods_keep_their_presets():
    aota = timing.table5_preset("Aota et al.", 1024)
    assert aota.statistic == "aota" and aota.patch_size == PRESETS["aota"].patch_size and aota.image_size == 1024
    knn = timing.table5_preset("Ours + k-NN", 1024)
    assert knn.reference == "knn" and knn.statistic == "fca" and knn.patch_size == 3
    assert knn.knn_method == "exact"  # Table 5's quadratic cost, never the approximate search
    assert timing.sweep_presets()["Ours + k-NN"].knn_method == "exact"


def test_table5_preset_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown Table 5 method"):
        timing.table5_preset("SWW", 320)
    with pytest.raises(ValueError, match="positive integer"):
        timing.table5_preset("Ours", 0)


def test_sweep_presets_fixed_patch_size():
    sweep = timing.sweep_presets()
    assert list(sweep) == list(timing.TABLE5_METHODS)
    assert all(p.image_size is None for p in sweep.values())
    assert {m: p.patch_size for m, p in sweep.items()} == {
        "Moments": 9, "Histogram": 9, "Aota et al.": 3, "Ours": 9, "Ours + k-NN": 3}


def test_table5_plan_adds_low_resolution_cells():
    plan = timing.table5_plan([256, 320, 1024], max_size={"Ours + k-NN": 320, "Aota et al.": 512})
    assert plan["Ours"][1] == [256, 320, 1024]
    assert plan["Ours + k-NN"][1] == [256, 320]
    assert plan["Aota et al."][1] == [256, 320]
    for m in ("Moments", "Histogram", "Ours"):
        preset, sizes = plan[f"{m} (T=3)"]
        assert sizes == [320] and preset.patch_size == 3
        assert timing.table5_label(m, 320) == f"{m} (T=3)"
        assert timing.table5_label(m, 1024) == m
    assert "Ours + k-NN (T=3)" not in plan and "Aota et al. (T=3)" not in plan
    with pytest.raises(ValueError, match="unknown methods"):
        timing.table5_plan([320], max_size={"kNN": 320})


def test_time_call_counts_runs():
    calls = []
    t = timing.time_call(lambda: calls.append(1), repeats=4, warmup=2)
    assert len(calls) == 6 and t.runs == 4
    assert t.best == min(t.seconds) and t.best <= t.median
    calls.clear()
    t = timing.time_call(lambda: calls.append(1), repeats=5, warmup=0, max_seconds=0.0)
    assert len(calls) == 1 and t.runs == 1  # the first run already exceeds a zero budget
    with pytest.raises(ValueError, match="repeats"):
        timing.time_call(lambda: None, repeats=0)
    with pytest.raises(ValueError, match="warmup"):
        timing.time_call(lambda: None, warmup=-1)


def test_fit_power_law_recovers_exponent():
    n = np.array([256, 320, 512, 1024]) ** 2
    fit = timing.fit_power_law(n, 3e-9 * n**2.0)
    assert fit.slope == pytest.approx(2.0, abs=1e-9)
    assert fit.predict(2048**2) == pytest.approx(3e-9 * 2048.0**4, rel=1e-9)
    assert (fit.n_min, fit.n_max, fit.points) == (256**2, 1024**2, 4)
    assert fit.extrapolates(2048**2) and not fit.extrapolates(512**2)


def test_fit_power_law_rejects_bad_input():
    with pytest.raises(ValueError, match="two different"):
        timing.fit_power_law([100, 100], [1.0, 2.0])
    with pytest.raises(ValueError, match="positive"):
        timing.fit_power_law([100, 200], [1.0, 0.0])
    with pytest.raises(ValueError, match="one time per"):
        timing.fit_power_law([100, 200, 300], [1.0, 2.0])


def test_resize_image():
    img = (np.arange(40 * 30 * 3) % 256).astype(np.uint8).reshape(40, 30, 3)
    out = timing.resize_image(img, 24)
    assert out.shape == (1, 3, 24, 24) and out.dtype == torch.float32
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    same = timing.resize_image(np.zeros((24, 24, 3), np.uint8), 24)
    assert same.shape == (1, 3, 24, 24)


def test_measure_bookkeeping():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    ext = features.get_extractor("colors")
    plan = {
        "Moments": (timing.sweep_presets()["Moments"], [24, 32]),
        "Ours + k-NN": (timing.sweep_presets()["Ours + k-NN"], [24]),
        "Aota et al.": (timing.sweep_presets()["Aota et al."], [32]),
    }
    res = timing.measure(img, ext, plan, feature_sizes=[40], repeats=2, max_seconds=None,
                         warmup_size=16, progress=False)
    assert res.backbone == "colors" and res.device.startswith("cpu: ")
    assert res.load is None or (len(res.load) == 2 and min(res.load) >= 0)
    assert res.sizes() == [24, 32, 40]
    assert res.sizes("Moments") == [24, 32] and res.sizes("Ours + k-NN") == [24]
    assert res.methods() == ["Moments", "Ours + k-NN", "Aota et al."]
    assert res.feature_shapes[32] == (3, 32, 32)
    assert all(t.runs == 2 for t in res.features.values())
    assert all(t.runs == 2 for t in res.statistics.values())
    assert res.statistic_seconds("Ours + k-NN", 32) is None and res.total_seconds("Ours + k-NN", 32) is None
    total = res.total_seconds("Moments", 32)
    assert total == pytest.approx(res.feature_seconds(32) + res.statistic_seconds("Moments", 32))
    fit = res.fit("Moments")
    assert fit.points == 2 and math.isfinite(fit.slope)
    assert res.fit().points == 3
    assert res.fit(min_size=32).points == 2  # falls back to the two largest sides
    assert (res.fit(min_size=40).n_min, res.fit(min_size=40).n_max) == (32 * 32, 40 * 40)
    assert res.fit(min_size=24).points == 3
    with pytest.raises(ValueError, match="two different"):
        res.fit("Ours + k-NN")


def test_describe_device_cpu():
    text = timing.describe_device("cpu")
    assert text.startswith("cpu: ") and "torch threads" in text


def _cells(stat, feat=1.0, how=None):
    how = how or {}
    return {(m, s): (feat + stat[m][s], feat, stat[m][s], how.get((m, s), "measured"))
            for m in stat for s in stat[m]}


def test_timing_takeaway_follows_the_numbers():
    stat = {"Moments": {320: 0.1, 1024: 1.0}, "Histogram": {320: 0.2, 1024: 2.0}, "Ours": {320: 0.4, 1024: 4.0},
            "Aota et al.": {320: 1.0, 1024: 100.0}, "Ours + k-NN": {320: 3.0, 1024: 300.0}}
    slopes = {"Moments": 1.0, "Histogram": 1.1, "Ours": 1.2, "Aota et al.": 1.9, "Ours + k-NN": 2.0}
    cells = _cells(stat, how={("Ours + k-NN", 1024): "not run; fit N^2.00 on 256–384 px"})
    md = timing.timing_takeaway(slopes, cells, feature_seconds={"lite": {320: 1.0, 1024: 1.0},
                                                                "random_wrn50": {320: 3.0, 1024: 5.0}})
    assert "Moments 1.00, Histogram 1.10, Ours 1.20 (complexity N¹); Aota et al. 1.90, Ours + k-NN 2.00 (complexity N²)" in md
    assert "the paper's point holds here. Within 0.3 of the complexity's exponent: 5 of 5 methods." in md
    assert "Aota et al. 101.00 s (measured; paper 199 s); Ours + k-NN 301.00 s (extrapolated, not run; paper 392 s)" in md
    assert "Ours costs 2.5× Moments, 1.7× Histogram in total and 4.0× Moments, 2.0× Histogram in its statistic" in md
    assert f"the paper (totals): {1.07 / 0.05:.1f}× Moments, {1.07 / 0.08:.1f}× Histogram" in md
    assert "at 320², 71–91 % for the linear methods" in md
    assert "**`random_wrn50` features** cost 3.0× at 320², 5.0× at 1024² the `lite` features" in md
    slopes["Ours"], slopes["Aota et al."] = 1.9, 1.2  # FCA looks quadratic, Aota et al. linear
    md = timing.timing_takeaway(slopes, cells)
    assert "Not every quadratic method grows faster than every linear one" in md
    assert "Within 0.3 of the complexity's exponent: 3 of 5 methods (Moments, Histogram, Ours + k-NN)." in md
    assert "features** cost" not in md
