"""The paper's Tables 1–7 as DataFrames, from the numbers in :mod:`fca_utils.paper.numbers`.

Each table has the row and column names that this package's own tables use
(:func:`fca_utils.paper.experiments.table1`, :func:`~fca_utils.paper.experiments.table2`,
:func:`fca_utils.paper.ablation.ablation_table`, the notebooks' Tables 3–6), so that
:func:`fca_utils.evaluation.tables.compare` lines them up:

>>> from fca_utils.evaluation.tables import compare, table, to_text
>>> ours = table({"Ours": [96.5]}, ["PRO"], index_name="method")
>>> print(to_text(compare(ours, paper_table(3), title="")))
 method   |   PRO ours |   PRO paper
----------+------------+-------------
 Ours     |      96.50 |       97.18
different data: reference only
"""
from __future__ import annotations

import pandas as pd

from ..evaluation.tables import table, with_source
from . import numbers as pn

__all__ = ["PAPER_SOURCES", "paper_table"]

#: What each of the paper's tables was measured on (data, protocol, backbone), from the paper's
#: text: Sec. 3.1 and Appendix E (Tables 1, 2), Sec. 3.4 and 4.1 (Tables 3, 4, 6), Sec. 5 (Table 5),
#: Sec. 4.3 (Table 7). :func:`paper_table` puts it in ``attrs["source"]``.
PAPER_SOURCES = {
    1: "MVTec AD textures · preliminary protocol: 256×256, T = 25, global reference (Sec. 3.1, Appendix E) "
       "· features per column (VGG: VGG19 conv1_1 + conv1_2)",
    2: "MVTec AD textures · preliminary protocol: 256×256, T = 25 (Sec. 3.1, Appendix E) · VGG19 conv1_1 + "
       "conv1_2 · times on an RTX A5000 GPU",
    3: "MVTec AD textures · full resolution, T = 9 (Ours) or 320×320, T = 3 (Ours320) (Sec. 3.4, 4.1) "
       "· WideResNet-50-2 layer2",
    4: "DTD-Synthetic, WFT, Aitex · each dataset's protocol (Sec. 4.1) · WideResNet-50-2 layer2",
    5: "one image at 320×320 and 1024×1024 · RTX A5000 GPU · WideResNet-50-2 layer2",
    6: "per texture class of MVTec AD, WFT, DTD-Synthetic, Aitex · each dataset's protocol (Sec. 4.1) "
       "· WideResNet-50-2 layer2",
    7: "MVTec AD textures · full resolution, T = 9 (Sec. 4.3) · WideResNet-50-2 layer2 (row F: random weights)",
}


def paper_table(number: int, *, dataset: str | None = None, metric: str | None = None,
                method: str | None = None) -> pd.DataFrame:
    """The paper's Table ``number`` (1–7); missing values ("–" in the paper) are missing.

    Layouts (metric names ``PRO``, ``AUROC``, ``AUROCc``, ``F1``, ``time``):

    1. rows = statistics (Eqs. 2–5); columns ``"<feature> PRO"``, ``"<feature> AUROC"`` for
       each feature. ``metric="PRO"`` or ``"AUROC"``: columns = features only.
    2. rows = references; columns ``"<statistic> PRO"``, ``"<statistic> time [s]"``.
       ``metric="PRO"`` or ``"time"``: columns = statistics only.
    3. rows = methods; columns PRO, AUROC, AUROCc; † and multi-shot in the notes.
    4. rows = methods of ``dataset`` (PRO, AUROC, F1); without ``dataset`` the datasets are
       stacked as in the paper, rows ``"<dataset> / <method>"``.
    5. rows = methods; columns Complexity, 320×320 [s], 1024×1024 [s]; ‡ in the notes.
    6. rows = classes of ``dataset`` (``"<dataset> / <class>"`` when stacked); columns
       ``"<method> PRO"`` … for the three methods, or PRO, AUROC, F1 when ``method`` is given.
    7. rows = ablated component (``"full"`` for the final method); columns F, R, HR, FCA
       (✓ / ✗ / –: ``True`` / ``False`` / ``None``), PRO, AUROC.

    The title (``attrs["title"]``) is "Table n: " and the caption's first sentence; the
    source (``attrs["source"]``) is :data:`PAPER_SOURCES` ``[n]``.

    >>> float(paper_table(1).loc["FCA", "VGG PRO"]), float(paper_table(3).loc["Ours", "PRO"])
    (81.08, 97.18)
    >>> t7 = paper_table(7)
    >>> list(t7.index), t7.loc["FCA", "R"] is None, float(t7.loc["FCA", "PRO"])
    (['F', 'R', 'HR', 'FCA', 'full'], True, 95.35)
    """
    if number not in pn.CAPTIONS:
        raise ValueError(f"paper_table: number must be 1..7, got {number!r}")
    return with_source(_paper_table(number, dataset, metric, method), f"the paper: {PAPER_SOURCES[number]}")


def _paper_table(number: int, dataset: str | None, metric: str | None, method: str | None) -> pd.DataFrame:
    title = f"Table {number}: {pn.CAPTIONS[number]}".split(". ")[0].rstrip(".")
    title += "".join(f" — {x}" for x in (dataset, method) if x)
    metrics = {1: ("PRO", "AUROC"), 2: ("PRO", "time")}.get(number, ())
    _check(metric, metrics, f"metric of Table {number}")
    _check(dataset, {4: pn.TABLE4, 6: pn.TABLE6}.get(number, ()), f"dataset of Table {number}")
    _check(method, pn.TABLE6["MVTec AD"]["carpet"] if number == 6 else (), "method of Table 6")
    if number == 1:
        ms = {m: i for i, m in enumerate(metrics) if metric in (None, m)}
        feats = list(pn.TABLE1["FCA"])
        cols = [f if metric else f"{f} {m}" for f in feats for m in ms]
        rows = {s: [v[f][i] for f in feats for i in ms.values()] for s, v in pn.TABLE1.items()}
        return table(rows, cols, title=title, index_name="statistic")
    if number == 2:
        ms = {m: i for i, m in enumerate(["PRO", "time [s]"]) if metric in (None, m[:4])}
        stats = list(pn.TABLE2["Global"])
        cols = [s if metric else f"{s} {m}" for s in stats for m in ms]
        rows = {r: [v[s][i] for s in stats for i in ms.values()] for r, v in pn.TABLE2.items()}
        formats = {c: "{:g}" for c in cols if not c.endswith("PRO") and metric != "PRO"}  # as printed: "380"
        return table(rows, cols, title=title, index_name="reference", formats=formats)
    if number == 3:
        notes = ("† numbers from other papers: " + ", ".join(
            m for m in pn.TABLE3 if m in pn.TABLE3_FROM_OTHER_PAPERS)
            + "; multi-shot: " + ", ".join(m for m in pn.TABLE3 if m in pn.TABLE3_MULTI_SHOT))
        rows = {m: list(v) for m, v in pn.TABLE3.items()}
        return table(rows, ["PRO", "AUROC", "AUROCc"], title=title, index_name="method", notes=notes)
    if number == 4:
        ds = [dataset] if dataset else list(pn.TABLE4)
        rows = {(m if dataset else f"{d} / {m}"): list(v)
                for d in ds for m, v in pn.TABLE4[d].items()}
        return table(rows, ["PRO", "AUROC", "F1"], title=title, index_name="method")
    if number == 5:
        cols = ["Complexity", "320×320 [s]", "1024×1024 [s]"]
        rows = {m: [v["complexity"], v["seconds_320"], v["seconds_1024"]]
                for m, v in pn.TABLE5.items()}
        notes = "‡ scale poorly with large image sizes: " + ", ".join(
            m for m in pn.TABLE5 if m in pn.TABLE5_SCALES_POORLY)
        formats = {cols[2]: "{:g}"}  # as printed: "1.10" at 320, "199" at 1024
        return table(rows, cols, title=title, index_name="method", notes=notes, formats=formats)
    if number == 6:
        ds = [dataset] if dataset else list(pn.TABLE6)
        methods = [method] if method else list(pn.TABLE6["MVTec AD"]["carpet"])
        cols = [f"{m} {k}" if not method else k for m in methods for k in ("PRO", "AUROC", "F1")]
        rows = {(c if dataset else f"{d} / {c}"): [x for m in methods for x in v[m]]
                for d in ds for c, v in pn.TABLE6[d].items()}
        return table(rows, cols, title=title, index_name="class")
    marks = ["F", "R", "HR", "FCA"]
    rows = {next((k for k in marks if r[k] is False), "full"):
            [r[k] for k in marks + ["PRO", "AUROC"]] for r in pn.TABLE7}
    return table(rows, marks + ["PRO", "AUROC"], title=title, index_name="ablated")


def _check(value, allowed, what):
    if value is not None and value not in allowed:
        raise ValueError(f"paper_table: unknown {what} {value!r}; expected one of "
                         f"{list(allowed) or 'nothing (this table takes no such argument)'}")
