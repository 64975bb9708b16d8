"""Regenerate every table and figure: run the notebook series headlessly with papermill.

    python -m fca_utils.reproduce                     # quick mode, embedded data, into outputs/
    python -m fca_utils.reproduce --mode full --dataset mvtec --data-root /data/mvtec
    python -m fca_utils.reproduce --only 01 03        # some notebooks
    python -m fca_utils.reproduce --inplace --fresh   # refresh the committed notebooks' outputs
    python -m fca_utils.reproduce --site              # only rebuild outputs/site/ from an earlier run

Steps: generate the embedded benchmark if it is not there (quick mode); with the "auto"
backbone, try the paper's weights once (:func:`settle_backbone_download`); execute each
``notebooks/NN_*.ipynb`` in order with the given parameters (a progress bar per notebook,
one tick per cell), writing the executed copy to ``<output>/notebooks/``; write
``<output>/index.md`` linking every executed notebook, table and figure; build the static
site of the executed notebooks, ``<output>/site/index.html`` (:mod:`fca_utils.cli.site`).
The notebook kernels run with ``FCA_PROGRESS=0`` (:func:`fca_utils.core.io.progress_bar`): a
progress bar inside a saved notebook would stay there frozen, so the executed notebooks have none.
A failing notebook is reported with its name, the failing cell and the error; the remaining
notebooks still run, the site shows them as failed, and the exit status is 1.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..core.io import PROGRESS_ENV, atomic_path, write_text
from . import site

PROJECT = Path(__file__).resolve().parents[2]  # this file is fca_utils/cli/reproduce.py
NOTEBOOKS = PROJECT / "notebooks"


@dataclass
class Outcome:
    notebook: str
    seconds: float
    executed: Path
    error: str | None = None


def find_notebooks(folder: Path = NOTEBOOKS, only: list[str] | None = None) -> list[Path]:
    """The series ``NN_name.ipynb`` in order; ``only`` keeps those whose name starts with one of its items."""
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise FileNotFoundError(f"no notebooks NN_name.ipynb in {folder}")
    if only:
        unknown = [o for o in only if not any(p.name.startswith(o) for p in found)]
        if unknown:
            raise ValueError(f"--only {unknown} match no notebook; notebooks: {[p.stem for p in found]}")
        found = [p for p in found if any(p.name.startswith(o) for o in only)]
    return found


def run_notebook(path: Path, executed: Path, parameters: dict, position: str,
                 cell_timeout: float | None = None) -> Outcome:
    """Execute one notebook with papermill; never raises for errors inside the notebook.

    ``cell_timeout`` (seconds, None: no limit) stops a cell that runs longer, so a hung
    kernel fails that notebook instead of the whole series; a kernel that dies is reported
    the same way. The kernel's messages are awaited in short polls
    (:class:`fca_utils.cli.kernel.SlicedPollKernelManager`), so a missed wake-up of the
    event loop costs a second, not the cell timeout.
    """
    import nbclient.exceptions
    import papermill

    from .kernel import SlicedPollKernelManager

    print(f"{position} {path.stem}", flush=True)
    start = time.perf_counter()
    error = None
    try:
        papermill.execute_notebook(
            str(path), str(executed), parameters=parameters or None, cwd=str(path.parent),
            progress_bar={"desc": path.stem, "unit": "cell"}, kernel_name="python3",
            execution_timeout=cell_timeout, kernel_manager_class=SlicedPollKernelManager,
        )
    except papermill.PapermillExecutionError as err:
        error = (f"cell [{err.exec_count}] ({_first_line(executed, err.exec_count)!r}): "
                 f"{err.ename}: {err.evalue}")
    except nbclient.exceptions.CellTimeoutError:
        error = f"a cell ran longer than --cell-timeout ({cell_timeout:g} s) and was stopped"
    except nbclient.exceptions.DeadKernelError as err:
        error = f"the kernel died: {err}"
    if executed.is_file():
        drop_stale_widget_state(executed)
    return Outcome(path.stem, time.perf_counter() - start, executed, error)


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def drop_stale_widget_state(notebook: Path) -> bool:
    """Remove the saved widget state of a notebook none of whose outputs shows a widget.

    nbclient replaces ``metadata.widgets`` when a run creates widgets but leaves it alone when
    a run creates none, so an executed notebook would keep the widgets (say, a progress bar)
    of an earlier run. Returns whether anything was removed; the file is rewritten atomically.
    """
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    shows_widgets = any(WIDGET_VIEW in out.get("data", {}) for cell in nb.cells if cell.cell_type == "code"
                        for out in cell.get("outputs", []))
    if shows_widgets or "widgets" not in nb.metadata:
        return False
    del nb.metadata["widgets"]
    with atomic_path(notebook) as tmp:
        nbformat.write(nb, str(tmp))
    return True


def _first_line(executed: Path, exec_count: int) -> str:
    """First line of the executed notebook's code cell ``[exec_count]``, to name the failing cell."""
    import nbformat

    try:
        cells = nbformat.read(executed, as_version=4).cells
    except (OSError, ValueError):
        return "?"
    for cell in cells:
        if cell.cell_type == "code" and cell.get("execution_count") == exec_count and cell.source.strip():
            return cell.source.strip().splitlines()[0]
    return "?"


def _files(folder: Path, suffix: str) -> list[Path]:
    return sorted(folder.glob(f"*{suffix}")) if folder.is_dir() else []


def write_index(output_dir: Path, outcomes: list[Outcome], mode: str) -> Path:
    """``<output_dir>/index.md``: per notebook its status, time, tables (inline) and figures."""
    lines = ["# FCA paper companion: reproduced results", "",
             f"Mode `{mode}`; written by `python -m fca_utils.reproduce` on "
             f"{time.strftime('%Y-%m-%d %H:%M')}.", "",
             "| notebook | status | seconds |", "|---|---|---:|"]
    for o in outcomes:
        status = "ok" if o.error is None else f"FAILED: {o.error}"
        link = Path(os.path.relpath(o.executed, output_dir)).as_posix()
        lines.append(f"| [{o.notebook}]({link}) | {status} | {o.seconds:.0f} |")
    for o in outcomes:
        folder = output_dir / o.notebook
        lines += ["", f"## {o.notebook}", ""]
        for md in _files(folder / "tables", ".md"):
            csv = md.with_suffix(".csv")
            lines += [md.read_text(encoding="utf-8").rstrip(), "",
                      f"CSV: [{csv.relative_to(output_dir)}]({csv.relative_to(output_dir)})", ""]
        for png in _files(folder / "figures", ".png"):
            pdf = png.with_suffix(".pdf")
            lines += [f"**{png.stem}** ([PDF]({pdf.relative_to(output_dir)}))", "",
                      f"![{png.stem}]({png.relative_to(output_dir)})", ""]
    return write_text(output_dir / "index.md", "\n".join(lines) + "\n")


def settle_backbone_download(backbone: str | None) -> str | None:
    """With ``backbone`` "auto" (or None), try the paper's WideResNet-50-2 weights once, here.

    Every notebook runs in its own kernel and would otherwise retry the download (up to
    :data:`fca_utils.features.weights.AUTO_TIMEOUT` seconds each on a machine without
    network). When the weights can be neither found nor downloaded
    (:func:`fca_utils.features.weights.try_download`), ``FCA_OFFLINE=1`` is set in this
    process's environment, which the notebook kernels inherit, so they go straight to
    the offline fallback. Returns a line saying so, or None when nothing changed.
    """
    from .. import features

    if backbone not in (None, "auto") or features.weights.offline():
        return None
    if features.weights.try_download("wide_resnet50_2"):
        return None
    os.environ["FCA_OFFLINE"] = "1"
    return (f"WideResNet-50-2 weights neither at {features.weights_path('wide_resnet50_2')} nor downloadable: "
            "the notebooks use the offline backbone without retrying the download")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fca_utils.reproduce", description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=("quick", "full"), default="quick",
                        help="quick: embedded benchmark, small sizes (default); full: the paper's datasets")
    parser.add_argument("--dataset", default=None, help="dataset for full mode (default: each notebook's own)")
    parser.add_argument("--data-root", default=None, help="folder of that dataset")
    parser.add_argument("--device", default=None, help="auto (default), cpu or cuda")
    parser.add_argument("--backbone", default=None, help="auto (default) or a feature extractor name")
    parser.add_argument("--output-dir", type=Path, default=PROJECT / "outputs", help="default: outputs/")
    parser.add_argument("--only", nargs="+", metavar="NN", help="run only notebooks starting with these")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help="folder of the series (default: notebooks/)")
    parser.add_argument("--inplace", action="store_true",
                        help="write the executed notebooks back into notebooks/ (quick mode, default parameters, "
                             "results in each notebook's default output_dir)")
    parser.add_argument("--fresh", action="store_true",
                        help="delete the anomaly maps cached in <output-dir>/maps first, so that every map is "
                             "recomputed (and timed) instead of read back from an earlier run")
    parser.add_argument("--cell-timeout", type=float, default=None, metavar="SECONDS",
                        help="stop a cell that runs longer than this (default: 900 in quick mode, no limit in full "
                             "mode); the notebook is reported as failed and the series goes on")
    parser.add_argument("--site", action="store_true",
                        help="run no notebook: only build <output-dir>/site/ from the executed notebooks of an "
                             "earlier run (<output-dir>/notebooks/, or notebooks/ with --inplace)")
    parser.add_argument("--no-site", action="store_true", help="do not build the site after the run")
    args = parser.parse_args(argv)
    cell_timeout = args.cell_timeout if args.cell_timeout is not None else (900.0 if args.mode == "quick" else None)

    output_dir = args.output_dir.resolve()
    executed_dir = args.notebooks if args.inplace else output_dir / "notebooks"
    explorer = site.explorer_app_command(args.notebooks)
    if args.site:
        if args.no_site:
            parser.error("--site and --no-site exclude each other")
        try:
            site.build_and_report(executed_dir, output_dir, explorer)
        except (FileNotFoundError, RuntimeError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        return 0

    notebooks = find_notebooks(args.notebooks, only=args.only)
    parameters = {"mode": args.mode, "output_dir": str(output_dir)}
    for key in ("dataset", "data_root", "device", "backbone"):
        if getattr(args, key) is not None:
            parameters[key] = getattr(args, key)
    if args.inplace:
        if len(parameters) > 2 or args.mode != "quick":
            parser.error("--inplace runs the notebooks with their default parameters only (quick mode)")
        parameters = {}

    if args.mode == "quick":
        from ..datasets.synthetic import generate_benchmark

        start = time.perf_counter()
        root = generate_benchmark()
        print(f"embedded benchmark ready in {root} ({time.perf_counter() - start:.1f} s)", flush=True)

    if args.fresh and (output_dir / "maps").exists():
        shutil.rmtree(output_dir / "maps")
        print(f"removed the cached maps in {output_dir / 'maps'}", flush=True)
    note = settle_backbone_download(parameters.get("backbone"))
    if note:
        print(note, flush=True)

    (output_dir / "notebooks").mkdir(parents=True, exist_ok=True)
    outcomes = []
    previous = os.environ.get(PROGRESS_ENV)
    os.environ[PROGRESS_ENV] = "0"  # inherited by the notebook kernels: no frozen bars in the saved notebooks
    try:
        for i, path in enumerate(notebooks, 1):
            executed = path if args.inplace else output_dir / "notebooks" / path.name
            outcomes.append(run_notebook(path, executed, parameters, f"[{i}/{len(notebooks)}]", cell_timeout))
            o = outcomes[-1]
            print(f"    {o.notebook}: {'ok' if o.error is None else 'FAILED'} in {o.seconds:.0f} s", flush=True)
    finally:
        if previous is None:
            del os.environ[PROGRESS_ENV]
        else:
            os.environ[PROGRESS_ENV] = previous
    index = write_index(output_dir, outcomes, args.mode)

    failed = [o for o in outcomes if o.error is not None]
    print(f"\n{len(outcomes) - len(failed)}/{len(outcomes)} notebooks ran; total "
          f"{sum(o.seconds for o in outcomes):.0f} s; index: {index}")
    if not args.no_site:
        try:
            site.build_and_report(executed_dir, output_dir, explorer, {o.notebook: o.error for o in failed})
        except RuntimeError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
    for o in failed:
        print(f"FAILED {o.notebook}, {o.error}\n    executed notebook with the traceback: {o.executed}",
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
