"""One's own images: folders and globs, resume, shared colour scale, masks, unreadable files, weights."""
import csv
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from fca_utils import ImageReadError, find_images, localize, localize_many
from fca_utils.cli import localize as cli
from fca_utils.evaluation import metrics
from fca_utils.evaluation.viz import inner_range, overlay, range_normalizer

BACKBONE = "colors"  # fast; the mechanics do not depend on the backbone


def texture(size=96, seed=0, defect=False):
    rng = np.random.default_rng(seed)
    img = (rng.random((size, size, 3)) * 80 + 80).astype(np.uint8)
    mask = np.zeros((size, size), bool)
    if defect:
        img[30:50, 40:60] = (250, 20, 20)
        mask[30:50, 40:60] = True
    return img, mask


def make_folder(root, corrupt=True):
    (root / "sub").mkdir(parents=True)
    Image.fromarray(texture(seed=1)[0]).save(root / "a.png")
    Image.fromarray(texture(seed=2, defect=True)[0]).save(root / "sub" / "b.png")
    if corrupt:
        data = (root / "a.png").read_bytes()
        (root / "trunc.png").write_bytes(data[: len(data) // 2])
        (root / "text.png").write_text("not an image\n")
        (root / "notes.txt").write_text("ignored: not an image name\n")


def listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def run(args, out):
    return cli.main([*map(str, args), "-o", str(out), "--backbone", BACKBONE, "--no-progress"])


def test_folder_with_good_corrupt_and_non_image_files(tmp_path, capsys):
    make_folder(tmp_path / "in")
    out = tmp_path / "out"
    assert run([tmp_path / "in"], out) == 1
    err = capsys.readouterr().err
    assert "2 of 4 images failed" in err
    assert re.search(r"cannot read image \S*trunc\.png: corrupt or truncated image", err)
    assert re.search(r"cannot read image \S*text\.png: not an image file", err)
    assert "Traceback" not in err and "notes.txt" not in err
    assert listing(out) == ["a_fca.png", "a_fca.tiff", "scores.csv", "sub", "sub/b_fca.png", "sub/b_fca.tiff"]
    rows = (out / "scores.csv").read_text().splitlines()
    assert rows[0] == "path,image_score,seconds,backbone,preset,precision" and len(rows) == 3
    scores = tifffile.imread(out / "sub" / "b_fca.tiff")
    expected = localize(tmp_path / "in" / "sub" / "b.png", preset="own", backbone=BACKBONE).scores
    np.testing.assert_allclose(scores, expected, rtol=1e-6)
    assert f"{float(expected.max()):.6g}" in rows[2]


def test_globs_and_several_files(tmp_path):
    make_folder(tmp_path / "in", corrupt=False)
    assert run([f"{tmp_path}/in/**/*.png"], tmp_path / "g") == 0
    assert (tmp_path / "g" / "sub" / "b_fca.tiff").is_file()
    assert find_images([tmp_path / "in" / "a.png", f"{tmp_path}/in/*/*.png"]) == [
        tmp_path / "in" / "a.png", tmp_path / "in" / "sub" / "b.png"]
    with pytest.raises(ValueError, match="no file matches"):
        find_images(f"{tmp_path}/nothing*.png")


def test_single_unreadable_file_is_one_line_and_status_2(tmp_path, capsys):
    make_folder(tmp_path)
    for name, reason in [("trunc.png", "corrupt or truncated"), ("text.png", "not an image file"),
                         ("missing.png", "file not found")]:
        assert cli.main([str(tmp_path / name), "--backbone", BACKBONE]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and name in err[0] and reason in err[0]
        with pytest.raises(ImageReadError, match=re.escape(name) + ".*" + reason):
            localize(tmp_path / name, backbone=BACKBONE)
    assert not list(tmp_path.glob("*_fca*"))


def test_killed_run_leaves_no_partial_file_and_resumes(tmp_path, capsys):
    """A real interruption: ``fca-localize`` in its own process, killed with SIGKILL (no
    handler, no ``finally`` runs) once the first image's outputs are complete, while it
    works on the second, larger image."""
    import fca_utils

    backbone = "efficientnet_lite0"  # offline; slow enough on the large image for the kill to land there
    folder = tmp_path / "in"
    folder.mkdir()
    for name, size, seed in [("a", 96, 1), ("b", 480, 2), ("c", 96, 3)]:
        Image.fromarray(texture(size, seed)[0]).save(folder / f"{name}.png")
    out = tmp_path / "out"
    root = str(Path(fca_utils.__file__).resolve().parents[1])  # this copy of the package
    env = dict(os.environ, FCA_OFFLINE="1", FCA_PROGRESS="0",
               PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    command = [sys.executable, "-m", "fca_utils.cli.localize", str(folder), "-o", str(out),
               "--backbone", backbone, "--no-progress"]
    log = tmp_path / "run.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while not (str(folder / "a.png") in _csv_paths(out / "scores.csv") and (out / "a_fca.tiff").is_file()):
            assert process.poll() is None, f"fca-localize exited early ({process.returncode}): {log.read_text()}"
            assert time.monotonic() < deadline, f"the first image was not done within 300 s: {log.read_text()}"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=60) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=60)

    assert listing(out) == ["a_fca.tiff", "scores.csv"]  # nothing of b or c, no temporary file
    expected = localize(folder / "a.png", backbone=backbone).scores
    # complete: the whole map, equal up to float rounding (another process's oneDNN may sum in another order)
    np.testing.assert_allclose(tifffile.imread(out / "a_fca.tiff"), expected, rtol=1e-5, atol=1e-5 * expected.max())
    assert _csv_paths(out / "scores.csv") == [str(folder / "a.png")]
    done_at = (out / "a_fca.tiff").stat().st_mtime_ns

    capsys.readouterr()
    assert cli.main([str(folder), "-o", str(out), "--backbone", backbone, "--no-progress"]) == 0
    assert "1 of 3 images already done" in capsys.readouterr().out
    assert (out / "a_fca.tiff").stat().st_mtime_ns == done_at  # skipped, not recomputed
    assert listing(out) == ["a_fca.png", "a_fca.tiff", "b_fca.png", "b_fca.tiff", "c_fca.png", "c_fca.tiff",
                            "scores.csv"]
    assert _csv_paths(out / "scores.csv") == [str(folder / f"{n}.png") for n in "abc"]
    expected = localize(folder / "b.png", backbone=backbone).scores
    np.testing.assert_allclose(tifffile.imread(out / "b_fca.tiff"), expected, rtol=1e-5, atol=1e-5 * expected.max())
    assert cli.main([str(folder), "-o", str(out), "--backbone", backbone, "--no-progress", "--overwrite"]) == 0
    assert (out / "a_fca.tiff").stat().st_mtime_ns != done_at


def _csv_paths(path):
    """The image paths listed in a ``scores.csv`` (none while it does not exist)."""
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return [row["path"] for row in csv.DictReader(f)]


def test_overlays_share_one_colour_scale(tmp_path):
    make_folder(tmp_path / "in", corrupt=False)
    out = tmp_path / "out"
    assert run([tmp_path / "in"], out) == 0
    maps = [tifffile.imread(out / "a_fca.tiff"), tifffile.imread(out / "sub" / "b_fca.tiff")]
    images = [np.array(Image.open(tmp_path / "in" / "a.png")), np.array(Image.open(tmp_path / "in" / "sub" / "b.png"))]
    ranges = [inner_range(m, 10) for m in maps]  # 10 % of 96 px ignored (Appendix B.2)
    shared = range_normalizer(min(r[0] for r in ranges), max(r[1] for r in ranges))
    assert ranges[0][1] < ranges[1][1]  # the defect-free map stays paler than the defective one
    for name, m, img in zip(["a_fca.png", "sub/b_fca.png"], maps, images):
        np.testing.assert_array_equal(np.array(Image.open(out / name)), overlay(img, shared(m)))
    assert cli.main([str(tmp_path / "in"), "-o", str(out), "--backbone", BACKBONE, "--no-progress",
                     "--normalize", "image"]) == 0
    own = range_normalizer(*ranges[0])
    np.testing.assert_array_equal(np.array(Image.open(out / "a_fca.png")), overlay(images[0], own(maps[0])))


def test_metrics_with_masks_equal_the_library(tmp_path, capsys):
    make_folder(tmp_path / "in", corrupt=False)
    Image.fromarray(texture(seed=3)[0]).save(tmp_path / "in" / "c.png")
    gt = tmp_path / "gt"
    (gt / "sub").mkdir(parents=True)
    Image.fromarray(texture(seed=2, defect=True)[1].astype(np.uint8) * 255).save(gt / "sub" / "b_mask.png")
    Image.fromarray(np.zeros((96, 96), np.uint8)).save(gt / "c_mask.png")  # empty mask: defect-free
    out = tmp_path / "out"                                                  # a.png: no mask, defect-free
    for border_args, border in [([], 0), (["--border", "paper"], 10)]:
        assert run([tmp_path / "in", "--masks", gt, *border_args], out) == 0
        printed = capsys.readouterr().out
        assert "1 with defects, 2 defect-free" in printed
        maps = [tifffile.imread(out / n) for n in ("a_fca.tiff", "sub/b_fca.tiff", "c_fca.tiff")]
        expected = metrics.evaluate(maps, [None, texture(seed=2, defect=True)[1], None], border=border)
        for label, key in [("AU-PRO", "au_pro"), ("pixel AUROC", "pixel_auroc"), ("F1-max", "f1_max"),
                           ("image AUROC", "image_auroc")]:
            value = float(re.search(re.escape(label) + r"[^:]*:\s+([0-9.]+)", printed).group(1))
            assert value == pytest.approx(expected[key], abs=6e-5), label


def test_localize_many_yields_results_and_errors(tmp_path):
    make_folder(tmp_path / "in")
    outcomes = list(localize_many(tmp_path / "in", preset="own", backbone=BACKBONE, progress=False,
                                  errors="collect"))
    assert [o.path.name for o in outcomes] == ["a.png", "b.png", "text.png", "trunc.png"]
    assert [o.ok for o in outcomes] == [True, True, False, False]
    assert isinstance(outcomes[2].error, ImageReadError)
    np.testing.assert_array_equal(outcomes[0].result.scores,
                                  localize(tmp_path / "in" / "a.png", preset="own", backbone=BACKBONE).scores)
    with pytest.raises(ImageReadError, match="text.png"):
        list(localize_many(tmp_path / "in", backbone=BACKBONE, progress=False))
    arrays = list(localize_many([texture()[0], texture(seed=5)[0]], backbone=BACKBONE, progress=False))
    assert [o.path for o in arrays] == [None, None] and all(o.ok for o in arrays)


def test_wrong_weights_file_is_a_clear_error(tmp_path, capsys):
    from fca_utils.features import MissingWeightsError

    wrong = tmp_path / "wide_resnet50_2-95faca4d.pth"
    wrong.write_bytes(b"not the weights")
    Image.fromarray(texture()[0]).save(tmp_path / "a.png")
    assert cli.main([str(tmp_path / "a.png"), "--weights", str(wrong)]) == 2
    err = capsys.readouterr().err
    assert "SHA-256" in err and "95faca4d" in err and str(wrong) in err and "Traceback" not in err
    with pytest.raises(MissingWeightsError, match="expected one starting with 95faca4d"):
        localize(texture()[0], weights=wrong)
    with pytest.raises(MissingWeightsError, match="does not exist"):
        localize(texture()[0], weights=tmp_path / "nope.pth")
    with pytest.raises(ValueError, match="not 'colors'"):
        localize(texture()[0], backbone="colors", weights=wrong)


def test_missing_weights_message_names_the_option(tmp_path, monkeypatch):
    from fca_utils.features import MissingWeightsError
    from fca_utils.features.weights import load_state_dict

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty weights folder
    with pytest.raises(MissingWeightsError, match="--weights PATH"):
        load_state_dict("wide_resnet50_2", download=False)


def test_auto_backbone_offline_falls_back_and_says_so(monkeypatch):
    monkeypatch.setenv("FCA_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", "/nonexistent-torch-home")  # no WideResNet-50-2 weights
    (outcome,) = localize_many([texture()[0]], progress=False)
    assert outcome.result.meta["backbone"] == "efficientnet_lite0"
    assert "offline fallback" in outcome.result.meta["backbone_info"]


@pytest.mark.parametrize("name", ["random_wrn50", "efficientnet_lite0", "colors"])
def test_tiled_features_equal_the_whole_image(name):
    import torch

    from fca_utils import features
    from fca_utils.pipeline import tiled_features

    extractor = features.get_extractor(name)
    img = torch.rand(1, 3, 296, 232, generator=torch.Generator().manual_seed(0))
    whole = extractor(img)[0]
    tiled = tiled_features(extractor, img, tile=64)  # 5 x 4 tiles, margins cut at the image's edges
    assert tiled.shape == whole.shape
    torch.testing.assert_close(tiled, whole, rtol=1e-4, atol=1e-4 * float(whole.abs().max()))


def border_ratio(scores, band=0.1):
    """Issue 12's rule: the highest score in the band of ``band`` x the smaller side over the highest inside."""
    b = int(round(band * min(scores.shape)))
    inside = scores[b:-b, b:-b].max()
    ring = scores.copy()
    ring[b:-b, b:-b] = -np.inf
    return float(ring.max()) / float(inside) if inside > 0 else (0.0 if ring.max() == 0 else np.inf)


def interior(scores, band=0.1):
    """The map without its border band: a region with no image border in it (the control)."""
    b = int(round(band * min(scores.shape)))
    return scores[b:-b, b:-b]


def test_border_does_not_light_up_on_a_constant_image():
    gray = np.full((300, 300), 128, np.uint8)
    paper = localize(gray, preset="paper", backbone="efficientnet_lite0")
    assert border_ratio(paper.scores) > 1.2  # the authors' zero-padded backbone: a band along the border
    own = localize(gray, backbone="efficientnet_lite0")  # default preset: own
    assert own.meta["preset"] == "own" and own.meta["params"]["pad_mode"] == "periodic"
    assert own.meta["pad"] == 224  # half of the 355 px receptive field and 4 cells (T // 2) of 8 px, rounded up to 32 px
    assert border_ratio(own.scores) <= 1.2 and own.image_score < paper.image_score


@pytest.mark.parametrize("cls", ["wood", "tiles"])
def test_border_does_not_light_up_on_a_defect_free_image(cls):
    """Issue 12's criterion (band at most 1.2 x inside) on a defect-free embedded image: wood, a
    stochastic texture (circular frame), and tiles, a regular one (the frame continues its
    period and the statistic sees it; with a circular frame or the statistic's own mirror its
    band stayed at 1.34-1.42).

    Chosen because the criterion can hold on them: their control, the same rule on the map's
    interior (no image border in it), is below 1.2. Not every defect-free embedded image
    meets the criterion with ``own`` (``benchmarks/own_images_border.py`` and its section in
    ``benchmarks/README.md``).
    """
    from fca_utils.datasets import open_dataset

    dataset = open_dataset("embedded")
    image = dataset.load(dataset.entries(cls, "good")[0]).image
    paper = localize(image, preset="paper", backbone="efficientnet_lite0")
    own = localize(image, backbone="efficientnet_lite0")
    assert border_ratio(interior(own.scores)) <= 1.2  # reachable: the texture's own ratio
    assert border_ratio(paper.scores) > 1.2
    assert border_ratio(own.scores) <= 1.2
    assert own.meta["statistic_margin"] == (4 if cls == "tiles" else 0)


def test_masks_without_any_defect_are_refused(tmp_path, capsys):
    make_folder(tmp_path / "in", corrupt=False)
    (tmp_path / "gt").mkdir()
    Image.fromarray(np.zeros((96, 96), np.uint8)).save(tmp_path / "gt" / "a_mask.png")
    assert run([tmp_path / "in", "--masks", tmp_path / "gt"], tmp_path / "out") == 2
    assert "every image is defect-free" in capsys.readouterr().err
