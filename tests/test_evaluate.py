"""Dataset runs (fca_utils.evaluate) and notebook reporting (fca_utils.report)."""
import numpy as np
import pytest
import torch

from fca_utils import metrics
from fca_utils.evaluation import runs as evaluate
from fca_utils.paper import report
from fca_utils.datasets import DatasetNotFoundError, map_path, read_anomaly_map
from fca_utils.evaluation.tables import table


@pytest.fixture
def tiny_dataset(spot_dataset):
    """Two classes, 48 x 48: two good images, three with a bright 8 x 8 square."""
    return spot_dataset(48, n_good=2, n_spot=3, first=(10, 12), step=(8, 6), side=8)


def test_select_entries_is_deterministic_and_covers_defect_types(tiny_dataset):
    picked = evaluate.select_entries(tiny_dataset, "a", 3)
    assert picked == evaluate.select_entries(tiny_dataset, "a", 3)
    # one of each type first (good, spot), then the next good; kept in the dataset's order
    assert [(e.defect_type, e.stem) for e in picked] == [("good", "000"), ("good", "001"), ("spot", "000")]
    assert evaluate.select_entries(tiny_dataset, "a") == tiny_dataset.entries("a")
    with pytest.raises(ValueError, match="positive"):
        evaluate.select_entries(tiny_dataset, "a", 0)


def test_configure_follows_protocol_or_keeps_the_method_size(tiny_dataset):
    full = evaluate.configure("paper", tiny_dataset, 1024, 1024)
    assert full.image_size is None and full.patch_size == 9
    assert evaluate.configure("paper", tiny_dataset, 512, 512).patch_size == 5
    assert evaluate.configure("paper320", tiny_dataset, 1024, 1024).patch_size == 3
    assert evaluate.configure("paper", tiny_dataset, 1024, 1024, patch_size=7).patch_size == 7
    with pytest.raises(ValueError, match="unknown preset parameter"):
        evaluate.configure("paper", tiny_dataset, 64, 64, window=3)
    with pytest.raises(ValueError, match="unknown method"):
        evaluate.configure("nope", tiny_dataset, 64, 64)


def test_run_writes_maps_resumes_and_recomputes_corrupt_ones(tiny_dataset, tmp_path):
    kwargs = dict(backbone="colors", patch_size=5, progress=False)
    run = evaluate.run_method(tiny_dataset, "paper", tmp_path / "maps", **kwargs)
    assert run.computed == 10 and run.reused == 0 and run.backbone == "colors"

    # The metrics are those of the written maps, with the protocol's 10 % border.
    entries = tiny_dataset.entries("a")
    maps = [read_anomaly_map(map_path(run.maps_dir, "a", e.defect_type, e.stem)) for e in entries]
    masks = [tiny_dataset.load(e).mask for e in entries]
    expected = metrics.evaluate(maps, masks, border=5)
    assert run.metrics["a"]["au_pro"] == expected["au_pro"]
    assert run.metrics["a"]["images"] == 5 and run.metrics["a"]["border"] == 5
    assert run.metrics["a"]["pixel_auroc"] > 0.9  # the bright squares are found
    assert np.isfinite(run.seconds_per_image())

    again = evaluate.run_method(tiny_dataset, "paper", tmp_path / "maps", **kwargs)
    assert again.computed == 0 and again.reused == 10
    assert again.metrics["a"]["au_pro"] == run.metrics["a"]["au_pro"]

    victim = map_path(run.maps_dir, "b", "spot", "001")
    victim.write_bytes(victim.read_bytes()[:100])  # an interrupted write
    resumed = evaluate.run_method(tiny_dataset, "paper", tmp_path / "maps", **kwargs)
    assert resumed.computed == 1 and resumed.reused == 9
    assert resumed.metrics["b"]["au_pro"] == run.metrics["b"]["au_pro"]

    other = evaluate.run_method(tiny_dataset, "paper", tmp_path / "maps", classes=["a"], max_images=3,
                                backbone="colors", patch_size=3, progress=False)
    assert other.maps_dir != run.maps_dir and other.computed == 3 and list(other.metrics) == ["a"]


def test_regenerated_data_never_reuses_old_maps(tiny_dataset, tmp_path):
    """A dataset with a manifest (the embedded benchmark): new manifest, new maps folder."""
    kwargs = dict(backbone="colors", patch_size=5, progress=False, classes=["a"], max_images=2)
    plain = evaluate.run_method(tiny_dataset, "paper", tmp_path / "maps", **kwargs)
    (tiny_dataset.root / "manifest.json").write_text('{"generator_version": "1"}')
    first = evaluate.run_method(tiny_dataset, "paper", tmp_path / "maps", **kwargs)
    assert first.maps_dir != plain.maps_dir and first.computed == 2
    assert evaluate.run_method(tiny_dataset, "paper", tmp_path / "maps", **kwargs).reused == 2
    (tiny_dataset.root / "manifest.json").write_text('{"generator_version": "2"}')
    second = evaluate.run_method(tiny_dataset, "paper", tmp_path / "maps", **kwargs)
    assert second.maps_dir != first.maps_dir and second.computed == 2 and second.reused == 0


def test_run_rejects_unknown_classes_and_methods(tiny_dataset, tmp_path):
    with pytest.raises(ValueError, match="no class"):
        evaluate.run_method(tiny_dataset, "paper", tmp_path, classes=["zebra"], backbone="colors")
    with pytest.raises(ValueError, match="unknown method"):
        evaluate.run_method(tiny_dataset, "fancy", tmp_path, backbone="colors")


def test_report_start_saves_tables_and_figures(tmp_path, tiny_dataset, capsys):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nb = report.start("99_test", mode="full", dataset=str(tiny_dataset.root), device="cpu", backbone="colors",
                      output_dir=tmp_path / "out")
    printed = capsys.readouterr().out
    assert "backbone: colors" in printed and "tiny" in printed and "mode: full" in printed
    assert nb.dataset.classes == ["a", "b"] and not nb.quick

    csv = nb.save_table(table({"x": [1.5]}, ["PRO"], title="T", index_name="m"), "t")
    assert csv == tmp_path / "out" / "99_test" / "tables" / "t.csv"
    assert csv.read_text().splitlines() == ["m,PRO", "x,1.5"]
    assert csv.with_suffix(".md").read_text().startswith("**T**\n\n| m ")
    assert sorted(p.name for p in csv.parent.iterdir()) == ["t.csv", "t.md"]  # no temporary files left

    fig = plt.figure()
    paths = nb.save_figure(fig, "f")
    plt.close(fig)
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 0 for p in paths)
    assert sorted(p.name for p in paths[0].parent.iterdir()) == ["f.pdf", "f.png"]  # no temporary files left


def test_report_start_explains_bad_parameters(tmp_path):
    with pytest.raises(ValueError, match="mode must be one of"):
        report.start("x", mode="fast", backbone="colors", output_dir=tmp_path)
    with pytest.raises(DatasetNotFoundError, match="fca_utils.datasets prepare mvtec"):
        report.start("x", mode="full", dataset="mvtec", data_root=tmp_path / "nowhere", backbone="colors",
                     output_dir=tmp_path)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            report.start("x", device="cuda", backbone="colors", load_data=False, output_dir=tmp_path)
    assert report.start("x", backbone="colors", load_data=False, output_dir=tmp_path, verbose=False).dataset is None


def test_comparison_grid_draws_figure5_and_figure8(tiny_dataset):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fca_utils.evaluation import viz

    samples = list(tiny_dataset.samples("a", "spot"))[:2]
    images, masks = [s.image for s in samples], [s.mask for s in samples]
    maps = {"A": [m.astype(float) for m in masks], "B": [1.0 - m for m in masks]}
    fig5 = viz.comparison_grid(images, masks, maps, {k: viz.class_normalizer(v) for k, v in maps.items()}, border=4)
    assert fig5.axes[0].get_title() == "image" and [a.get_title() for a in fig5.axes[:4]][-1] == "B"
    assert fig5.axes[2].get_images()[0].get_array().shape[:2] == (40, 40)  # cropped
    fig8 = viz.comparison_grid(images, masks, maps, thresholds={"A": 0.5, "B": [0.5, 0.7]})
    assert len(fig8.axes) == 2 * 3
    plt.close("all")
    with pytest.raises(ValueError, match="either normalizers"):
        viz.comparison_grid(images, masks, maps)
    with pytest.raises(ValueError, match="has 1 maps for 2 images"):
        viz.comparison_grid(images, masks, {"A": maps["A"][:1]}, thresholds={"A": 0.5})


# ------------------------------------------------------------------ takeaway (notebook 05)
def test_evaluation_takeaway_follows_the_numbers():
    import pandas as pd

    from fca_utils.paper.tables import paper_table

    ours = pd.DataFrame({"PRO": [80.0, 75.0, 78.0, 75.5]}, index=["Ours", "Ours320", "Ours320 + k-NN", "Aota et al."])
    per_class = {"Ours320 + k-NN": {"a": 70.0, "b": 86.0}, "Ours320": {"a": 72.0, "b": 78.0},
                 "Ours": {"a": 79.0, "b": 81.0}, "Aota et al.": {"a": 70.0, "b": 82.0}}
    md = report.evaluation_takeaway(ours, paper_table(3), per_class=per_class, dataset="embedded",
                                    paper_dataset="MVTec AD", backbone="efficientnet_lite0", noise=1.0)
    assert ("Ours (embedded): Ours (80.00) > Ours320 + k-NN (78.00) > Aota et al. (75.50) ≈ Ours320 (75.00); the paper "
            "(MVTec AD): Ours (97.18) > Ours320 + k-NN (95.58) > Ours320 (95.46) > Aota et al. (93.82)") in md
    assert "The paper's order, up to differences below 1 point (≈)." in md
    assert "**Ours vs. Ours320** (full resolution instead of 320²): +5.00 PRO points (a gain); the paper: +1.72." in md
    assert "Ours320 + k-NN ahead in 1 of 2 classes (b), behind in 1 of 2 (a); from +8.00 (`b`) to −2.00 (`a`)" in md
    assert "`efficientnet_lite0`, not the paper's WideResNet-50-2" in md
    ours.loc["Aota et al.", "PRO"] = 82.0  # the baseline overtakes every row of ours
    md = report.evaluation_takeaway(ours, paper_table(3), noise=1.0)
    assert "Unlike the paper: Aota et al. ahead of Ours, Aota et al. ahead of Ours320" in md
    assert "**Ours vs. Aota et al.** (FCA against the baseline of Aota et al.): −2.00 PRO points (a loss)" in md
    assert "Per class" not in md and "features are" not in md
    # Table 4 rows without Ours320: the k-NN effect is read from "Ours + k-NN" against "Ours"
    t4 = pd.DataFrame({"PRO": [90.0, 90.5]}, index=["Ours", "Ours + k-NN"])
    md = report.evaluation_takeaway(t4, paper_table(4, dataset="Aitex"), noise=1.0)
    assert "**Ours + k-NN vs. Ours** (k-NN references instead of the median, at 320²): +0.50 PRO points (within noise); the paper: +0.17." in md


def test_full_resolution_cost():
    md = report.full_resolution_cost({"efficientnet_lite0": 3.0, "random_wrn50": 7.2}, images=500, device="cpu",
                                     what="texture images")
    assert "7.20 s with `random_wrn50`" in md and "3.00 s with `efficientnet_lite0`" in md
    assert "all 500 texture images with the paper's network: about 60 min" in md
    with pytest.raises(KeyError):
        report.full_resolution_cost({"efficientnet_lite0": 3.0}, images=1, device="cpu")
