"""The papermill runner: order, failure reporting, exit status, index."""
import os

import nbformat
import pytest

from fca_utils.cli import reproduce


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in sources])
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


WRITE_TABLE = (
    "from pathlib import Path\n"
    "folder = Path(output_dir) / NAME / 'tables'\n"
    "folder.mkdir(parents=True, exist_ok=True)\n"
    "(folder / 't.md').write_text('| a |\\n|---|\\n| ' + mode + ' |')\n"
    "(folder / 't.csv').write_text('a\\n1')\n"
)


def test_series_order_failure_and_index(tmp_path, capsys):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "00_good.ipynb", "mode = 'quick'\noutput_dir = '.'", "NAME = '00_good'\n" + WRITE_TABLE)
    _notebook(nbs / "01_bad.ipynb", "mode = 'quick'\noutput_dir = '.'", "x = 1", "raise RuntimeError('boom')")
    (nbs / "notes.ipynb").write_text("{}")  # not part of the series: no NN_ prefix
    out = tmp_path / "out"

    status = reproduce.main(["--notebooks", str(nbs), "--output-dir", str(out), "--mode", "full"])

    assert status == 1
    err = capsys.readouterr().err
    assert "01_bad" in err and "RuntimeError: boom" in err and "raise RuntimeError" in err
    assert (out / "notebooks" / "00_good.ipynb").is_file() and (out / "notebooks" / "01_bad.ipynb").is_file()
    index = (out / "index.md").read_text()
    assert index.index("00_good") < index.index("01_bad")
    assert "| full |" in index  # the parameter reached the notebook, its table is inlined
    assert "FAILED" in index
    landing = (out / "site" / "index.html").read_text()  # the site, built from the executed notebooks
    assert landing.index("00_good.html") < landing.index("01_bad.html")
    assert "<td>ok</td>" in landing and "<td>FAILED</td>" in landing and "<td>full</td>" in landing
    assert (out / "site" / "01_bad.html").is_file()


def test_site_alone_needs_an_earlier_run(tmp_path, capsys):
    assert reproduce.main(["--site", "--output-dir", str(tmp_path)]) == 1
    assert "no executed notebooks" in capsys.readouterr().err
    assert not (tmp_path / "site").exists()


def test_only_selects_and_rejects_unknown(tmp_path):
    for name in ("00_a", "01_b", "02_c"):
        _notebook(tmp_path / f"{name}.ipynb", "x = 1")
    assert [p.stem for p in reproduce.find_notebooks(tmp_path, only=["01", "02"])] == ["01_b", "02_c"]
    with pytest.raises(ValueError, match="match no notebook"):
        reproduce.find_notebooks(tmp_path, only=["07"])
    with pytest.raises(FileNotFoundError, match="no notebooks"):
        reproduce.find_notebooks(tmp_path / "empty")


def test_index_links_notebooks_outside_the_output_folder(tmp_path):
    (tmp_path / "out").mkdir()
    outcome = reproduce.Outcome("00_x", 1.0, tmp_path / "nbs" / "00_x.ipynb")  # --inplace: executed in notebooks/
    index = reproduce.write_index(tmp_path / "out", [outcome], "quick")
    assert "[00_x](../nbs/00_x.ipynb)" in index.read_text()


def test_backbone_download_is_tried_once_for_the_whole_series(tmp_path, monkeypatch):
    from fca_utils import features

    tried = []
    monkeypatch.delenv("FCA_OFFLINE")  # as on a user's machine; restored after the test
    monkeypatch.setattr(features, "weights_path", lambda name: tmp_path / "hub" / "wrn.pth")
    monkeypatch.setattr(features.weights, "try_download", lambda name: tried.append(name) or False)
    assert reproduce.settle_backbone_download("colors") is None and tried == []  # named backbone: nothing to try
    note = reproduce.settle_backbone_download(None)
    assert tried == ["wide_resnet50_2"] and os.environ["FCA_OFFLINE"] == "1" and "offline backbone" in note
    assert reproduce.settle_backbone_download("auto") is None and tried == ["wide_resnet50_2"]  # not tried again

    monkeypatch.delenv("FCA_OFFLINE")
    monkeypatch.setattr(features.weights, "try_download", lambda name: tried.append(name) or True)
    assert reproduce.settle_backbone_download("auto") is None  # downloaded: notebooks use the paper's backbone
    assert "FCA_OFFLINE" not in os.environ and tried == ["wide_resnet50_2", "wide_resnet50_2"]


def test_fresh_removes_cached_maps_only_when_asked(tmp_path):
    nbs, out = tmp_path / "nbs", tmp_path / "out"
    nbs.mkdir()
    _notebook(nbs / "00_x.ipynb", "mode = 'quick'\noutput_dir = '.'", "x = 1")
    cached = out / "maps" / "embedded" / "paper-x" / "a.tiff"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"map")
    args = ["--notebooks", str(nbs), "--output-dir", str(out), "--mode", "full", "--backbone", "colors"]
    assert reproduce.main(args) == 0 and cached.is_file()  # resuming is the default
    assert reproduce.main(args + ["--fresh"]) == 0 and not (out / "maps").exists()


def test_notebook_kernels_run_without_progress_bars(tmp_path, monkeypatch):
    monkeypatch.delenv("FCA_PROGRESS", raising=False)
    nbs, out = tmp_path / "nbs", tmp_path / "out"
    nbs.mkdir()
    _notebook(nbs / "00_env.ipynb", "mode = 'quick'\noutput_dir = '.'",
              "import os\nfrom fca_utils.core.io import progress_bar\nNAME = '00_env'\n"
              "mode = 'FCA_PROGRESS=' + os.environ.get('FCA_PROGRESS', 'unset') + ' silent=' + "
              "str(progress_bar(range(2)).disable)\n" + WRITE_TABLE)
    args = ["--notebooks", str(nbs), "--output-dir", str(out), "--mode", "full", "--backbone", "colors"]
    assert reproduce.main(args) == 0
    assert "| FCA_PROGRESS=0 silent=True |" in (out / "index.md").read_text()
    assert "FCA_PROGRESS" not in os.environ  # the runner's own environment is restored


def test_cell_timeout_fails_that_notebook_and_the_series_goes_on(tmp_path, capsys):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "00_hangs.ipynb", "mode = 'quick'\noutput_dir = '.'", "import time\ntime.sleep(60)")
    _notebook(nbs / "01_after.ipynb", "mode = 'quick'\noutput_dir = '.'", "x = 1")
    out = tmp_path / "out"

    status = reproduce.main(["--notebooks", str(nbs), "--output-dir", str(out), "--mode", "full",
                             "--cell-timeout", "3"])

    assert status == 1
    captured = capsys.readouterr()
    assert "00_hangs" in captured.err and "longer than --cell-timeout (3 s)" in captured.err
    assert "01_after: ok" in captured.out
    landing = (out / "site" / "index.html").read_text()  # the site says what the run said
    assert landing.count("<td>FAILED</td>") == 1 and landing.count("<td>ok</td>") == 1


def test_stale_widget_state_is_dropped_but_live_widgets_are_kept(tmp_path):
    stale = tmp_path / "00_stale.ipynb"
    _notebook(stale, "x = 1")
    nb = nbformat.read(stale, as_version=4)
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"m": {}}}}
    nbformat.write(nb, stale)
    assert reproduce.drop_stale_widget_state(stale)
    assert "widgets" not in nbformat.read(stale, as_version=4).metadata

    live = tmp_path / "01_live.ipynb"
    nb.cells[0].outputs = [nbformat.v4.new_output("display_data", data={reproduce.WIDGET_VIEW: {"model_id": "m"}})]
    nbformat.write(nb, live)
    assert not reproduce.drop_stale_widget_state(live)
    assert "widgets" in nbformat.read(live, as_version=4).metadata
