"""Ablation and parameter sensitivity (paper Appendix D).

Two experiments of the paper's supplementary material, as reusable loops:

- **Table 7** (Appendix D.1, "Direct Ablation"): the final method against the same method
  with one component ablated at a time (:data:`ABLATIONS`, :func:`run_ablation`,
  :func:`ablation_table`):

  ====  ==================================================================  ====================================
  row   what replaces the component                                         how it is run here
  ====  ==================================================================  ====================================
  F     the same network with random weights (no ImageNet pretraining)      :func:`random_counterpart`
  R     the mean of all feature patches instead of the median (Eq. 7)       ``reference="mean"`` (our reading)
  HR    320 x 320 instead of full resolution                                preset ``"paper320"``
  FCA   EMD between patch histograms, global histogram as reference (Eq. 3) ``statistic="histogram"``, sigma 6,
                                                                            10 bins (the authors' histogram)
  full  the final method (WideResNet-50-2, median, full resolution, FCA)    preset ``"paper"``
  ====  ==================================================================  ====================================

  The "FCA ablated" row runs the histogram as the authors configure it
  (``conf/sc/hist.yaml``: ``sigma: 6.0``, ``bins: 10``, with the run's window T), not with
  the FCA preset's sigma_p. The authors' code has no "mean" reference
  (``sc_methods.py``, ``get_reference``: median or random), so row R is our reading of
  Appendix D.1: :func:`fca_utils.core.reference.mean`, the average of the T x T tiles,
  sorted (``docs/fidelity.md``).

- **Figure 9** (Appendix D.2, "Sensitivity to parameters"): AU-PRO for
  ``T in {7, 9, 11}`` and a grid of ``sigma_p`` and ``sigma_s`` (:func:`sensitivity_grid`,
  :func:`sensitivity_table`). The paper gives no numbers for this figure and does not
  state the sigma ranges it swept.

:func:`ablation_takeaway` and :func:`sensitivity_takeaway` write the notebook's takeaway
as Markdown from the results, so that no number in it is written by hand.

Features are the expensive part on a CPU; :class:`CachedExtractor` keeps the features
of every image it has seen, so the ablations that only change ``S`` or ``R`` (and every
point of the sensitivity grid) extract them once per image.

Examples
--------
>>> from fca_utils import datasets                                                     # doctest: +SKIP
>>> from fca_utils.evaluation import tables                                           # doctest: +SKIP
>>> from fca_utils.paper import ablation                                              # doctest: +SKIP
>>> ds = datasets.open_dataset("embedded")                                            # doctest: +SKIP
>>> runs = ablation.run_ablation(ds, "outputs/maps", classes=["woven"], max_images=4)  # doctest: +SKIP
>>> print(tables.to_text(ablation.ablation_table(runs)))                              # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import features
from ..core.io import progress_bar, write_text
from ..datasets.dataset import Dataset
from ..evaluation import metrics
from ..evaluation.runs import MethodRun, configure, run_method, select_entries
from ..evaluation.tables import table
from ..features import CachedExtractor, random_counterpart
from ..pipeline import localize
from . import numbers as pn

__all__ = [
    "Ablation", "ABLATIONS", "HISTOGRAM_ROW", "run_ablation", "ablation_table", "ablation_class_table",
    "sensitivity_grid", "sensitivity_table", "sensitivity_array", "ablation_takeaway", "sensitivity_takeaway",
]

_MARKS = ("F", "R", "HR", "FCA")

#: Row "FCA ablated": the histogram statistic as the authors configure it (``conf/sc/hist.yaml``:
#: ``sigma: 6.0``, ``bins: 10``; Appendix E: 10 bins), whatever the FCA preset's sigma_p.
HISTOGRAM_ROW = {"statistic": "histogram", "sigma": 6.0, "bins": 10}


# ---------------------------------------------------------------------------------------
# Table 7: the ablations
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ablation:
    """One row of the paper's Table 7.

    Attributes
    ----------
    row : str
        ``"F"``, ``"R"``, ``"HR"``, ``"FCA"`` (the ablated component) or ``"full"``.
    method : str
        Preset of :data:`fca_utils.core.methods.PRESETS` the row runs.
    overrides : dict
        Preset parameters changed for the row: :func:`fca_utils.evaluation.runs.run_method`
        applies them on top of the dataset protocol's configuration of ``method``
        (:func:`fca_utils.evaluation.runs.configure`), so they win over both.
    random_features : bool
        Whether the row uses the randomly initialized counterpart of the backbone.
    marks : dict
        ``F``, ``R``, ``HR``, ``FCA`` -> ``True`` (component kept, ✓), ``False`` (ablated,
        ✗) or ``None`` (not applicable, –), as printed in Table 7.
    description : str
        What replaces the component (Appendix D.1).
    """

    row: str
    method: str
    overrides: dict = field(default_factory=dict)
    random_features: bool = False
    marks: dict = field(default_factory=dict)
    description: str = ""


def _paper_row(row: str) -> dict:
    """The paper's Table 7 row (marks, PRO, AUROC) in which component ``row`` is ablated (or ``"full"``)."""
    for paper_row in pn.TABLE7:
        ablated = next((k for k in _MARKS if paper_row[k] is False), "full")
        if ablated == row:
            return paper_row
    raise KeyError(row)


def _marks(row: str) -> dict:
    return {k: _paper_row(row)[k] for k in _MARKS}


#: The five rows of Table 7, in the paper's order.
ABLATIONS: dict[str, Ablation] = {
    "F": Ablation("F", "paper", {}, True, _marks("F"), pn.TABLE7_ABLATIONS["F"]),
    "R": Ablation("R", "paper", {"reference": "mean"}, False, _marks("R"), pn.TABLE7_ABLATIONS["R"]),
    "HR": Ablation("HR", "paper320", {}, False, _marks("HR"), pn.TABLE7_ABLATIONS["HR"]),
    "FCA": Ablation("FCA", "paper", dict(HISTOGRAM_ROW), False, _marks("FCA"), pn.TABLE7_ABLATIONS["FCA"]),
    "full": Ablation("full", "paper", {}, False, _marks("full"),
                     "final method: ImageNet features, median reference (Eq. 7), full resolution, FCA (Eq. 5)"),
}


def run_ablation(dataset: Dataset, maps_root, *, rows=tuple(ABLATIONS), classes=None, max_images=None,
                 backbone="auto", device=None, progress: bool = True, seed: int = 0) -> dict[str, MethodRun]:
    """Run the rows of Table 7 on ``dataset`` with :func:`fca_utils.evaluation.runs.run_method`.

    Every row is the dataset's protocol for its preset (full resolution with the
    protocol's ``T`` for ``"paper"``; 320 x 320 with ``T = 3`` for ``"paper320"``) plus the
    row's overrides (:data:`ABLATIONS`). Maps are cached per row under ``maps_root`` as
    :func:`~fca_utils.evaluation.runs.run_method` does; features are extracted once per image
    for the rows that share them (:class:`CachedExtractor`).

    Parameters
    ----------
    dataset : Dataset
    maps_root : path
    rows : sequence of str
        Keys of :data:`ABLATIONS` to run (default all five, paper order).
    classes : as in :func:`~fca_utils.evaluation.runs.run_method`.
    max_images : int, dict or None
        As in :func:`~fca_utils.evaluation.runs.run_method`, or a dict class -> int (or None) to
        take a different number of images per class.
    backbone : str or Extractor
        The pretrained network (``"auto"``: WideResNet-50-2 if its weights are there, else
        EfficientNet-Lite0). Row ``F`` uses :func:`random_counterpart` of it. A
        :class:`CachedExtractor` is used as it is (its features can be shared with
        :func:`sensitivity_grid`).
    device : None, str or torch.device
    progress : bool
    seed : int
        Seed of the random weights of row ``F``.

    Returns
    -------
    dict
        row -> :class:`~fca_utils.evaluation.runs.MethodRun`, in the order of ``rows``.
    """
    unknown = [r for r in rows if r not in ABLATIONS]
    if unknown:
        raise ValueError(f"unknown Table 7 row(s) {unknown}; expected some of {list(ABLATIONS)}")
    cached = backbone if isinstance(backbone, CachedExtractor) else \
        CachedExtractor(features.resolve_backbone(backbone, device=device)[0])
    extractor = cached.inner
    classes = list(dataset.classes if classes is None else classes)
    if isinstance(max_images, dict):
        missing = [c for c in classes if c not in max_images]
        if missing:
            raise ValueError(f"max_images has no entry for class(es) {missing}")
        groups = [([c], max_images[c]) for c in classes]
    else:
        groups = [(classes, max_images)]
    runs = {}
    for row in rows:
        spec = ABLATIONS[row]
        net = random_counterpart(extractor, device, seed) if spec.random_features else cached
        for group, limit in groups:
            part = run_method(dataset, spec.method, maps_root, classes=group, max_images=limit,
                              backbone=net, device=device, progress=progress, **spec.overrides)
            if row not in runs:
                runs[row] = part
                continue
            runs[row].metrics.update(part.metrics)
            runs[row].seconds.update(part.seconds)
            runs[row].computed += part.computed
            runs[row].reused += part.reused
    return runs


def ablation_table(runs: dict[str, MethodRun], title: str = "Table 7 (ours)", notes: str = "",
                   marks: bool = True) -> pd.DataFrame:
    """Table 7 layout of :func:`run_ablation`'s result: marks F, R, HR, FCA, then PRO and AUROC.

    Metrics are class means in percent (AU-PRO up to FPR 0.3 and pixel AUROC, Sec. 4.2);
    rows are named as in :func:`fca_utils.paper.tables.paper_table` ``(7)`` so that
    :func:`fca_utils.evaluation.tables.compare` pairs them. ``marks=False`` leaves out the
    ✓ / ✗ columns (for :func:`~fca_utils.evaluation.tables.compare`, which pairs every column).
    """
    rows = {}
    for row, run in runs.items():
        signs = [ABLATIONS[row].marks[k] for k in _MARKS] if marks else []
        rows[row] = signs + [100 * run.mean("au_pro"), 100 * run.mean("pixel_auroc")]
    columns = (list(_MARKS) if marks else []) + ["PRO", "AUROC"]
    return table(rows, columns, title=title, index_name="ablated", notes=notes)


def ablation_class_table(runs: dict[str, MethodRun], metric: str = "au_pro", title: str = "") -> pd.DataFrame:
    """Per-class ``metric`` (percent) of every Table 7 row: rows = classes, columns = ablated rows."""
    classes = list(next(iter(runs.values())).metrics) if runs else []
    body = {c: [100 * runs[r].metrics[c][metric] for r in runs] for c in classes}
    body["mean"] = [100 * runs[r].mean(metric) for r in runs]
    return table(body, list(runs), title=title or f"{metric} per class", index_name="class")


# ---------------------------------------------------------------------------------------
# Figure 9: sensitivity to T, sigma_p, sigma_s
# ---------------------------------------------------------------------------------------
def _fmt(x: float) -> str:
    return f"{float(x):g}"


def sensitivity_grid(dataset: Dataset, *, classes=None, max_images=None, t_offsets=(-2, 0, 2), t_values=None,
                     sigma_p=(1.0, 3.0, 5.0), sigma_s=(0.5, 1.0, 2.0), method: str = "paper", backbone="auto",
                     device=None, cache_dir=None, progress: bool = True) -> list[dict]:
    """AU-PRO, pixel AUROC and F1-max of FCA over a grid of ``(T, sigma_p, sigma_s)`` (Figure 9).

    The paper (Appendix D.2) runs MVTec AD at full resolution with ``T in {7, 9, 11}``
    and varies ``sigma_p`` (Gaussian weight of the windows, Eq. 5) and ``sigma_s`` (the
    smoothing of each window's error map) around the defaults ``T = 9``,
    ``sigma_p = 3``, ``sigma_s = 1``; it does not state the sigma ranges.

    For each class, ``T`` is either each of ``t_values``, or the protocol's ``T`` for the
    class's image size (:meth:`fca_utils.datasets.catalog.Protocol.patch_size_for`, 9 for MVTec AD)
    plus each of ``t_offsets`` (``(-2, 0, 2)`` gives the paper's 7, 9, 11 at 1024 x 1024),
    skipping values below 3. Features are extracted once per image
    (:class:`CachedExtractor`, cleared after each class unless ``backbone`` is a
    :class:`CachedExtractor` of the caller: about ``images x C x (H/8) x (W/8)`` floats of
    memory). No maps are written; the metrics of each ``(class, T, sigma_p,
    sigma_s)`` are cached as JSON under ``cache_dir`` (if given), so an interrupted run
    resumes.

    Parameters
    ----------
    dataset : Dataset
    classes : list of str, optional
    max_images : int, optional
        Per class, a deterministic subset (:func:`fca_utils.evaluation.runs.select_entries`).
    t_offsets : sequence of int
    t_values : sequence of int, optional
        Absolute window sizes (odd); overrides ``t_offsets``.
    sigma_p, sigma_s : sequences of float
    method : str
        Preset (``"paper"``: full resolution).
    backbone, device : as in :func:`fca_utils.localize`.
    cache_dir : path, optional
    progress : bool

    Returns
    -------
    list of dict
        One record per class and grid point: ``class``, ``T``, ``T_offset`` (``T`` minus
        the protocol's ``T``), ``sigma_p``, ``sigma_s``, ``au_pro``, ``pixel_auroc``,
        ``f1_max``, ``images``.
    """
    classes = list(dataset.classes if classes is None else classes)
    shared = isinstance(backbone, CachedExtractor)
    cached = backbone if shared else CachedExtractor(features.resolve_backbone(backbone, device=device)[0])
    extractor = cached.inner
    records = []
    for cls in classes:
        entries = select_entries(dataset, cls, max_images)
        samples = [dataset.load(e) for e in entries]
        h, w = samples[0].image.shape[:2]
        base = configure(method, dataset, h, w)
        ts = [int(t) for t in t_values] if t_values is not None else [base.patch_size + int(o) for o in t_offsets]
        ts = [t for t in ts if t >= 3]
        bad = [t for t in ts if t % 2 == 0]
        if bad:
            raise ValueError(f"window sizes T must be odd, got {bad}")
        grid = [(t, sp, ss) for t in ts for sp in sigma_p for ss in sigma_s]
        border = dataset.protocol.border_for(*samples[0].mask.shape)
        stems = ",".join(f"{e.defect_type}/{e.stem}" for e in entries)
        for t, sp, ss in progress_bar(grid, desc=f"sensitivity {cls}", unit="config", enabled=progress, leave=False):
            key = json.dumps({"dataset": dataset.name, "class": cls, "backbone": extractor.name, "method": method,
                              "T": t, "sigma_p": float(sp), "sigma_s": float(ss), "images": stems,
                              "base": base.params()}, sort_keys=True)
            path = None
            if cache_dir is not None:
                digest = hashlib.sha1(key.encode()).hexdigest()[:10]
                path = (Path(cache_dir) / dataset.name / extractor.name / cls
                        / f"T{t}_sp{_fmt(sp)}_ss{_fmt(ss)}_{digest}.json")
                if path.is_file():
                    try:
                        records.append(json.loads(path.read_text()))
                        continue
                    except ValueError:
                        pass  # a partial file: recompute
            preset = configure(method, dataset, h, w, patch_size=t, sigma_p=float(sp), sigma_s=float(ss))
            maps = [metrics.upsample_to(localize(s.image, preset=preset, backbone=cached, device=device,
                                                 precision="float32").scores, s.mask.shape) for s in samples]
            result = metrics.evaluate(maps, [s.mask for s in samples], border=border)
            record = {"class": cls, "T": t, "T_offset": t - base.patch_size, "sigma_p": float(sp),
                      "sigma_s": float(ss), "au_pro": result["au_pro"], "pixel_auroc": result["pixel_auroc"],
                      "f1_max": result["f1_max"], "images": len(samples)}
            records.append(record)
            if path is not None:
                write_text(path, json.dumps(record, sort_keys=True))
        if not shared:
            cached.clear()
    return records


def sensitivity_array(records: list[dict], metric: str = "au_pro"):
    """Class-mean ``metric`` on the grid, indexed by ``(T offset, sigma_p, sigma_s)``.

    Returns
    -------
    offsets, sigma_p, sigma_s : sorted lists of the grid values
    values : numpy.ndarray, shape ``(len(offsets), len(sigma_p), len(sigma_s))``
        Mean over classes (NaN where no class has the point).
    t_by_class : dict
        class -> list of the absolute ``T`` of each offset (``None`` where skipped).
    """
    offsets = sorted({r["T_offset"] for r in records})
    sps = sorted({r["sigma_p"] for r in records})
    sss = sorted({r["sigma_s"] for r in records})
    total = np.zeros((len(offsets), len(sps), len(sss)))
    count = np.zeros_like(total)
    t_by_class: dict[str, list] = {}
    for r in records:
        i, j, k = offsets.index(r["T_offset"]), sps.index(r["sigma_p"]), sss.index(r["sigma_s"])
        total[i, j, k] += r[metric]
        count[i, j, k] += 1
        t_by_class.setdefault(r["class"], [None] * len(offsets))[i] = r["T"]
    with np.errstate(invalid="ignore"):
        values = total / count
    return offsets, sps, sss, values, t_by_class


def sensitivity_table(records: list[dict], metric: str = "au_pro", title: str = "") -> pd.DataFrame:
    """Figure 9 as a table: rows ``T`` (offset) x ``sigma_s``, columns ``sigma_p``; class means in percent."""
    offsets, sps, sss, values, t_by_class = sensitivity_array(records, metric)
    rows = {}
    for i, off in enumerate(offsets):
        ts = sorted({ts_[i] for ts_ in t_by_class.values() if ts_[i] is not None})
        label = "T=" + "/".join(str(t) for t in ts)
        for k, ss in enumerate(sss):
            rows[f"{label}, σ_s={_fmt(ss)}"] = [None if np.isnan(v) else 100 * float(v) for v in values[i, :, k]]
    return table(rows, [f"σ_p={_fmt(sp)}" for sp in sps], title=title or f"Figure 9 grid ({metric}, %)",
                 index_name="T, σ_s")


# ---------------------------------------------------------------------------------------
# Takeaways generated from the results (notebook 06)
# ---------------------------------------------------------------------------------------
def ablation_takeaway(runs: dict[str, MethodRun], noise: float = 2.0) -> str:
    """Markdown bullets on :func:`run_ablation`'s result, every number taken from it and from Table 7.

    Says whether the full method has the best mean PRO and in how many classes, then, for
    each ablated row, its mean cost in PRO points next to the paper's and the class where
    it costs most. ``noise`` (PRO points): smaller mean costs are called within noise.
    """
    if "full" not in runs:
        raise ValueError("ablation_takeaway needs the 'full' row of run_ablation")
    full = runs["full"]
    classes = list(full.metrics)
    best = max(runs, key=lambda r: runs[r].mean("au_pro"))
    wins = [c for c in classes if all(full.metrics[c]["au_pro"] >= runs[r].metrics[c]["au_pro"] for r in runs)]
    lines = [f"* **Mean PRO.** The best row is **{best}** ({100 * runs[best].mean('au_pro'):.2f}); the full method "
             f"has the best PRO in {len(wins)} of {len(classes)} classes"
             + (f" ({', '.join(wins)})." if wins else ".")]
    for row, run in runs.items():
        if row == "full":
            continue
        cost = 100 * (full.mean("au_pro") - run.mean("au_pro"))
        paper_cost = _paper_row("full")["PRO"] - _paper_row(row)["PRO"]
        per_class = {c: 100 * (full.metrics[c]["au_pro"] - run.metrics[c]["au_pro"]) for c in classes}
        worst = max(per_class, key=per_class.get)
        verdict = "within noise" if abs(cost) < noise else ("costs" if cost > 0 else "gains")
        lines.append(f"* **{row} ablated** ({ABLATIONS[row].description}): {verdict} "
                     f"{abs(cost):.2f} PRO points on average (paper: {paper_cost:.2f}); most in `{worst}` "
                     f"({per_class[worst]:+.2f}).")
    return "\n".join(lines)


def sensitivity_takeaway(sweep_p: list[dict], sweep_s: list[dict], metric: str = "au_pro") -> str:
    """Markdown bullets on the two Figure 9 sweeps of :func:`sensitivity_grid`, numbers taken from them.

    How much ``sigma_p`` and ``sigma_s`` move the class-mean ``metric`` at the default T
    (offset 0), whether the smallest T is below the default T at every sigma point, and
    which T is best at the default sigmas.
    """
    lines = []
    default_t = None
    for name, sweep, axis in (("σ_p", sweep_p, 1), ("σ_s", sweep_s, 2)):
        offsets, _, _, values, t_by_class = sensitivity_array(sweep, metric)
        if 0 not in offsets:
            raise ValueError("the sweeps need the default T (offset 0)")
        at_default = 100 * values[offsets.index(0)].reshape(-1)
        default_t = "/".join(sorted({str(t[offsets.index(0)]) for t in t_by_class.values()}))
        lines.append(f"* At T = {default_t}, {name} moves the class-mean PRO by at most "
                     f"{at_default.max() - at_default.min():.2f} points "
                     f"({at_default.min():.2f} to {at_default.max():.2f}).")
    offsets, sps, sss, values, t_by_class = sensitivity_array(sweep_p + sweep_s, metric)
    label = {off: "/".join(sorted({str(t[i]) for t in t_by_class.values() if t[i] is not None}))
             for i, off in enumerate(offsets)}
    smallest = offsets[0]
    if smallest < 0:
        below = values[0] < values[offsets.index(0)]
        known = ~(np.isnan(values[0]) | np.isnan(values[offsets.index(0)]))
        lines.append(f"* T = {label[smallest]} is below T = {default_t} at {int((below & known).sum())} of "
                     f"{int(known.sum())} σ points.")
    default = pn.FIGURE9["default"]
    j = sps.index(default["sigma_p"]) if default["sigma_p"] in sps else 0
    k = sss.index(default["sigma_s"]) if default["sigma_s"] in sss else 0
    best = max(offsets, key=lambda off: np.nan_to_num(values[offsets.index(off), j, k], nan=-1.0))
    lines.append(f"* At σ_p = {_fmt(sps[j])}, σ_s = {_fmt(sss[k])} the best window is T = {label[best]} "
                 f"({100 * values[offsets.index(best), j, k]:.2f}).")
    return "\n".join(lines)
