"""The companion as a static website, built from executed notebooks with Sphinx and MyST-NB.

    python -m fca_utils.reproduce            # runs the series, then builds outputs/site/
    python -m fca_utils.reproduce --site     # only (re)builds the site from an earlier run

:func:`build_site` turns a folder of executed ``NN_name.ipynb`` notebooks into
``<site>/index.html`` (a landing page) and one page per notebook, in the series' order.
The notebooks are *not* executed again (MyST-NB's ``nb_execution_mode = "off"``): the
site shows what the run computed. The landing page's results index (status, time, mode of
each notebook) is generated from the papermill metadata each executed notebook carries,
so it describes the run the pages come from.

Sphinx needs a source folder; it is written under ``<work_dir>/src`` (copies of the
notebooks, ``conf.py``, ``index.md``), never into the repository. The copies differ from
the executed notebooks in presentation only:

* every code cell gets MyST-NB's ``hide-input`` tag, so code is folded behind a
  sphinx-togglebutton ("Show code cell source") and the results come first;
* widget outputs are replaced, because rendering them needs JavaScript from a CDN (the site
  must work offline) and a live kernel: a progress bar (tqdm) is dropped, any other widget
  (an explorer) becomes a note: open the notebook in Jupyter, or run the explorer app (``voila``).

Hand-written here, because no Sphinx extension does it: the landing page and the
navigation titles. A notebook's title in the navigation is its file number, its first
heading without the heading's own number, and the paper's sections that its introduction
(first markdown cell) cites, e.g. ``02 · Feature extractors × patch statistics (Table 1)
— Sec. 3.1, 3.2; App. E``.
"""
from __future__ import annotations

import copy
import html
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..core.io import write_text

__all__ = ["PageInfo", "build_and_report", "build_site", "cited_sections", "explorer_app_command", "find_executed",
           "page_info", "presentable_copy"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
PROGRESS_MODELS = {"FloatProgressModel", "IntProgressModel"}

# "Sec. 3.2", "Section 5", "Sec. 3.2–3.3", "Appendix E", "Appendices A–B", "Sec. 3.1 and 3.4"
_SECTION = re.compile(
    r"\b(?:Sec(?:tion)?s?\.?|§)\s*(\d+(?:\.\d+)?(?:\s*[–-]\s*\d+(?:\.\d+)?)?"
    r"(?:\s*(?:,|and)\s*\d+(?:\.\d+)?(?:\s*[–-]\s*\d+(?:\.\d+)?)?)*)"
    r"|\bAppend(?:ix|ices)\s+([A-H](?:\s*[–-]\s*[A-H])?(?:\.\d+)?)")
_LEADING_NUMBER = re.compile(r"^\s*\d+\s*[—–·:.-]\s*")


@dataclass
class PageInfo:
    """What the landing page and the navigation say about one executed notebook."""
    stem: str            # e.g. "02_feature_extractors"
    number: str          # "02"
    heading: str         # first heading, without its own leading number
    sections: list[str]  # the paper's sections cited by the introduction, in order of first mention
    status: str          # "ok", "FAILED" or "not run by papermill"
    seconds: float | None
    started: str | None  # ISO time papermill recorded
    mode: str | None

    @property
    def paper(self) -> str:
        """The cited sections, compactly: ``"Sec. 3.1, 3.2; App. E"``."""
        groups = {}
        for label in self.sections:
            kind, _, number = label.partition(" ")
            groups.setdefault(kind, []).append(number)
        return "; ".join(f"{kind} {', '.join(numbers)}" for kind, numbers in groups.items())

    @property
    def nav_title(self) -> str:
        return f"{self.number} · {self.heading}" + (f" — {self.paper}" if self.sections else "")


def cited_sections(text: str) -> list[str]:
    """The paper's sections and appendices that ``text`` cites, in order of first mention.

    >>> cited_sections("features (Sec. 3.1 and 3.4), a statistic (Sec. 3.2–3.3); Appendix E")
    ['Sec. 3.1', 'Sec. 3.4', 'Sec. 3.2–3.3', 'App. E']
    """
    found: list[str] = []
    for match in _SECTION.finditer(text):
        if match.group(1):
            items = [f"Sec. {s.strip()}" for s in re.split(r",|\band\b", match.group(1)) if s.strip()]
        else:
            items = [f"App. {match.group(2).strip()}"]
        found += [i for i in items if i not in found]
    return found


def page_info(path: Path) -> PageInfo:
    """Read one executed notebook's title, cited sections and papermill run record."""
    import nbformat
    import papermill

    nb = nbformat.read(path, as_version=4)
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown" and c.source.strip()]
    first = markdown[0] if markdown else ""
    heading = next((line.lstrip("#").strip() for line in first.splitlines() if line.startswith("#")), path.stem)
    record = nb.metadata.get("papermill", {})
    if "duration" in record or "exception" in record:
        status = "FAILED" if record.get("exception") else "ok"
    else:
        status = "not run by papermill"
    mode = record.get("parameters", {}).get("mode")
    if mode is None and nb.metadata.get("kernelspec"):  # the parameters cell's default (papermill reads it)
        default = papermill.inspect_notebook(str(path)).get("mode", {}).get("default")
        mode = default.strip("\"'") if default else None
    return PageInfo(stem=path.stem, number=path.stem[:2], heading=_LEADING_NUMBER.sub("", heading),
                    sections=cited_sections(first), status=status, seconds=record.get("duration"),
                    started=record.get("start_time"), mode=mode)


def _widget_models(nb) -> dict:
    return nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})


def _is_progress_bar(model_id: str, models: dict, depth: int = 0) -> bool:
    """Whether the widget ``model_id`` is (or contains) a progress bar, as tqdm's are."""
    model = models.get(model_id)
    if model is None or depth > 8:
        return False
    if model.get("model_name") in PROGRESS_MODELS:
        return True
    children = model.get("state", {}).get("children", [])
    return any(_is_progress_bar(str(c).removeprefix("IPY_MODEL_"), models, depth + 1) for c in children)


def presentable_copy(nb, explorer_command: str):
    """A copy of ``nb`` for the site: code folded, widget outputs dropped or replaced (module docstring)."""
    import nbformat

    nb = copy.deepcopy(nb)
    models = _widget_models(nb)
    note = nbformat.v4.new_output(
        "display_data",
        data={"text/markdown": "*An interactive widget: it needs a live kernel, so open this notebook in "
                               "Jupyter. The explorer of F, S, T, σ_p and σ_s also runs as an app:* "
                               f"`{explorer_command}`.",
              "text/plain": "An interactive widget (needs a live kernel)."})
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.setdefault("tags", [])
        if "hide-input" not in tags:
            tags.append("hide-input")
        outputs = []
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                outputs.append(output)
            elif not _is_progress_bar(view.get("model_id", ""), models):
                outputs.append(copy.deepcopy(note))
        cell.outputs = outputs
    nb.metadata.pop("widgets", None)
    return nb


def _landing_page(pages: list[PageInfo], source: Path, explorer_command: str) -> str:
    """The landing page (MyST Markdown): the paper in brief, how to read the companion, the results index."""
    started = min((p.started for p in pages if p.started), default=None)
    when = f" on {started[:16].replace('T', ' ')} UTC" if started else ""
    modes = sorted({p.mode for p in pages if p.mode})
    total = sum(p.seconds or 0 for p in pages)
    rows = "\n".join(
        f'<tr><td><a href="{html.escape(p.stem)}.html">{html.escape(p.number)}</a></td>'
        f"<td>{html.escape(p.heading)}</td><td>{html.escape(p.paper) or '—'}</td>"
        f"<td>{html.escape(p.mode or '—')}</td><td>{html.escape(p.status)}</td>"
        f"<td style=\"text-align:right\">{'—' if p.seconds is None else f'{p.seconds:.0f}'}</td></tr>"
        for p in pages)
    toctree = "\n".join(f"{p.nav_title} <{p.stem}>" for p in pages)
    return f"""# FCA paper companion

A runnable companion to **"High-Fidelity Zero-Shot Texture Anomaly Localization Using Feature
Correspondence Analysis"** (Ardelean & Weyrich, WACV 2024).

## What the paper does

Zero-shot anomaly localization marks the regions that break the homogeneity of a *single* texture
image, with no normal training images. The paper frames every such method as its Eq. (1): features
**F**, a patch statistics comparison **S** and a reference selection **R**. Its contribution is the
statistic **FCA** (Eq. 5): sort the values of each local window, compare them rank by rank with a
global reference (the Wasserstein barycenter of all windows, Eq. 7), send each rank's error back to
the pixel it came from, and add up every pixel's errors over all windows that contain it. The paper
then measures F, S and R one at a time (Tables 1 and 2), evaluates the final method on four datasets
(Tables 3, 4 and 6), times it (Table 5), ablates it (Table 7) and shows where it fails.

## How to read this companion

Each page (in the navigation on the left and in the results index below) is one executed notebook
of the series, in the paper's order, titled with the paper's sections, tables and figures it
reproduces. A page starts with the paper's claim, shows the
reproduced tables and figures beside the paper's reported numbers, and ends with a takeaway
generated from the results. The code that produced each result is folded: click *Show code cell
source* to read it. The notebooks call the `fca_utils` package; nothing on this site was computed
by the site build itself.

The interactive explorer (image, F, S, T, σ_p, σ_s) needs a live kernel; run it as an app with
`{explorer_command}`.

## Results index

Executed by `python -m fca_utils.reproduce`{when}, mode {', '.join(f'`{m}`' for m in modes) or 'unknown'};
{len(pages)} notebooks, {sum(p.status == 'ok' for p in pages)} ran without error, {total:.0f} s in all
(the times papermill recorded). Source: `{source.name}/`.

<table class="fca-results">
<thead><tr><th>notebook</th><th>title</th><th>paper</th><th>mode</th><th>status</th><th>seconds</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>

```{{toctree}}
:caption: The paper, notebook by notebook
:maxdepth: 1
:hidden:

{toctree}
```
"""


CONF = '''"""Sphinx configuration written by fca_utils.cli.site (generated; not part of the repository)."""
project = "FCA paper companion"
html_title = "FCA paper companion"
extensions = ["myst_nb", "sphinx_togglebutton"]
html_theme = "sphinx_book_theme"
html_theme_options = {"show_toc_level": 2, "use_download_button": False}
html_context = {"default_mode": "light"}   # the figures have white backgrounds
html_favicon = "favicon.png"               # else browsers ask for a missing /favicon.ico
nb_execution_mode = "off"          # the notebooks were executed by the run; never again here
nb_ipywidgets_js = {}              # no widget JavaScript from a CDN: the site works offline
nb_merge_streams = True
myst_enable_extensions = []        # no dollarmath: nothing loads MathJax from a CDN
exclude_patterns = ["_build"]
'''


def explorer_app_command(notebooks_dir: Path) -> str:
    """The command that serves the explorer as an app: ``notebooks/explorer.ipynb`` where it exists,
    else the quickstart, whose last cells hold the explorer."""
    name = "explorer.ipynb" if (Path(notebooks_dir) / "explorer.ipynb").is_file() else "00_quickstart.ipynb"
    return f"voila notebooks/{name}"


def _favicon(path: Path) -> None:
    """A 32 × 32 icon: a red spot (an anomaly) on a gray texture."""
    import numpy as np
    from PIL import Image

    icon = np.full((32, 32, 3), 200, np.uint8)
    icon[::4] = 170
    icon[10:22, 12:24] = (200, 30, 30)
    Image.fromarray(icon).save(path)


def find_executed(folder: Path) -> list[Path]:
    """The executed series ``NN_name.ipynb`` in ``folder``, in order; a clear error when there is none."""
    found = sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise FileNotFoundError(f"no executed notebooks NN_name.ipynb in {folder}; run "
                                "`python -m fca_utils.reproduce` first (or pass the folder of an earlier run)")
    return found


def build_site(notebooks_dir: Path, site_dir: Path, work_dir: Path,
               explorer_command: str = "voila notebooks/explorer.ipynb", quiet: bool = True,
               failures: dict[str, str] | None = None) -> Path:
    """Build the static site of the executed notebooks in ``notebooks_dir``; return ``site_dir/index.html``.

    ``failures`` (notebook stem -> error) marks notebooks that the run reported as failed even
    where papermill could not record it in the notebook (a cell timeout, a dead kernel).

    ``work_dir`` receives the generated Sphinx source (``src/``) and the build (``html/``);
    ``site_dir`` is replaced by the finished build only when Sphinx succeeded, so a failed
    build leaves the previous site (or none). Raises ``RuntimeError`` with Sphinx's last
    messages when the build fails.
    """
    import nbformat

    notebooks = find_executed(notebooks_dir)
    work_dir, site_dir = Path(work_dir), Path(site_dir)
    src, out = work_dir / "src", work_dir / "html"
    for folder in (src, out):
        if folder.exists():
            shutil.rmtree(folder)
    src.mkdir(parents=True)
    pages = []
    for path in notebooks:
        pages.append(page_info(path))
        if path.stem in (failures or {}):
            pages[-1].status = "FAILED"
        nbformat.write(presentable_copy(nbformat.read(path, as_version=4), explorer_command), src / path.name)
    write_text(src / "conf.py", CONF)
    _favicon(src / "favicon.png")
    write_text(src / "index.md", _landing_page(pages, Path(notebooks_dir).resolve(), explorer_command))

    command = [sys.executable, "-m", "sphinx", "-b", "html", "-j", "1", *(["-q"] if quiet else []),
               str(src), str(out)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0 or not (out / "index.html").is_file():
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"the site build failed (sphinx exit status {done.returncode}); "
                           f"its source is in {src}:\n{tail}")
    if done.stderr.strip():
        print(done.stderr.strip(), file=sys.stderr)
    staging = site_dir.with_name(f".{site_dir.name}.new")
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(out, staging)
    if site_dir.exists():
        shutil.rmtree(site_dir)
    staging.rename(site_dir)
    return site_dir / "index.html"


def build_and_report(notebooks_dir: Path, output_dir: Path, explorer_command: str,
                     failures: dict[str, str] | None = None) -> Path:
    """:func:`build_site` into ``<output_dir>/site`` (work folder ``<output_dir>/site_build``), timed, with a line printed."""
    start = time.perf_counter()
    index = build_site(notebooks_dir, output_dir / "site", output_dir / "site_build", explorer_command,
                       failures=failures)
    print(f"site: {index} (built in {time.perf_counter() - start:.0f} s)", flush=True)
    return index
