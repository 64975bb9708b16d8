"""fca-localize writes a float TIFF and an overlay PNG for one's own image."""
import numpy as np
import tifffile
from PIL import Image

from fca_utils import localize
from fca_utils.cli import localize as cli


def test_cli_writes_tiff_and_overlay(tmp_path, capsys):
    rng = np.random.default_rng(0)
    img = (rng.random((96, 128, 3)) * 255).astype(np.uint8)
    img[40:60, 50:70] = 255  # a bright square defect
    src = tmp_path / "texture.png"
    Image.fromarray(img).save(src)
    out = tmp_path / "out" / "map.png"

    assert cli.main([str(src), "-o", str(out), "--backbone", "efficientnet_lite0"]) == 0

    scores = tifffile.imread(out.with_suffix(".tiff"))
    assert scores.dtype == np.float32 and scores.shape == (96, 128)
    np.testing.assert_allclose(scores, localize(img, backbone="efficientnet_lite0").scores, rtol=1e-5)
    overlay = np.array(Image.open(out))
    assert overlay.shape == (96, 128, 3)
    assert sorted(p.name for p in out.parent.iterdir()) == ["map.png", "map.tiff"]  # no temp files left
    assert "efficientnet_lite0" in capsys.readouterr().out


def test_cli_reports_bad_input(tmp_path, capsys):
    assert cli.main([str(tmp_path / "missing.png")]) == 2
    assert "not found" in capsys.readouterr().err
    tiny = tmp_path / "tiny.png"
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(tiny)
    assert cli.main([str(tiny), "--backbone", "efficientnet_lite0"]) == 2
    assert "image too small" in capsys.readouterr().err
    assert not list(tmp_path.glob("tiny_fca*"))


def test_console_script_points_at_the_cli():
    """``fca-localize`` (pyproject's [project.scripts]) runs this very ``main``."""
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "fca-localize"]
    assert script.load() is cli.main
