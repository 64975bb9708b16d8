"""fca_utils.demos: the glue behind the quickstart explorer and Figures 3 and 4 (no network)."""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from fca_utils import features, statistics
from fca_utils.paper import demos
from fca_utils.core.methods import Preset, preset_map
from fca_utils.datasets.synthetic import toy_examples


def noise_image(size=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.25, 0.75, (size, size)).astype(np.float32)


def with_spot(img, y=30, x=20, r=2, value=1.0):
    out = img.copy()
    out[y - r:y + r + 1, x - r:x + r + 1] = value
    mask = np.zeros(img.shape[:2], bool)
    mask[y - r:y + r + 1, x - r:x + r + 1] = True
    return out, mask


# --- statistic_map -----------------------------------------------------------------------
@pytest.mark.parametrize("statistic", demos.STATISTICS)
def test_statistic_map_matches_the_preset_map(statistic):
    feats = torch.rand(4, 24, 20, generator=torch.Generator().manual_seed(0))
    preset = Preset("x", None, 5, statistic=statistic, sigma=2.0, sigma_p=2.0, sigma_s=1.0)
    expected = preset_map(feats, preset)
    got = demos.statistic_map(feats, statistic, patch_size=5, sigma_p=2.0, sigma_s=1.0)
    assert got.shape == (24, 20)
    assert torch.equal(got, expected)


def test_statistic_map_without_smoothing_is_eq5():
    feats = torch.rand(3, 20, 20, generator=torch.Generator().manual_seed(1))
    eq5 = statistics.fca(feats, 7, 2.0, None)
    assert torch.equal(demos.statistic_map(feats, "fca", 7, 2.0, None), eq5)
    assert torch.equal(demos.statistic_map(feats, "fca", 7, 2.0, 0.0), eq5)  # 0 means "no smoothing"
    assert not torch.equal(demos.statistic_map(feats, "fca", 7, 2.0, 1.0), eq5)


def test_statistic_map_rejects_unknown_statistic_and_large_patch():
    feats = torch.rand(2, 10, 10)
    with pytest.raises(ValueError, match="statistic must be one of"):
        demos.statistic_map(feats, "aota")
    with pytest.raises(ValueError, match="larger than the feature map"):
        demos.statistic_map(feats, "fca", patch_size=11)


# --- features ------------------------------------------------------------------------------
def test_intensity_features_equal_colors_for_gray_images():
    img = noise_image(32)
    f = demos.intensity_features(img)
    assert f.shape == (1, 32, 32) and f.dtype == torch.float32
    assert torch.allclose(f[0], torch.from_numpy(img))
    colors = features.get_extractor("colors")(torch.from_numpy(img)[None, None].expand(1, 3, -1, -1).contiguous())[0]
    a = demos.statistic_map(f, "fca", 7, 2.0, None)
    b = demos.statistic_map(colors, "fca", 7, 2.0, None)
    assert torch.allclose(a, b, atol=1e-6)


def test_feature_map_accepts_names_and_extractors():
    img = np.random.default_rng(0).random((40, 48, 3)).astype(np.float32)
    assert demos.feature_map(img, "intensity").shape == (1, 40, 48)
    assert demos.feature_map(img, "tem").shape == (9, 40, 48)
    ex = features.get_extractor("colors")
    assert torch.allclose(demos.feature_map(img, ex), torch.from_numpy(img).permute(2, 0, 1))


def test_to_image_size():
    fmap = torch.arange(16.0).view(4, 4)
    up = demos.to_image_size(fmap, (32, 32))
    assert up.shape == (32, 32) and up.dtype == np.float32
    assert up[0, 0] < up[-1, -1]
    same = demos.to_image_size(np.ones((5, 6)), (5, 6))
    assert same.shape == (5, 6) and np.all(same == 1)
    with pytest.raises(ValueError, match="2-D"):
        demos.to_image_size(torch.zeros(1, 4, 4), (8, 8))


def test_usable_extractors_never_downloads(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("usable_extractors tried to download")

    monkeypatch.setattr(features.weights, "download_weights", refuse)
    names = demos.usable_extractors()
    for name in ("colors", "random", "steerable", "tem", "efficientnet_lite0", "random_wrn50"):
        assert name in names
    for name in ("wide_resnet50_2", "vgg19"):
        assert (name in names) == features.weights_path(name).is_file()
    assert demos.usable_extractors(names=["tem", "colors"]) == ["tem", "colors"]
    with pytest.raises(ValueError, match="unknown feature extractor"):
        demos.usable_extractors(names=["nope"])


# --- Figure 3 ------------------------------------------------------------------------------
def test_compare_statistics_figure3_outlier_fca_is_sharper_than_large_histogram():
    """Sec. 3.2 / Figure 3: on a localized outlier, FCA's top pixels are the outlier's, the
    large-patch histogram's are spread around it."""
    outlier = toy_examples(96, seed=0)[0]
    maps = demos.compare_statistics(outlier.image, "intensity", {
        "fca": dict(statistic="fca", patch_size=15, sigma_p=4.0, sigma_s=None),
        "hist": dict(statistic="histogram", patch_size=15, sigma_p=4.0),
    })
    assert list(maps) == ["fca", "hist"]
    n = int(outlier.mask.sum())
    for name, m in maps.items():
        assert m.shape == outlier.mask.shape and m.dtype == np.float32
    top = lambda m: np.argsort(m.ravel())[-n:]  # noqa: E731
    hit = lambda m: outlier.mask.ravel()[top(m)].mean()  # noqa: E731
    assert hit(maps["fca"]) == 1.0
    assert hit(maps["hist"]) < 0.5


def test_compare_statistics_figure3_contextual_small_patch_cannot_single_it_out():
    """Sec. 3.2 / Figure 3: on the contextual toy the small-patch histogram scores normal cells as high
    as the anomaly, while the large patch and FCA score the anomaly above the normal texture on average."""
    contextual = toy_examples(128, seed=0)[1]
    maps = demos.compare_statistics(contextual.image, "intensity", {
        "fca": dict(statistic="fca", patch_size=25, sigma_p=6.0, sigma_s=None),
        "large": dict(statistic="histogram", patch_size=25, sigma_p=6.0),
        "small": dict(statistic="histogram", patch_size=5, sigma_p=6.0),
    })
    mask = contextual.mask
    y, x = np.nonzero(mask)
    far = np.ones_like(mask)
    far[max(y.min() - 24, 0):y.max() + 25, max(x.min() - 24, 0):x.max() + 25] = False  # out of every large window
    far[:12], far[-12:], far[:, :12], far[:, -12:] = False, False, False, False
    assert maps["small"][far].max() >= maps["small"][mask].max() - 1e-6
    for name in ("fca", "large"):
        assert maps[name][mask].mean() > 3 * maps[name][far].mean()
    assert maps["large"][mask].min() > maps["large"][far].max()


def test_compare_statistics_is_deterministic():
    outlier = toy_examples(64, seed=1)[0]
    settings = {"fca": dict(statistic="fca", patch_size=9, sigma_p=3.0, sigma_s=None),
                "hist": dict(statistic="histogram", patch_size=5, sigma_p=6.0)}
    a = demos.compare_statistics(outlier.image, "intensity", settings)
    b = demos.compare_statistics(outlier.image, "intensity", settings)
    for name in settings:
        assert np.array_equal(a[name], b[name])


# --- examples, figure, explorer ------------------------------------------------------------
class FakeEntry:
    def __init__(self, image, mask, stem):
        self.image, self.mask, self.stem = image, mask, stem


class FakeDataset:
    """The two methods of fca_utils.datasets.Dataset that load_examples uses."""

    name = "fake"

    def __init__(self):
        img, mask = with_spot(noise_image(80))
        rgb = (np.repeat(img[..., None], 3, 2) * 255).astype(np.uint8)
        self._entries = {("a", "spot"): [FakeEntry(rgb, mask, "000")]}

    def entries(self, cls, defect_type=None):
        return self._entries[(cls, defect_type)]

    def load(self, entry):
        from types import SimpleNamespace

        return SimpleNamespace(image=entry.image, mask=entry.mask, stem=entry.stem)


def test_load_examples_resizes_images_and_masks():
    ds = FakeDataset()
    out = demos.load_examples(ds, [("a", "spot", 0)], size=40)
    (label, (image, mask)), = out.items()
    assert label == "a/spot/000"
    assert image.shape == (40, 40, 3) and image.dtype == np.uint8
    assert mask.shape == (40, 40) and mask.dtype == bool and 4 <= mask.sum() <= 12
    full = demos.load_examples(ds, [("a", "spot", 0)], size=None)
    assert full[label][0].shape == (80, 80, 3)
    with pytest.raises(IndexError, match="out of range"):
        demos.load_examples(ds, [("a", "spot", 3)])


def test_result_figure_panels():
    img, mask = with_spot(noise_image(32))
    fig = demos.result_figure(img, mask, img, title="t")
    assert [ax.get_title() for ax in fig.axes] == ["image", "ground truth", "anomaly map", "overlay"]
    fig2 = demos.result_figure((img * 255).astype(np.uint8), None, img)
    assert len(fig2.axes) == 3
    import matplotlib.pyplot as plt

    plt.close("all")


def test_map_explorer_caches_features_and_finds_the_spot():
    img, mask = with_spot(noise_image(64), y=40, x=20)
    rgb = (np.repeat(img[..., None], 3, 2) * 255).astype(np.uint8)
    ex = demos.MapExplorer({"spot": (rgb, mask)}, fine_size=32)
    assert ex.labels == ["spot"] and ex.last_timing is None
    m = ex.compute("spot", "colors", "fca", 7, 2.0, 1.0)
    assert m.shape == (64, 64) and not ex.last_timing.features_cached  # the first map computes the features
    first = ex.last_timing
    assert ex.features("spot", "colors").shape == (3, 32, 32)  # stride-1 extractor at fine_size
    assert ex.features("spot", "colors") is ex.features("spot", "colors")  # cached
    assert mask.ravel()[int(np.argmax(m))]
    for statistic in demos.STATISTICS:
        for reference in demos.references_for(statistic):
            assert ex.compute("spot", "colors", statistic, 5, 2.0, 0.0, reference).shape == (64, 64)
            t = ex.last_timing
            assert t.features_cached and t.features_seconds == first.features_seconds  # the cached features' time
            assert "from the cache" in t.describe()
    with pytest.raises(KeyError, match="unknown example"):
        ex.compute("nope", "colors")
    with pytest.raises(ValueError, match="empty"):
        demos.MapExplorer({})


def test_map_explorer_reference_changes_the_map():
    img, mask = with_spot(noise_image(48, seed=3), y=20, x=30)
    ex = demos.MapExplorer({"x": (img, mask)}, fine_size=None)
    maps = {r: ex.compute("x", "colors", "fca", 5, 2.0, 1.0, r) for r in demos.references_for("fca")}
    assert np.array_equal(maps["median"], demos.to_image_size(demos.statistic_map(
        ex.features("x", "colors"), "fca", 5, 2.0, 1.0, "median"), (48, 48)))
    for r in ("mean", "random", "knn"):
        assert not np.allclose(maps[r], maps["median"]), r


def test_statistic_map_names_the_references_a_statistic_accepts():
    feats = torch.rand(2, 12, 12)
    assert demos.references_for("sww") == ("median", "mean", "random", "knn")
    with pytest.raises(ValueError, match=r"S=moments accepts the references \('median', 'random'\), got R='knn'"):
        demos.statistic_map(feats, "moments", 3, reference="knn")
    with pytest.raises(ValueError, match="got R='nearest'"):
        demos.statistic_map(feats, "fca", 3, reference="nearest")


def test_map_explorer_figure_titles_the_settings():
    img, mask = with_spot(noise_image(32))
    ex = demos.MapExplorer({"x": (img, mask)}, fine_size=None, source="toy")
    with pytest.raises(ValueError, match="larger than the feature map"):
        ex.compute("x", "colors", "fca", 41, 2.0, 1.0)  # T larger than the 32 x 32 feature map
    fig = ex.figure("x", "colors", "sww", 5, 2.0, 1.0, reference="mean")
    assert fig._suptitle.get_text().startswith("toy x: F=colors (3×32×32), S=sww, R=mean, T=5")
    import matplotlib.pyplot as plt

    plt.close("all")


# --- the ipywidgets explorer (driven through its widget objects, no browser) ------------------
def _app(**defaults):
    pytest.importorskip("ipywidgets", reason="the explorer app needs the notebooks extra")
    img, mask = with_spot(noise_image(48, seed=5), y=30, x=16)
    other, other_mask = with_spot(noise_image(48, seed=6), y=10, x=10)
    ex = demos.MapExplorer({"a": (img, mask), "b": (other, other_mask)}, fine_size=None)
    return demos.explorer_app(ex, ["colors", "tem"], dict(dict(F="colors", T=5, sigma_p=2.0), **defaults))


def _png_size(data):
    from PIL import Image
    import io

    return Image.open(io.BytesIO(data)).size


def test_explorer_app_controls_and_first_map():
    app = _app()
    assert set(app.controls) == set(demos.EXPLORER_CONTROLS)
    assert app.map in app.widget.children and "fca-map" in app.map._dom_classes
    assert app.map.format == "png" and app.map.value[:8] == b"\x89PNG\r\n\x1a\n" and _png_size(app.map.value)[0] > 100
    assert app.settings() == dict(label="a", extractor="colors", statistic="fca", patch_size=5, sigma_p=2.0,
                                  sigma_s=1.0, reference="median")
    assert np.array_equal(app.last_map, app.explorer.compute(**app.settings()))
    assert app.last_range == (float(app.last_map.min()), float(app.last_map.max()))
    assert "computed now" in app.status.value and "own range" in app.status.value and app.error is None


@pytest.mark.parametrize("control, value", [("T", 9), ("S", "histogram"), ("R", "knn"), ("sigma_p", 4.0),
                                            ("sigma_s", 0.0), ("F", "tem"), ("image", "b")])
def test_explorer_app_redraws_when_a_control_changes(control, value):
    app = _app()
    before_png, before_map = app.map.value, app.last_map
    app.controls[control].value = value
    assert app.error is None
    assert app.map.value != before_png
    assert not np.array_equal(app.last_map, before_map)
    assert np.array_equal(app.last_map, app.explorer.compute(**app.settings()))


def test_explorer_app_status_separates_feature_and_statistic_time():
    app = _app()
    assert "features F: " in app.status.value and "(computed now)" in app.status.value.split("features F:")[1]
    app.controls["T"].value = 7  # same image and F: features from the cache, statistic computed anew
    assert "from the cache (computed earlier in" in app.status.value
    app.controls["F"].value = "tem"  # new features
    assert "from the cache" not in app.status.value


def test_explorer_app_shared_scale_fixes_the_colour_range():
    app = _app()
    app.controls["shared_scale"].value = True
    fixed = app.last_range
    assert fixed == (float(app.last_map.min()), float(app.last_map.max())) and "shared" in app.status.value
    app.controls["sigma_s"].value = 0.0  # no smoothing: a map with other extremes
    assert app.last_map.max() != fixed[1] and app.last_range == fixed
    app.controls["S"].value = "sww"
    assert app.last_range == fixed
    app.controls["image"].value = "b"  # another image gets its own range
    own_b = (float(app.last_map.min()), float(app.last_map.max()))
    assert app.last_range == own_b
    app.controls["image"].value = "a"
    assert app.last_range == fixed
    app.controls["shared_scale"].value = False  # off: each map its own range again
    assert app.last_range == (float(app.last_map.min()), float(app.last_map.max())) != fixed


def test_explorer_app_explains_a_bad_setting_and_keeps_the_picture():
    app = _app()
    png = app.map.value
    app.controls["S"].value = "moments"
    app.controls["R"].value = "knn"
    assert "cannot compute this map" in app.status.value and "accepts the references" in app.error
    assert app.map.value != png  # the moments map was drawn before R changed
    drawn = app.map.value
    app.controls["T"].value = 15
    assert app.map.value == drawn and app.error
    app.controls["R"].value = "random"
    app.controls["T"].value = 5
    assert app.error is None and app.map.value != drawn


def test_explorer_app_rejects_bad_defaults():
    pytest.importorskip("ipywidgets", reason="the explorer app needs the notebooks extra")
    ex = demos.MapExplorer({"a": (noise_image(32), np.zeros((32, 32), bool))})
    with pytest.raises(ValueError, match="unknown explorer defaults"):
        demos.explorer_app(ex, ["colors"], {"patch_size": 3})
    with pytest.raises(ValueError, match=r"defaults\['F'\] = 'vgg19' is not among"):
        demos.explorer_app(ex, ["colors"], {"F": "vgg19"})
    with pytest.raises(ValueError, match="extractors is empty"):
        demos.explorer_app(ex, [], {})


# ------------------------------------------------------------------ takeaways (notebooks 00, 03)
def _fig3(rows):
    import pandas as pd

    cols = [f"{t} {m}" for t in ("outlier", "contextual") for m in ("AU-PRO", "AUROC", "F1-max")]
    return pd.DataFrame(rows, ["FCA (Eq. 5)", "Hist, large T=25", "Hist, small T=5"], cols, dtype=float)


def test_quickstart_takeaway_follows_the_numbers():
    md = demos.quickstart_takeaway("a/spot/000", {"au_pro": 0.994, "pixel_auroc": 0.998}, "efficientnet_lite0")
    assert "AU-PRO 99.40 % and pixel AUROC 99.80 %" in md and "follows the defect closely" in md
    assert "`efficientnet_lite0`, not the paper's WideResNet-50-2" in md
    md = demos.quickstart_takeaway("a/spot/000", {"au_pro": 0.5, "pixel_auroc": 0.8}, "wide_resnet50_2")
    assert "AU-PRO 50.00 %" in md and "misses much of the defect" in md and "the paper's WideResNet-50-2" in md


def test_figure3_takeaway_follows_the_numbers():
    paper_like = _fig3([[100, 100, 100, 90, 95, 40], [99, 99, 10, 60, 80, 30], [99, 99, 80, 30, 60, 20]])
    md = demos.figure3_takeaway(paper_like, "raw intensities")
    assert "F1-max FCA (Eq. 5) 100.00 % · Hist, large T=25 10.00 % · Hist, small T=5 80.00 %" in md
    assert "FCA's map is sharper than the large-patch histogram's, and the small patch raises" in md
    assert md.count(" holds here.") == 1 and "(FCA finds it, the small-patch histogram fails) holds." in md
    assert "FCA (Eq. 5) and Hist, large T=25 find it" in md
    # FCA misses the band, the large patch finds it: the contextual account holds only in part
    swapped = paper_like.copy()
    swapped.loc["FCA (Eq. 5)", "contextual AU-PRO"], swapped.loc["Hist, large T=25", "contextual AU-PRO"] = 30, 90
    md2 = demos.figure3_takeaway(swapped, "raw intensities")
    assert "holds in part: the small-patch histogram fails, but FCA fails too" in md2
    assert "Hist, large T=25 finds it" in md2
    # the large patch as sharp as FCA: the outlier account fails
    blunt = paper_like.copy()
    blunt.loc["Hist, large T=25", "outlier F1-max"] = 99.5
    assert "as sharp as (within noise)" in demos.figure3_takeaway(blunt, "x")
    assert "does not hold here" in demos.figure3_takeaway(blunt, "x")
    with pytest.raises(ValueError, match="cannot tell"):
        demos.figure3_takeaway(paper_like.rename(index={"Hist, small T=5": "Hist, tiny"}), "x")


def test_figure3_claims_count_a_map_that_separates_nothing_as_failing():
    """A high AU-PRO alone is not finding the anomaly: the small-patch histogram of the contextual toy
    ranks whole cells of the normal texture as high as the anomaly (AU-PRO near 50, F1-max near chance)."""
    t = _fig3([[100, 100, 100, 58, 74, 21], [99, 99, 11, 100, 100, 97], [100, 100, 82, 51, 85, 3]])
    claims = demos.figure3_claims(t)
    assert claims == {"outlier": {"sharp": True, "small_helps": True},
                      "contextual": {"fca_finds": True, "small_fails": True}}
    assert demos.figure3_claims(t, separated=25.0)["contextual"] == {"fca_finds": False, "small_fails": True}
    assert demos.figure3_claims(t, found=55.0)["contextual"]["small_fails"]
    t.loc["Hist, small T=5", "contextual F1-max"] = 12
    assert demos.figure3_claims(t)["contextual"]["small_fails"] is False
    t.loc["Hist, small T=5", "contextual AU-PRO"] = 49.9
    assert demos.figure3_claims(t)["contextual"]["small_fails"] is True
    # the outlier: a small patch no better than the large one within noise does not "help"
    t.loc["Hist, small T=5", "outlier F1-max"] = 12.5
    assert demos.figure3_claims(t)["outlier"] == {"sharp": True, "small_helps": False}
    assert demos.figure3_claims(t, noise=1.0)["outlier"]["small_helps"]


def test_figure3_takeaway_says_where_fca_trails_the_large_patch_with_the_evidence():
    t = _fig3([[100, 100, 100, 58, 74, 21], [99, 99, 11, 100, 100, 97], [100, 100, 82, 51, 85, 3]])
    top = {"n": 64, "in_anomaly": 0.171875, "same_values": 0.953125}
    md = demos.figure3_takeaway(t, "raw gray values", fca_top=top)
    assert "FCA (Eq. 5) and Hist, large T=25 find it" in md
    assert "(FCA finds it, the small-patch histogram fails) holds." in md
    assert "the large-patch histogram is ahead of FCA by 42.00 AU-PRO and 76.00 F1-max points" in md
    assert "Of FCA's 64 highest pixels (as many as the anomaly has), 17.19 % lie in the anomaly and 95.31 %" in md
    assert "ahead of FCA" not in demos.figure3_takeaway(_fig3([[100, 100, 100, 90, 95, 96]] + t.values[1:].tolist()),
                                                      "x", fca_top=top)


def test_metric_ordering_lists_the_maps_best_first_per_toy_and_metric():
    t = _fig3([[100, 100, 100, 58, 74, 21], [99, 99, 11, 100, 100, 97], [100, 100, 82, 51, 85, 3]])
    t.attrs["title"] = "Figure 3 toys"
    o = demos.metric_ordering(t, noise=2.0)
    assert list(o.index) == list(t.columns) and list(o.columns) == ["maps, best first"]
    assert o.loc["outlier F1-max", "maps, best first"] == (
        "FCA (Eq. 5) (100.00) > Hist, small T=5 (82.00) > Hist, large T=25 (11.00)")
    assert o.loc["outlier AU-PRO", "maps, best first"].count("≈") == 2
    assert o.loc["contextual AUROC", "maps, best first"].startswith("Hist, large T=25 (100.00) > Hist, small T=5")
    assert "Figure 3 toys" in o.attrs["title"]


def test_top_pixels_share_in_the_anomaly_and_at_its_values():
    values = np.tile(np.array([0.3, 0.7] * 4, np.float32), (8, 1))  # columns alternate 0.3 / 0.7
    mask = np.zeros((8, 8), bool)
    mask[2:4, 1] = True  # two pixels of value 0.7
    scores = np.zeros((8, 8), np.float32)
    scores[2, 1] = 5.0  # one in the anomaly
    scores[6, 3] = 4.0  # one outside, of the anomaly's value (0.7)
    out = demos.top_pixels(scores, mask, values)
    assert out == {"n": 2, "in_anomaly": 0.5, "same_values": 1.0}
    scores[6, 3], scores[6, 2] = 0.0, 4.0  # the second now at 0.3
    assert demos.top_pixels(scores, mask, values)["same_values"] == 0.5
    assert demos.top_pixels(scores, mask, values, border=1)["n"] == 2
    with pytest.raises(ValueError, match="no anomalous pixel inside the border"):
        demos.top_pixels(scores, mask, values, border=3)
    with pytest.raises(ValueError, match="one shape"):
        demos.top_pixels(scores[:4], mask, values)


def test_figure4_takeaway_follows_the_numbers():
    import pandas as pd

    t = pd.DataFrame({"FCA AU-PRO": [90, 80], "Hist AU-PRO": [89, 70], "FCA F1-max": [72, 40],
                      "Hist F1-max": [43, 41]}, index=["wood/scratch/000", "marble/foreign/000"], dtype=float)
    md = demos.figure4_takeaway(t, noise=2.0)
    assert "AU-PRO: FCA ahead on 1 of 2 (marble/foreign/000), within noise on 1 (wood/scratch/000)" in md
    assert "largest F1-max difference is on `wood/scratch/000`: FCA 72.00 % vs. histogram 43.00 %" in md
    t[["FCA F1-max", "Hist F1-max"]] = t[["Hist F1-max", "FCA F1-max"]].to_numpy()  # swap the F1-max columns
    md = demos.figure4_takeaway(t, noise=2.0)
    assert "F1-max: FCA ahead on 0 of 2, within noise on 1 (marble/foreign/000), behind on 1 (wood/scratch/000)" in md
