"""What every notebook of the series does first and last: resolve its parameters, say which
backbone and data it really uses, and save tables (CSV + Markdown) and figures (PNG + PDF).

>>> from fca_utils.paper import report                                         # doctest: +SKIP
>>> nb = report.start("01_feature_extractors", mode="quick", output_dir="../outputs")  # doctest: +SKIP
>>> nb.save_table(table, "table1")            # ../outputs/01_feature_extractors/tables/table1.csv, .md  # doctest: +SKIP
>>> nb.save_figure(fig, "figure3")            # ../outputs/01_feature_extractors/figures/figure3.png/.pdf  # doctest: +SKIP

Modes (the ``mode`` parameter of every notebook):

- ``"quick"``: the embedded benchmark (generated on first use, no download) and small sizes,
  so the whole series runs in minutes on a laptop CPU;
- ``"full"``: the paper's dataset (``dataset`` parameter) and protocol; a dataset that is not
  prepared raises :class:`fca_utils.datasets.DatasetNotFoundError` naming the ``prepare`` command.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from .. import features
from ..core.io import atomic_path
from ..datasets.dataset import Dataset, open_dataset
from ..evaluation.tables import write_csv, write_markdown

__all__ = ["NotebookRun", "start", "MODES"]

MODES = ("quick", "full")


@dataclass
class NotebookRun:
    """Parameters of one notebook run, resolved, and where its results go."""

    notebook: str
    mode: str
    device: torch.device
    backbone: features.Extractor
    backbone_info: str
    dataset: Dataset | None
    output_dir: Path

    @property
    def quick(self) -> bool:
        return self.mode == "quick"

    def _path(self, kind: str, name: str, suffix: str) -> Path:
        folder = self.output_dir / self.notebook / kind
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{name}{suffix}"

    def save_table(self, table: pd.DataFrame, name: str) -> Path:
        """Write ``table`` as CSV (raw values) and Markdown (title, cells as printed, notes).

        See :func:`fca_utils.evaluation.tables.write_csv` and
        :func:`~fca_utils.evaluation.tables.write_markdown`; returns the CSV path.
        """
        write_markdown(table, self._path("tables", name, ".md"))
        return write_csv(table, self._path("tables", name, ".csv"))

    def save_figure(self, fig, name: str, dpi: int = 110) -> list[Path]:
        """Write a matplotlib figure as PNG and PDF, each atomically; returns both paths."""
        paths = []
        for suffix in (".png", ".pdf"):
            path = self._path("figures", name, suffix)
            with atomic_path(path) as tmp:
                fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
            paths.append(path)
        return paths


def _device(device) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but CUDA is not available here; use 'cpu' or 'auto'")
    return dev


def start(notebook: str, *, mode: str = "quick", dataset: str = "embedded", data_root=None,
          device="auto", backbone="auto", output_dir="../outputs", load_data: bool = True,
          verbose: bool = True) -> NotebookRun:
    """Resolve a notebook's papermill parameters and print what will really be used.

    Parameters
    ----------
    notebook : str
        The notebook's name; results go to ``<output_dir>/<notebook>/{tables,figures}``.
    mode : "quick" or "full"
        ``quick`` always uses the embedded benchmark; ``full`` uses ``dataset``.
    dataset : str
        ``"embedded"``, ``"mvtec"``, ``"wft"``, ``"dtd_synthetic"``, ``"aitex"`` or a folder in
        MVTec AD layout (used in ``full`` mode).
    data_root : path, optional
        Where the dataset is (default ``data/embedded`` or ``data/datasets/<name>``).
    device : "auto" (CUDA when present, else CPU), "cpu", "cuda", ...
    backbone : str
        ``"auto"`` or an extractor name (:func:`fca_utils.features.available_extractors`).
    load_data : bool
        Open the dataset (False for notebooks that do not use one).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    dev = _device(device)
    extractor, info = features.resolve_backbone(backbone, device=dev)
    data = None
    if load_data:
        name = "embedded" if mode == "quick" else dataset
        data = open_dataset(name, data_root if mode == "full" or dataset == "embedded" else None)
    run = NotebookRun(notebook, mode, dev, extractor, info, data, Path(output_dir))
    if verbose:
        print(f"notebook: {notebook}  mode: {mode}  device: {dev}")
        print(f"backbone: {info}")
        if data is not None:
            note = " (quick mode always uses the embedded benchmark)" if mode == "quick" and dataset != "embedded" else ""
            print(f"data: {data.name} at {data.root}: {len(data)} test images, classes {data.classes}{note}")
        print(f"results: {run.output_dir / notebook}")
    return run
