"""What every notebook of the series does first and last: resolve its parameters, say which
backbone and data it really uses, and save tables (CSV + Markdown) and figures (PNG + PDF);
and, for the evaluation of Tables 3, 4 and 6 (notebook 05), the takeaway generated from the
results (:func:`evaluation_takeaway`, :func:`full_resolution_cost`).

>>> from fca_utils.paper import report                                         # doctest: +SKIP
>>> nb = report.start("02_feature_extractors", mode="quick", output_dir="../outputs")  # doctest: +SKIP
>>> nb.save_table(table, "table1")            # ../outputs/02_feature_extractors/tables/table1.csv, .md  # doctest: +SKIP
>>> nb.save_figure(fig, "figure3")            # ../outputs/02_feature_extractors/figures/figure3.png/.pdf  # doctest: +SKIP

Modes (the ``mode`` parameter of every notebook):

- ``"quick"``: the embedded benchmark (generated on first use, no download) and small sizes,
  so the whole series runs on a laptop CPU;
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
from .prose import backbone_sentence, count, num, ordering, points, signed, verdict

__all__ = ["NotebookRun", "start", "MODES", "EFFECTS", "evaluation_takeaway", "full_resolution_cost"]

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

    def source(self, protocol: str, backbone: str | None = None) -> str:
        """What a table or figure of this run comes from, in one line: data, protocol, backbone.

        ``protocol`` says how the numbers were made (image size, T, references, how many
        images); ``backbone`` defaults to the run's backbone. For
        :func:`fca_utils.evaluation.tables.with_source` and figure titles.

        >>> run = NotebookRun("x", "quick", torch.device("cpu"), features.get_extractor("colors"), "", None, Path("."))
        >>> run.source("64 px, T = 7")
        'data: none (quick mode) · protocol: 64 px, T = 7 · backbone: colors'
        """
        data = self.dataset.name if self.dataset is not None else "none"
        return f"data: {data} ({self.mode} mode) · protocol: {protocol} · backbone: {backbone or self.backbone.name}"

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


# --------------------------------------------------------------------------- takeaways (notebook 05)
#: Pairs of Table 3 / 4 rows whose PRO difference says what one design choice does:
#: (row, compared with, what the difference measures).
EFFECTS = (
    ("Ours", "Ours320", "full resolution instead of 320²"),
    ("Ours320 + k-NN", "Ours320", "k-NN references instead of the median, at 320²"),
    ("Ours + k-NN", "Ours", "k-NN references instead of the median, at 320²"),
    ("Ours", "Aota et al.", "FCA against the baseline of Aota et al."),
)


def evaluation_takeaway(ours: pd.DataFrame, paper: pd.DataFrame, *, per_class: dict | None = None,
                        dataset: str = "", paper_dataset: str = "", backbone: str | None = None,
                        noise: float = 1.0) -> str:
    """Markdown bullets on the Table 3 / 4 comparison, every number taken from the tables.

    ``ours``: rows = methods ("Ours", "Ours320", "Ours320 + k-NN", "Aota et al." or the 320²
    names of Table 4), column ``PRO`` in percent (mean over classes); ``paper``: the
    paper's table with the same row names (:func:`fca_utils.paper.tables.paper_table`).
    ``per_class``: optional method -> {class: PRO in percent}, to say in which classes a
    choice helps most and least. Gives both orderings by PRO, whether they agree, and for
    each pair of :data:`EFFECTS` present in both tables our difference next to the
    paper's, called within noise below ``noise`` points.

    >>> ours = pd.DataFrame({"PRO": [80.0, 79.5, 70.0]}, index=["Ours", "Ours320", "Aota et al."])
    >>> paper = pd.DataFrame({"PRO": [97.18, 95.46, 93.82]}, index=["Ours", "Ours320", "Aota et al."])
    >>> print(evaluation_takeaway(ours, paper).splitlines()[0])
    * **Ranking by mean PRO.** Ours: Ours (80.00) ≈ Ours320 (79.50) > Aota et al. (70.00); the paper: Ours (97.18) > Ours320 (95.46) > Aota et al. (93.82). The paper's order, up to differences below 1 point (≈).
    """
    rows = [r for r in ours.index if r in paper.index and not pd.isna(paper.loc[r, "PRO"])]
    mine = {r: float(ours.loc[r, "PRO"]) for r in rows}
    theirs = {r: float(paper.loc[r, "PRO"]) for r in rows}
    swapped = [f"{a} ahead of {b}" for a in rows for b in rows
               if verdict(mine[a], mine[b], noise) > 0 and theirs[a] < theirs[b]]
    lines = [f"* **Ranking by mean PRO.** Ours{f' ({dataset})' if dataset else ''}: {ordering(mine, noise)}; "
             f"the paper{f' ({paper_dataset})' if paper_dataset else ''}: {ordering(theirs)}. "
             + (f"Unlike the paper: {', '.join(swapped)} by {points(noise)} or more." if swapped else
                f"The paper's order, up to differences below {points(noise)} (≈).")]
    for a, b, what in EFFECTS:
        if a not in rows or b not in rows:
            continue
        d, p = mine[a] - mine[b], theirs[a] - theirs[b]
        v = verdict(mine[a], mine[b], noise)
        text = (f"* **{a} vs. {b}** ({what}): {signed(d)} PRO points "
                + {1: "(a gain)", 0: "(within noise)", -1: "(a loss)"}[v]
                + f"; the paper: {signed(p)}.")
        if per_class and a in per_class and b in per_class:
            classes = [c for c in per_class[a] if c in per_class[b]]
            diff = {c: per_class[a][c] - per_class[b][c] for c in classes}
            ahead = [c for c in classes if verdict(per_class[a][c], per_class[b][c], noise) > 0]
            behind = [c for c in classes if verdict(per_class[a][c], per_class[b][c], noise) < 0]
            hi, lo = max(classes, key=diff.get), min(classes, key=diff.get)
            text += (f" Per class: {a} ahead in {count(ahead, len(classes), 'classes')}, behind in "
                     f"{count(behind, len(classes))}; from {signed(diff[hi])} (`{hi}`) to {signed(diff[lo])} (`{lo}`).")
        lines.append(text)
    if backbone is not None:
        lines.append(f"* {backbone_sentence(backbone)[0].upper()}{backbone_sentence(backbone)[1:]}.")
    return "\n".join(lines)


def full_resolution_cost(seconds: dict[str, float], *, images: int, device: str, what: str = "test images",
                         paper_network: str = "random_wrn50") -> str:
    """A Markdown bullet: what one full-resolution image costs here, and a whole dataset with the paper's network.

    ``seconds``: backbone name -> ``localize`` seconds for one 1024² image with the preset
    ``paper``; ``paper_network`` (WideResNet-50-2 with random weights: the paper's compute)
    must be among them. ``images``: the number of images to extrapolate to, ``what`` says which.

    >>> print(full_resolution_cost({"efficientnet_lite0": 3.0, "random_wrn50": 6.0}, images=515, device="cpu"))
    * **Full resolution on cpu:** one 1024² image takes 6.00 s with `random_wrn50` (the paper's network and compute) and 3.00 s with `efficientnet_lite0`; all 515 test images with the paper's network: about 52 min.
    """
    t = seconds[paper_network]
    others = [f"{num(v)} s with `{k}`" for k, v in seconds.items() if k != paper_network]
    return (f"* **Full resolution on {device}:** one 1024² image takes {num(t)} s with `{paper_network}` (the paper's "
            f"network and compute)" + (" and " + ", ".join(others) if others else "")
            + f"; all {images} {what} with the paper's network: about {images * t / 60:.0f} min.")
