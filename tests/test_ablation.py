"""Tests of fca_utils.ablation: Table 7 rows, feature cache, random-init backbones, the
Figure 9 grid and the failure-case helpers (Figures 6 and 7). No network, no timings."""

import numpy as np
import pytest
import torch

from fca_utils import datasets, features
from fca_utils.datasets import layout
from fca_utils.paper import ablation, failure_cases
from fca_utils.paper import numbers as pn
from fca_utils.evaluation.tables import compare
from fca_utils.paper.tables import paper_table


def _texture(rng, size):
    """Vertical stripes with noise: a regular texture in which a bright blob is an anomaly."""
    x = np.arange(size)
    stripes = np.where(x % 8 < 4, 0.35, 0.65)[None, :].repeat(size, 0)
    img = stripes + rng.normal(0, 0.03, (size, size))
    return np.clip(np.repeat(img[..., None], 3, 2), 0, 1)


def _make_dataset(root, size=96, n_defect=2, n_good=1):
    rng = np.random.default_rng(0)
    for k in range(n_defect):
        img = _texture(rng, size)
        mask = np.zeros((size, size), bool)
        c = size // 2 + 6 * k
        mask[c - 6 - 2 * k:c + 6, c - 8:c + 6 + 2 * k] = True
        img[mask] = [0.95, 0.2, 0.2]
        layout.write_image(root / "stripes" / "test" / "blob" / f"{k:03d}.png", (img * 255).round().astype(np.uint8))
        layout.write_mask(root / "stripes" / "ground_truth" / "blob" / f"{k:03d}_mask.png", mask)
    for k in range(n_good):
        img = _texture(rng, size)
        layout.write_image(root / "stripes" / "test" / "good" / f"{k:03d}.png", (img * 255).round().astype(np.uint8))
    return datasets.open_dataset(root)


# ------------------------------------------------------------------------- Table 7 rows
def test_ablation_rows_follow_table7():
    assert list(ablation.ABLATIONS) == ["F", "R", "HR", "FCA", "full"]
    paper = paper_table(7)
    assert list(paper.index) == list(ablation.ABLATIONS)
    for row, spec in ablation.ABLATIONS.items():
        assert [spec.marks[k] for k in ("F", "R", "HR", "FCA")] == paper.loc[row, ["F", "R", "HR", "FCA"]].tolist()
    assert ablation.ABLATIONS["R"].overrides == {"reference": "mean"}
    assert ablation.ABLATIONS["FCA"].overrides == {"statistic": "histogram", "sigma": 6.0, "bins": 10}
    assert ablation.ABLATIONS["HR"].method == "paper320"
    assert ablation.ABLATIONS["F"].random_features and not ablation.ABLATIONS["full"].random_features
    assert ablation.ABLATIONS["FCA"].marks["R"] is None  # "–" in the paper


def test_fca_ablated_row_is_the_authors_histogram(tmp_path):
    """conf/sc/hist.yaml: sigma 6, 10 bins, at the run's T; not the FCA preset's sigma_p."""
    from fca_utils import metrics, statistics
    from fca_utils.core.images import to_image_tensor
    from fca_utils.core.methods import PRESETS
    from fca_utils.evaluation.runs import configure

    ds = _make_dataset(tmp_path / "data", size=64, n_defect=1, n_good=0)
    spec = ablation.ABLATIONS["FCA"]
    preset = configure(spec.method, ds, 64, 64, **spec.overrides)
    t = ds.protocol.patch_size_for(64, 64)
    assert (preset.statistic, preset.sigma, preset.bins, preset.patch_size) == ("histogram", 6.0, 10, t)
    assert preset.sigma != PRESETS["paper"].sigma_p
    run = ablation.run_ablation(ds, tmp_path / "maps", rows=("FCA",), backbone="colors", progress=False)["FCA"]
    sample = next(ds.samples("stripes"))
    expected = statistics.histogram(to_image_tensor(sample.image)[0], t, bins=10, sigma=6.0).numpy()
    border = ds.protocol.border_for(64, 64)
    assert run.metrics["stripes"]["au_pro"] == pytest.approx(
        metrics.evaluate([expected], [sample.mask], border=border)["au_pro"], abs=1e-9)


# ------------------------------------------------------------------------- feature cache
def test_cached_extractor_returns_the_same_features_and_counts():
    inner = features.get_extractor("tem")
    cached = features.CachedExtractor(inner, max_items=2)
    assert cached.name == inner.name and cached.stride == inner.stride and cached.channels == inner.channels
    assert cached.output_size(30, 41) == inner.output_size(30, 41)
    a, b, c = (torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(s)) for s in range(3))
    first = cached(a)
    assert torch.equal(first, inner(a))
    first += 1.0  # the caller may modify its copy
    assert torch.equal(cached(a), inner(a))
    assert (cached.hits, cached.misses) == (1, 1)
    cached(b), cached(c)  # a is the least recently used: dropped
    assert len(cached) == 2
    cached(a)
    assert cached.misses == 4
    assert features.CachedExtractor(cached).inner is inner  # no double wrapping
    with pytest.raises(ValueError, match="max_items"):
        features.CachedExtractor(inner, max_items=0)


def test_cached_extractor_passes_through_localize():
    from fca_utils import localize

    img = np.random.default_rng(1).random((48, 48, 3)).astype(np.float32)
    cached = features.CachedExtractor(features.get_extractor("colors"))
    r1 = localize(img, preset="paper", backbone=cached, patch_size=5)
    r2 = localize(img, preset="paper", backbone=cached, patch_size=5, sigma_p=1.0)
    plain = localize(img, preset="paper", backbone="colors", patch_size=5)
    assert cached.hits == 1 and cached.misses == 1
    np.testing.assert_array_equal(r1.scores, plain.scores)
    assert not np.array_equal(r1.scores, r2.scores)


# ------------------------------------------------------------------------- random backbones
def test_random_efficientnet_is_deterministic_and_shaped_like_the_pretrained_one():
    x = torch.rand(1, 3, 64, 80, generator=torch.Generator().manual_seed(0))
    state = torch.random.get_rng_state()
    a = features.RandomEfficientNetLite0(seed=0)
    assert torch.equal(torch.random.get_rng_state(), state)  # caller's RNG untouched
    b = features.RandomEfficientNetLite0(seed=0)
    c = features.RandomEfficientNetLite0(seed=1)
    fa, fb, fc = a(x), b(x), c(x)
    assert fa.shape == (1, 152, 8, 10) and torch.isfinite(fa).all()
    assert torch.equal(fa, fb) and not torch.equal(fa, fc)
    assert fa.flatten(1).std(dim=1).item() > 0  # not a constant map
    pretrained = features.get_extractor("efficientnet_lite0")
    assert not torch.allclose(pretrained(x), fa)


def test_random_counterpart_matches_the_architecture(monkeypatch):
    eff = features.get_extractor("efficientnet_lite0")
    r = features.random_counterpart(eff)
    assert r.name == "random_efficientnet_lite0" and r.channels == eff.channels and r.stride == eff.stride
    assert features.random_counterpart(features.CachedExtractor(eff)) is r  # cached per device and seed

    class FakeWRN(features.Extractor):  # the paper's backbone without its weights
        name, stride, channels = "wide_resnet50_2", 8, 512

    asked = []
    monkeypatch.setattr(features.registry, "get_extractor",
                        lambda name, device=None, **kw: asked.append((name, kw)) or name)
    assert features.random_counterpart(FakeWRN(), seed=3) == "random_wrn50"  # built by features.get_extractor
    assert asked == [("random_wrn50", {"seed": 3})]
    monkeypatch.undo()
    with pytest.raises(ValueError, match="no random-init counterpart"):
        features.random_counterpart("colors")


# ------------------------------------------------------------------------- Table 7 run
def test_run_ablation_on_a_small_dataset(tmp_path):
    ds = _make_dataset(tmp_path / "data")
    runs = ablation.run_ablation(ds, tmp_path / "maps", backbone="efficientnet_lite0", progress=False)
    assert list(runs) == list(ablation.ABLATIONS)
    assert runs["F"].backbone == "random_efficientnet_lite0"
    assert all(r.backbone == "efficientnet_lite0" for k, r in runs.items() if k != "F")
    assert len({r.maps_dir for r in runs.values()}) == 5  # every row its own maps
    for run in runs.values():
        m = run.metrics["stripes"]
        assert m["images"] == 3 and 0 <= m["au_pro"] <= 1 and 0 <= m["pixel_auroc"] <= 1
    assert runs["full"].metrics["stripes"]["pixel_auroc"] > 0.9  # the red blob is found
    table = ablation.ablation_table(runs)
    assert list(table.columns) == ["F", "R", "HR", "FCA", "PRO", "AUROC"]
    assert table.loc["full", "PRO"] == pytest.approx(100 * runs["full"].mean("au_pro"))
    both = compare(table, paper_table(7))
    assert both.loc["full", "PRO paper"] == pn.TABLE7[-1]["PRO"]
    per_class = ablation.ablation_class_table(runs, "pixel_auroc")
    assert list(per_class.index) == ["stripes", "mean"] and list(per_class.columns) == list(runs)
    md = ablation.ablation_takeaway(runs)  # generated from the runs, nothing written by hand
    best = max(runs, key=lambda r: runs[r].mean("au_pro"))
    assert f"The best row is **{best}** ({100 * runs[best].mean('au_pro'):.2f})" in md
    cost = 100 * (runs["full"].mean("au_pro") - runs["R"].mean("au_pro"))
    paper_cost = pn.TABLE7[-1]["PRO"] - pn.TABLE7[1]["PRO"]
    assert f"{abs(cost):.2f} PRO points on average (paper: {paper_cost:.2f})" in md
    assert all(f"**{row} ablated**" in md for row in ("F", "R", "HR", "FCA"))
    with pytest.raises(ValueError, match="full"):
        ablation.ablation_takeaway({"R": runs["R"]})
    again = ablation.run_ablation(ds, tmp_path / "maps", rows=("R", "full"), backbone="efficientnet_lite0",
                                  progress=False)
    assert again["R"].computed == 0  # maps reused
    assert again["R"].metrics["stripes"]["au_pro"] == runs["R"].metrics["stripes"]["au_pro"]
    limited = ablation.run_ablation(ds, tmp_path / "maps", rows=("full",), backbone="efficientnet_lite0",
                                    max_images={"stripes": 2}, progress=False)
    assert limited["full"].metrics["stripes"]["images"] == 2 and limited["full"].computed == 0
    with pytest.raises(ValueError, match="no entry"):
        ablation.run_ablation(ds, tmp_path / "maps", rows=("full",), max_images={"felt": 2})
    with pytest.raises(ValueError, match="unknown Table 7 row"):
        ablation.run_ablation(ds, tmp_path / "maps", rows=("X",))


# ------------------------------------------------------------------------- Figure 9 grid
def test_sensitivity_grid_records_table_and_cache(tmp_path, monkeypatch):
    ds = _make_dataset(tmp_path / "data", size=64, n_defect=1)
    kw = dict(backbone="colors", t_offsets=(-2, 0, 2), sigma_p=(1.0, 3.0), sigma_s=(1.0,), progress=False)
    records = ablation.sensitivity_grid(ds, cache_dir=tmp_path / "cache", **kw)
    base = ds.protocol.patch_size_for(64, 64)  # 3 for a 64 x 64 image: offset -2 is skipped
    assert sorted({r["T"] for r in records}) == [base, base + 2]
    assert len(records) == 2 * 2
    assert all(0 <= r["au_pro"] <= 1 and r["images"] == 2 for r in records)
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 4

    def boom(*args, **kwargs):
        raise AssertionError("should have been read from the cache")

    monkeypatch.setattr(ablation, "localize", boom)
    assert ablation.sensitivity_grid(ds, cache_dir=tmp_path / "cache", **kw) == records
    monkeypatch.undo()

    offsets, sps, sss, values, t_by_class = ablation.sensitivity_array(records)
    assert offsets == [0, 2] and sps == [1.0, 3.0] and sss == [1.0] and values.shape == (2, 2, 1)
    assert t_by_class == {"stripes": [base, base + 2]}
    table = ablation.sensitivity_table(records)
    assert list(table.columns) == ["σ_p=1", "σ_p=3"]
    assert list(table.index) == [f"T={base}, σ_s=1", f"T={base + 2}, σ_s=1"]
    rec = next(r for r in records if r["T"] == base and r["sigma_p"] == 3.0)
    assert table.loc[f"T={base}, σ_s=1", "σ_p=3"] == pytest.approx(100 * rec["au_pro"])

    md = ablation.sensitivity_takeaway(records, records)
    at_base = [100 * r["au_pro"] for r in records if r["T"] == base]
    assert f"At T = {base}, σ_p moves the class-mean PRO by at most {max(at_base) - min(at_base):.2f} points" in md
    best = max(records, key=lambda r: r["au_pro"] if r["sigma_p"] == 3.0 else -1)
    assert f"the best window is T = {best['T']} ({100 * best['au_pro']:.2f})" in md

    absolute = ablation.sensitivity_grid(ds, t_values=(5,), sigma_p=(3.0,), sigma_s=(1.0,), backbone="colors",
                                         progress=False)
    assert [r["T"] for r in absolute] == [5] and absolute[0]["T_offset"] == 5 - base
    with pytest.raises(ValueError, match="odd"):
        ablation.sensitivity_grid(ds, t_values=(4,), backbone="colors", progress=False)


# ------------------------------------------------------------------------- Figures 6 and 7
def test_crop_around_defect_takes_the_largest_crop_with_enough_coverage():
    mask = np.zeros((256, 256), bool)
    yy, xx = np.mgrid[:256, :256]
    mask[(yy - 100) ** 2 + (xx - 150) ** 2 <= 40 ** 2] = True  # disk of radius 40
    image = np.zeros((256, 256, 3), np.uint8)
    img, m, (y0, y1, x0, x1), cov = failure_cases.crop_around_defect(image, mask, coverage=0.5, multiple=8, min_side=32)
    assert img.shape[:2] == m.shape == (y1 - y0, x1 - x0) and y1 - y0 == x1 - x0
    assert cov >= 0.5 and cov == pytest.approx(m.mean())
    side = y1 - y0
    assert (np.pi * 40 ** 2) / (side + 8) ** 2 < 0.5  # one step larger would not qualify
    assert 0 <= y0 and y1 <= 256 and 0 <= x0 and x1 <= 256
    # unreachable coverage: the crop with the highest coverage (here the smallest) is returned
    _, m, box, best = failure_cases.crop_around_defect(image, mask, coverage=1.0, multiple=8, min_side=96)
    assert box[1] - box[0] == 96 and best == pytest.approx(m.mean()) and best < 1.0
    with pytest.raises(ValueError, match="empty"):
        failure_cases.crop_around_defect(image, np.zeros_like(mask))


def test_center_crop_and_largest_defect(tmp_path):
    img = np.arange(10 * 12 * 3).reshape(10, 12, 3)
    mask = np.zeros((10, 12), bool)
    c_img, c_mask, box = failure_cases.center_crop(img, mask, 6)
    assert box == (2, 8, 3, 9) and c_img.shape == (6, 6, 3) and c_mask.shape == (6, 6)
    with pytest.raises(ValueError, match="larger"):
        failure_cases.center_crop(img, mask, 11)
    ds = _make_dataset(tmp_path / "data")
    entry = failure_cases.largest_defect_entry(ds, "stripes")
    areas = {e.stem: ds.load(e).mask.sum() for e in ds.entries("stripes", "blob")}
    assert entry.stem == max(areas, key=areas.get)
    assert failure_cases.largest_defect_entry(ds, "stripes", side=64).defect_type == "blob"
    with pytest.raises(ValueError, match="no defective"):
        failure_cases.largest_defect_entry(ds, "stripes", defect_types=["cut"])


def test_annotation_variants_and_case_metrics():
    mask = np.zeros((100, 100), bool)
    mask[30:60, 40:70] = True
    variants = failure_cases.annotation_variants(mask, radius=3)
    assert set(variants) == {"given", "tight", "loose"}
    assert (variants["tight"] <= mask).all() and (mask <= variants["loose"]).all()
    assert variants["tight"].sum() < mask.sum() < variants["loose"].sum()
    clean = np.full((100, 100, 3), 100, np.uint8)
    image = clean.copy()
    image[35:55, 45:65] = 160  # visible core
    image[30:60, 40:70][~np.pad(np.ones((20, 20), bool), 5)] = 101  # invisible soft edge inside the mask
    visible = failure_cases.annotation_variants(mask, image=image, clean=clean)["visible"]
    assert visible[45, 55] and not visible[31, 41] and not visible[0, 0]
    assert failure_cases.count_regions(mask) == 1
    stray = mask.copy()
    stray[80, 80] = stray[81, 81] = True  # diagonal neighbours: one 8-connected region
    assert failure_cases.count_regions(stray) == 2 and failure_cases.count_regions(np.zeros((4, 4))) == 0
    perfect = failure_cases.case_metrics(mask.astype(np.float32), mask, border=5)
    assert perfect == {"PRO": pytest.approx(100.0), "AUROC": pytest.approx(100.0), "F1": pytest.approx(100.0)}
    half = failure_cases.case_metrics(np.zeros((50, 50), np.float32), mask)  # upsampled to the mask, constant
    assert half["AUROC"] == pytest.approx(50.0)


def test_seam_mask_is_a_strip_around_the_outline():
    mask = np.zeros((100, 100), bool)
    mask[40:60, 20:80] = True
    seams = failure_cases.seam_mask(mask, radius=3)
    assert seams[40, 50] and seams[37, 50] and seams[62, 50]       # on the outline, outside and inside it
    assert not seams[50, 50] and not seams[30, 50]                  # the band's middle, far outside
    edge = np.zeros((100, 100), bool)
    edge[0:20, 20:80] = True                                        # touching the image border
    assert not failure_cases.seam_mask(edge, radius=3)[0, 50]
    assert failure_cases.thickness_radius(mask) == 5                 # a 20 px thick band: a quarter of it
    assert (failure_cases.seam_mask(mask) == failure_cases.seam_mask(mask, radius=5)).all()
    thin = np.zeros((100, 100), bool)
    thin[50, 10:90] = True
    assert failure_cases.thickness_radius(thin) == 1


def test_displaced_copy_finds_the_shift_of_a_moved_band():
    rng = np.random.default_rng(0)
    clean = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
    mask = np.zeros((64, 80), bool)
    mask[20:28, 10:60] = True
    image = clean.copy()
    image[20:28, 10:60] = clean[20:28, 3:53]                       # moved by 7 px along x
    found = failure_cases.displaced_copy(image, clean, mask)
    assert found["copied"] == 100.0 and found["shift"] == 7 and found["axis"] == "x"
    assert found["changed"] > 95
    painted = clean.copy()
    painted[mask] = 0                                               # not a moved copy of anything
    assert failure_cases.displaced_copy(painted, clean, mask)["copied"] < 50
    with pytest.raises(ValueError, match="same size"):
        failure_cases.displaced_copy(image[:10], clean, mask)


def test_clean_image_of_the_embedded_benchmark():
    from fca_utils.datasets import synthetic

    spec = next(s for s in synthetic.CLASSES if s.name == "gravel")
    sample = next(s for s in synthetic.render_class(spec) if s.defect_type == "color" and s.stem == "001")
    clean = failure_cases.clean_image("gravel", "color", "001", check=sample.image)
    np.testing.assert_array_equal(clean, sample.clean)
    changed = np.any(sample.image != clean, axis=-1)
    assert changed.any() and not (changed & ~sample.mask).any()  # changes only inside the mask
    with pytest.raises(RuntimeError, match="differs"):
        failure_cases.clean_image("gravel", "color", "001", check=clean)
    with pytest.raises(ValueError, match="unknown embedded class"):
        failure_cases.clean_image("felt", "color", "000")
    with pytest.raises(ValueError, match="no test image"):
        failure_cases.clean_image("gravel", "phase", "000")


def test_case_maps_and_plot_cases(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    ds = _make_dataset(tmp_path / "data", size=64, n_defect=1, n_good=0)
    sample = next(ds.samples("stripes"))
    cached = features.CachedExtractor(features.get_extractor("colors"))
    maps = failure_cases.case_maps(sample.image, {"ours": "paper", "ours T": "paper"}, ds, backbone=cached)
    assert list(maps) == ["ours", "ours T"] and maps["ours"].shape == (64, 64) and cached.hits == 1
    m = failure_cases.case_metrics(maps["ours"], sample.mask, border=6)
    assert set(m) == {"PRO", "AUROC", "F1"} and m["AUROC"] > 90
    variants = failure_cases.annotation_variants(sample.mask)
    fig = failure_cases.plot_cases([("case", sample.image, variants, maps)], ["input", "gt", "a", "b"], border=[6])
    assert len(fig.axes) == 4
    fig.savefig(tmp_path / "cases.png")


def test_shared_cache_between_ablation_and_grid(tmp_path):
    ds = _make_dataset(tmp_path / "data", size=64, n_defect=1, n_good=0)
    cached = features.CachedExtractor(features.get_extractor("colors"))
    runs = ablation.run_ablation(ds, tmp_path / "maps", rows=("R", "FCA", "full"), backbone=cached, progress=False)
    assert cached.misses == 1 and cached.hits == 2
    table = ablation.ablation_table(runs, marks=False)
    assert list(table.columns) == ["PRO", "AUROC"] and list(table.index) == ["R", "FCA", "full"]
    ablation.sensitivity_grid(ds, t_offsets=(0,), sigma_p=(3.0,), sigma_s=(1.0,), backbone=cached, progress=False)
    assert cached.misses == 1 and len(cached) == 1  # the caller's cache is reused and kept


# ------------------------------------------------------------------------- fidelity report (notebook 06)
def test_default_deviations_name_the_options_against_the_authors_defaults():
    from fca_utils.paper import fidelity

    by_row = {d.row: d for d in fidelity.DEVIATIONS}
    assert by_row["antialiasing"].option == {"antialias": True} and by_row["antialiasing"].default == {}
    assert (by_row["Laws' TEM"].default, by_row["Laws' TEM"].option) == ({"extractor": "tem"},
                                                                         {"extractor": "tem_energy"})
    assert (by_row["steerable filters"].default, by_row["steerable filters"].option) == (
        {"extractor": "steerable"}, {"extractor": "steerable_g2h2"})
    assert [by_row[r].option["knn_k"] for r in ("k-NN k=5", "k-NN k=20")] == [5, 20]
    assert all(by_row[r].method == "paper320_knn" for r in ("k-NN k=5", "k-NN k=20"))
    with pytest.raises(ValueError, match="kind"):
        fidelity.Deviation("x", "other", {}, {}, "a", "b", "ours")
    with pytest.raises(ValueError, match="extractor"):
        fidelity.Deviation("x", "features", {}, {"extractor": "colors"}, "a", "b", "ours")


def test_run_fidelity_measures_each_option_against_its_default(tmp_path):
    from fca_utils.core.methods import Preset
    from fca_utils.evaluation import tables
    from fca_utils.evaluation.runs import run_method
    from fca_utils.paper import experiments, fidelity

    ds = _make_dataset(tmp_path / "data", size=96, n_defect=2, n_good=1)
    small = Preset("small", 48, 3)                       # shrinks the 96 px images: antialiasing matters
    small_knn = Preset("small_knn", 48, 3, reference="knn")
    deviations = (
        fidelity.Deviation("aa", "preset", {}, {"antialias": True}, "bilinear", "antialiased", "authors", small),
        fidelity.Deviation("colors vs random", "features", {"extractor": "colors"}, {"extractor": "random"},
                           "colors", "random", "ours"),
        fidelity.Deviation("k=3", "preset", {}, {"knn_k": 3}, "k=10", "k=3", "ours", small_knn),
    )
    setting = experiments.Setting(image_size=32, patch_size=5, sigma=1.0, sigma_p=1.0, sigma_s=0.5)
    records = fidelity.run_fidelity(ds, tmp_path / "maps", setting, deviations=deviations, backbone="colors",
                                    progress=False)
    assert [r["row"] for r in records] == ["aa", "colors vs random", "k=3"]
    assert all(r["images"] == 3 for r in records)
    aa = records[0]
    plain = run_method(ds, small, tmp_path / "maps", backbone="colors", progress=False)
    smooth = run_method(ds, small, tmp_path / "maps", backbone="colors", progress=False, antialias=True)
    assert plain.computed == smooth.computed == 0  # the same maps, read back from the cache
    assert (aa["pro_default"], aa["pro_option"]) == (plain.mean("au_pro"), smooth.mean("au_pro"))
    assert aa["pro_default"] != aa["pro_option"]
    grid = experiments.evaluate_grid(ds, {"c": features.get_extractor("colors"), "r": features.get_extractor("random")},
                                     ["fca"], ["global"], setting, progress=False)
    assert records[1]["pro_default"] == grid.mean("c", "fca", "global")
    assert records[1]["pro_option"] == grid.mean("r", "fca", "global")

    t = fidelity.fidelity_table(records)
    assert list(t.columns) == ["default", "PRO default", "option", "PRO option", "Δ PRO points"]
    assert list(t.index) == ["aa", "colors vs random", "k=3"]
    assert t.loc["k=3", "Δ PRO points"] == pytest.approx(100 * (records[2]["pro_option"] - records[2]["pro_default"]))
    text = tables.to_text(t)
    assert "antialiased" in text and f"{100 * aa['pro_default']:.2f}" in text
    delta = 100 * (aa["pro_option"] - aa["pro_default"])
    assert f"{delta:+.2f}" in text

    md = fidelity.fidelity_takeaway(records, noise=1.0)
    assert all(f"**{r['row']}**" in md for r in records)
    largest = max(records, key=lambda r: abs(r["pro_option"] - r["pro_default"]))
    assert f"largest effect is **{largest['row']}**" in md
    with pytest.raises(ValueError, match="unique"):
        fidelity.run_fidelity(ds, tmp_path / "maps", setting, deviations=deviations[:1] * 2, backbone="colors")
    with pytest.raises(ValueError, match="no records"):
        fidelity.fidelity_takeaway([])


# ------------------------------------------------------------------------- takeaways (notebook 08)
def _fig7(values):
    import pandas as pd

    rows, data = [], []
    for case, per_method in values.items():
        for method, (defect, pro, auroc, f1) in zip(("Ours (median)", "Ours320 (median)", "Ours320 + k-NN"), per_method):
            rows.append(f"{case}{failure_cases.SEPARATOR}{method}")
            data.append([512, defect, pro, auroc, f1])
    return pd.DataFrame(data, rows, ["size", "defect %", "PRO", "AUROC", "F1"], dtype=float)


def test_figure7_takeaway_follows_the_numbers():
    t = _fig7({"(a) tiles/color/000": [(2.6, 34.3, 74.8, 15.1), (2.6, 41.0, 72.2, 22.3), (2.6, 85.8, 95.8, 55.9)],
               "(a) tiles/phase/000": [(3.3, 80.8, 98.3, 74.9), (3.3, 64.2, 97.9, 77.2), (3.3, 95.4, 99.9, 92.0)],
               "(b) woven/color/001 [0:320, 0:320]": [(56.2, 1.9, 23.7, 88.8), (56.2, 1.9, 23.7, 88.8),
                                                      (56.2, 2.9, 16.6, 88.8)]})
    md = failure_cases.figure7_takeaway(t, backbone="efficientnet_lite0")
    assert "`tiles/color/000` 34.30 / 41.00 / 85.80; `tiles/phase/000` 80.80 / 64.20 / 95.40" in md
    assert "in 2 of 2 cases (+44.80, +31.20): as the paper says, k-NN fixes this failure here" in md
    assert "`woven/color/001 [0:320, 0:320]` is 56.2 % defective" in md
    assert "below 50 (an inverted map: normal pixels score higher) for Ours (median), Ours320 (median), Ours320 + k-NN" in md
    assert "k-NN references do not help (within noise)" in md and "F1-max is the same (88.80) for every map" in md
    assert "matches the paper's statement" in md and "`efficientnet_lite0`, not the paper's" in md
    t.loc["(a) tiles/phase/000 · Ours320 + k-NN", "PRO"] = 63.0  # k-NN no longer helps on one case ...
    t.loc["(b) woven/color/001 [0:320, 0:320] · Ours (median)", ["PRO", "AUROC", "F1"]] = [70.0, 80.0, 90.0]
    md = failure_cases.figure7_takeaway(t)
    assert "in 1 of 2 cases (+44.80, −1.20): k-NN does not fix this failure in every case here" in md
    assert "for Ours320 (median), Ours320 + k-NN." in md and "F1-max is the same" not in md
    assert "the median reference still reaches PRO ≥ 50, unlike the paper's example" in md


def test_figure6_takeaway_follows_the_numbers():
    import pandas as pd

    idx = [f"brick/blur/000{failure_cases.SEPARATOR}{a}" for a in ("given", "tight", "loose")]
    t = pd.DataFrame({"regions": [2, 1, 1], "Ours PRO": [39.7, 87.1, 70.4], "Ours F1": [48.8, 54.5, 44.0],
                      "Aota PRO": [39.4, 87.2, 70.1], "Aota F1": [59.1, 67.5, 51.1]}, index=idx)
    md = failure_cases.figure6_takeaway(t)
    assert "Ours' PRO ranges from 39.70 (given, 2 regions) to 87.10 (tight, 1 region)" in md
    assert "F1-max from 44.00 (loose) to 54.50 (tight); on the given mask Ours and Aota differ by 0.30 PRO and 10.30" in md
    assert "in 1 of 1 images for PRO and 1 of 1 for F1-max. On every image the annotation matters more" in md
    t["Aota PRO"] = t["Ours PRO"] - 60  # now the method matters far more than the annotation, in both metrics
    t["Aota F1"] = t["Ours F1"] - 40
    md = failure_cases.figure6_takeaway(t)
    assert "in 0 of 1 images for PRO and 0 of 1 for F1-max; the paper's point" in md
    moved = {"changed": 99.0, "copied": 90.0, "shift": 18, "axis": "x"}
    md = failure_cases.figure6_takeaway(t, evidence={"brick/blur/000": moved}).splitlines()
    assert md[0].startswith("* `brick/blur/000`: the annotated region is normal texture, moved: 99.0 %")
    assert "90.0 % equal the defect-free texture 18 px away along x" in md[0]
    assert md[1].startswith("* `brick/blur/000`: Ours' PRO ranges")
    painted = failure_cases.displacement_sentence("c", {**moved, "copied": 10.0})
    assert "is not simply moved normal texture" in painted and "and only 10.0 %" in painted
