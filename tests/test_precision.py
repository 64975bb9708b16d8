"""bfloat16 on the CPU (fca_utils.features.precision): when "auto" picks it, and how far it moves features and maps."""
import csv

import numpy as np
import pytest
import torch
from PIL import Image

from fca_utils import datasets, features, localize
from fca_utils.cli import localize as cli
from fca_utils.core.images import to_image_tensor
from fca_utils.features import precision

#: Largest feature difference seen with bfloat16, relative to the float32 maximum
#: (benchmarks/bench_backbone.py at 1024²: 4.1e-2 and 1.2e-2), with a margin.
FEATURE_TOLERANCE = {"efficientnet_lite0": 0.05, "random_wrn50": 0.02}


@pytest.fixture(scope="module")
def grass():
    sample = next(iter(datasets.open_dataset("embedded").samples("grass")))
    return sample.image[:256, :256]


@pytest.fixture
def bf16_cpu(monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_bfloat16", lambda: True)


@pytest.fixture
def plain_cpu(monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_bfloat16", lambda: False)


def test_auto_picks_bfloat16_only_for_measured_networks_on_a_cpu_that_has_it(bf16_cpu):
    net, colors = features.get_extractor("efficientnet_lite0"), features.get_extractor("colors")
    assert net.bfloat16_on_cpu and not colors.bfloat16_on_cpu
    assert precision.resolve_precision("auto", net, "cpu") == "bfloat16"
    assert precision.resolve_precision("auto", net, None) == "bfloat16"
    assert precision.resolve_precision("auto", colors, "cpu") == "float32"
    assert precision.resolve_precision("auto", net, "cuda") == "float32"
    assert precision.resolve_precision("float32", net, "cpu") == "float32"
    assert precision.resolve_precision("bfloat16", colors, "cpu") == "bfloat16"


def test_auto_is_float32_without_native_bfloat16(plain_cpu):
    net = features.get_extractor("efficientnet_lite0")
    assert precision.resolve_precision("auto", net, "cpu") == "float32"
    assert precision.resolve_precision("bfloat16", net, "cpu") == "bfloat16"


def test_precision_is_checked():
    net = features.get_extractor("efficientnet_lite0")
    with pytest.raises(ValueError, match=r"precision must be one of \('auto', 'float32', 'bfloat16'\), got 'fp16'"):
        precision.resolve_precision("fp16", net, "cpu")
    with pytest.raises(ValueError, match="the device is cuda"):
        precision.resolve_precision("bfloat16", net, "cuda")


def test_cpu_flags_are_read_from_proc_cpuinfo():
    flags = precision.cpu_flags()
    assert isinstance(flags, frozenset)
    try:
        with open("/proc/cpuinfo") as f:
            listed = any(line.startswith("flags") for line in f)
    except OSError:
        listed = False
    assert bool(flags) == listed
    assert precision.cpu_has_bfloat16() == bool(flags & {"avx512_bf16", "amx_bf16"})


@pytest.mark.parametrize("name", sorted(FEATURE_TOLERANCE))
def test_bfloat16_features_stay_within_the_measured_tolerance(name, grass):
    ex = features.get_extractor(name)
    img = to_image_tensor(grass)
    wrapped = features.Bfloat16Extractor(ex)
    assert (wrapped.name, wrapped.stride, wrapped.output_size(256, 256)) == (ex.name, ex.stride, ex.output_size(256, 256))
    ref, low = ex(img), wrapped(img)
    assert low.dtype == torch.float32 and low.shape == ref.shape
    diff = ((low - ref).abs().max() / ref.abs().max()).item()
    assert 1e-4 < diff < FEATURE_TOLERANCE[name]  # bfloat16 did run, and stayed close
    assert torch.equal(ex(img), ref)  # the wrapped extractor is left in float32


def test_bfloat16_extractor_wraps_extractors_only():
    with pytest.raises(TypeError, match="wraps a features.Extractor, got str"):
        features.Bfloat16Extractor("random_wrn50")


def test_localize_reports_and_applies_its_precision(grass):
    kw = dict(preset="paper", backbone="efficientnet_lite0", image_size=256)
    exact = localize(grass, precision="float32", **kw)
    low = localize(grass, precision="bfloat16", **kw)
    assert (exact.meta["precision"], low.meta["precision"]) == ("float32", "bfloat16")
    assert exact.feature_scores.shape == low.feature_scores.shape
    diff = np.abs(low.feature_scores - exact.feature_scores).max() / exact.feature_scores.max()
    assert 1e-5 < diff < 0.05
    again = localize(grass, precision="float32", **kw)
    assert np.array_equal(again.scores, exact.scores)


def test_localize_auto_follows_the_cpu(grass, monkeypatch):
    kw = dict(preset="paper", backbone="efficientnet_lite0", image_size=256)
    monkeypatch.setattr(precision, "cpu_has_bfloat16", lambda: False)
    plain = localize(grass, **kw)
    assert plain.meta["precision"] == "float32"
    assert np.array_equal(plain.scores, localize(grass, precision="float32", **kw).scores)
    monkeypatch.setattr(precision, "cpu_has_bfloat16", lambda: True)
    fast = localize(grass, **kw)
    assert fast.meta["precision"] == "bfloat16"
    assert np.array_equal(fast.scores, localize(grass, precision="bfloat16", **kw).scores)


def test_cli_takes_the_package_precisions(capsys):
    parser = cli.build_parser()
    assert parser.parse_args(["a.png"]).precision == "auto"
    for value in features.PRECISIONS:
        assert parser.parse_args(["a.png", "--precision", value]).precision == value
    with pytest.raises(SystemExit):
        parser.parse_args(["a.png", "--precision", "fp16"])
    assert "invalid choice: 'fp16'" in capsys.readouterr().err


def test_cli_folder_records_the_precision_and_recomputes_on_a_change(tmp_path, capsys):
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    for i in range(2):
        Image.fromarray((np.random.default_rng(i).random((64, 64, 3)) * 255).astype(np.uint8)).save(folder / f"{i}.png")

    def run(value):
        code = cli.main([str(folder), "-o", str(out), "--backbone", "colors", "--no-progress", "--precision", value])
        with open(out / "scores.csv", newline="") as f:
            return code, capsys.readouterr().out, [row["precision"] for row in csv.DictReader(f)]

    assert run("float32")[::2] == (0, ["float32", "float32"])
    code, printed, rows = run("float32")
    assert "2 of 2 images already done" in printed and rows == ["float32", "float32"]
    code, printed, rows = run("bfloat16")
    assert code == 0 and "precision: bfloat16" in printed and "already done" not in printed
    assert rows == ["bfloat16", "bfloat16"]
