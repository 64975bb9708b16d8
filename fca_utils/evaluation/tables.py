"""Tables as :class:`pandas.DataFrame`: building, comparing, showing and saving them.

A table is a DataFrame with named rows (its index, named by ``index_name``) and
columns; its title, source, notes and optional per-column number formats travel in
``df.attrs["title"]``, ``df.attrs["source"]``, ``df.attrs["notes"]`` and
``df.attrs["formats"]``. The source names the data, protocol and backbone the numbers
come from (:func:`with_source`; a notebook builds it with
:meth:`fca_utils.paper.report.NotebookRun.source`) and is shown under the title by :func:`styled` and :func:`to_markdown`. Missing
values are ``NaN`` / ``None``.

>>> t = table({"Ours": [97.18, 98.73], "MAEDAY": [None, 75.2]}, ["PRO", "AUROC"],
...           title="Demo", index_name="method")
>>> float(t.loc["Ours", "PRO"])
97.18
>>> print(to_text(t))
Demo
 method   |   PRO |   AUROC
----------+-------+---------
 Ours     | 97.18 |   98.73
 MAEDAY   |     – |   75.20

:func:`to_text` is the deterministic rendering that notebooks print in the cells nbval
checks: numbers with two decimals unless ``formats`` says otherwise, missing values as
"–", ``True`` / ``False`` as "✓" / "✗", the title above and the notes below (the source
is left out: the text is the compact copy, for nbval, of a table that :func:`styled` shows
with its source).
:func:`styled` is the HTML display of the same cells; :func:`write_csv` (raw values) and
:func:`write_markdown` (the cells of :func:`to_text`) save a table atomically.

:func:`compare` puts one's own numbers next to the paper's (the paper's tables are
:func:`fca_utils.paper.tables.paper_table`); a difference column is added only for
numbers measured on the same data with the same protocol:

>>> paper = table({"Ours": [97.18]}, ["PRO"], index_name="method")
>>> print(to_text(compare(table({"Ours": [96.5]}, ["PRO"]), paper, same_data=True)))
 method   |   PRO ours |   PRO paper |   PRO Δ
----------+------------+-------------+---------
 Ours     |      96.50 |       97.18 |   -0.68
"""
from __future__ import annotations

import html
import os
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler
from tabulate import tabulate

from ..core.io import atomic_path, write_text

__all__ = ["DASH", "DIFFERENT_DATA", "table", "with_source", "compare", "to_text", "to_markdown", "styled", "TableStyler",
           "write_csv", "write_markdown"]

DASH = "–"
#: Note of a :func:`compare` without ``same_data``.
DIFFERENT_DATA = "different data: reference only"


def table(rows: Mapping[str, Sequence], columns: Sequence[str], *, title: str = "", index_name: str = "",
          notes: str = "", formats: Mapping[str, str] | None = None, source: str = "") -> pd.DataFrame:
    """A table: row name -> one value per column (order kept), with its title and notes.

    Parameters
    ----------
    rows : dict of str -> list
        Numbers, strings, bools or ``None`` (missing).
    columns : list of str
    title, notes : str
        Shown above / below the table (``df.attrs["title"]``, ``df.attrs["notes"]``).
    index_name : str
        Header of the row names.
    formats : dict of str -> str, optional
        ``str.format`` pattern for the numbers of a column, used by :func:`to_text`,
        :func:`styled` and :func:`write_markdown` (``df.attrs["formats"]``); other numbers
        print as integers or with two decimals.
    source : str
        The data, protocol and backbone the numbers come from (``df.attrs["source"]``),
        shown under the title; see :func:`with_source`.

    >>> t = table({"x": [1.5, True]}, ["a", "b"], title="T", index_name="row", formats={"a": "{:.1f}"})
    >>> t.attrs["title"], float(t.loc["x", "a"]), to_text(t).splitlines()[-1]
    ('T', 1.5, ' x     | 1.5 |   ✓')
    """
    df = pd.DataFrame.from_dict(dict(rows), orient="index", columns=list(columns))
    df.index = pd.Index(list(rows), name=index_name or None)
    df.attrs.update(title=title, notes=notes, formats=dict(formats or {}))
    if source:
        df.attrs["source"] = source
    return df


def with_source(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Set ``df.attrs["source"]``, what the numbers come from (data, protocol, backbone); return ``df``.

    :func:`to_markdown` and :func:`styled` show it under the title (not the compact
    :func:`to_text`); :func:`compare` keeps it, with the paper table's own source.

    >>> t = with_source(table({"Ours": [96.5]}, ["PRO"], title="Demo"), "data: toy · protocol: T=3 · backbone: colors")
    >>> print(to_markdown(t).splitlines()[2])
    *data: toy · protocol: T=3 · backbone: colors*
    """
    if not isinstance(source, str) or not source.strip():
        raise ValueError(f"source must be a non-empty string naming data, protocol and backbone, got {source!r}")
    df.attrs["source"] = source
    return df


def compare(ours: pd.DataFrame, paper: pd.DataFrame, *, same_data: bool = False, title: str | None = None,
            notes: str = "", union: bool = False) -> pd.DataFrame:
    """Ours next to the paper's, cell by cell: columns ``"c ours"``, ``"c paper"`` per column ``c``.

    Rows and columns are matched by name and keep the order of ``ours``; with
    ``union=True`` the rows and columns found only in ``paper`` follow. A cell missing from
    either table is missing.

    When ``ours`` has a source (:func:`with_source`), the result's source is ``"ours:
    <ours'> | paper: <paper's>"`` (the paper's part when ``paper`` has one, e.g. from
    :func:`fca_utils.paper.tables.paper_table`).

    ``same_data=True`` says that ``ours`` was computed on the paper's data with the paper's
    protocol; only then is a ``"c Δ"`` column (ours − paper, rounded to 10 decimals,
    missing unless both are numbers) added. Otherwise the paper's numbers are a reference
    point, not a target, and the notes say :data:`DIFFERENT_DATA`.

    >>> a = table({"Ours": [97.0], "New": [1.0]}, ["PRO"])
    >>> b = table({"Ours": [97.18], "Aota": [93.82]}, ["PRO"])
    >>> compare(a, b, same_data=True)["PRO Δ"].tolist()
    [-0.18, nan]
    >>> c = compare(a, b, union=True)
    >>> list(c.index), list(c.columns), c.attrs["notes"]
    (['Ours', 'New', 'Aota'], ['PRO ours', 'PRO paper'], 'different data: reference only')
    """
    rows = ours.index.union(paper.index, sort=False) if union else ours.index
    cols = ours.columns.union(paper.columns, sort=False) if union else ours.columns
    parts = {"ours": ours.reindex(index=rows, columns=cols), "paper": paper.reindex(index=rows, columns=cols)}
    fmts = {"ours": ours.attrs.get("formats", {}), "paper": paper.attrs.get("formats", {})}
    if same_data:
        parts["Δ"] = (_numbers(parts["ours"]) - _numbers(parts["paper"])).round(10)
        fmts["Δ"] = {c: "{:+.2f}" for c in cols}
    out = pd.DataFrame({f"{c} {k}": parts[k][c] for c in cols for k in parts}, index=rows)
    out.index.name = ours.index.name or paper.index.name
    if title is None:
        title = " vs. ".join(t for t in (ours.attrs.get("title"), paper.attrs.get("title")) if t)
    notes = "; ".join(n for n in (notes, None if same_data else DIFFERENT_DATA) if n)
    out.attrs.update(title=title, notes=notes,
                     formats={f"{c} {k}": fmts[k][c] for c in cols for k in parts if c in fmts[k]})
    if ours.attrs.get("source"):
        out.attrs["source"] = (f"ours: {ours.attrs['source']} | paper: {paper.attrs['source']}"
                               if paper.attrs.get("source") else ours.attrs["source"])
    return out


def _numbers(df: pd.DataFrame) -> pd.DataFrame:
    """Numeric columns as floats, every other column (text, ✓ / ✗ marks) missing."""
    return pd.DataFrame({c: s.astype(float) if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
                         else np.nan for c, s in df.items()}, index=df.index)


def _cell(value, fmt: str | None = None) -> str:
    """One cell as text: "–" for missing, "✓" / "✗" for bools, numbers by ``fmt`` or 2 decimals."""
    if isinstance(value, str):
        return value
    if pd.isna(value):
        return DASH
    if isinstance(value, (bool, np.bool_)):
        return "✓" if value else "✗"
    if fmt:
        return fmt.format(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{value:.2f}"
    return str(value)


def _cells(df: pd.DataFrame) -> list[list[str]]:
    """Row name, then each formatted cell, for every row."""
    fmts = df.attrs.get("formats", {})
    return [[str(name)] + [_cell(v, fmts.get(c)) for c, v in zip(df.columns, values)]
            for name, values in zip(df.index, df.itertuples(index=False, name=None))]


def _align(df: pd.DataFrame) -> list[str]:
    """Row names and text-only columns left, everything else right."""
    def text(s):
        present = s.dropna()
        return len(present) > 0 and all(isinstance(v, str) for v in present)
    return ["left"] + ["left" if text(s) else "right" for _, s in df.items()]


def _headers(df: pd.DataFrame) -> list[str]:
    return [df.index.name or ""] + [str(c) for c in df.columns]


def to_text(df: pd.DataFrame) -> str:
    """Title, the table (cells as described in the module docstring), notes; deterministic.

    The source (:func:`with_source`) is not repeated here: this is the compact copy of a
    table that :func:`styled` and :func:`to_markdown` show with it."""
    body = tabulate(_cells(df), headers=_headers(df), tablefmt="presto", disable_numparse=True,
                    colalign=_align(df))
    return "\n".join(x for x in (df.attrs.get("title"), body, df.attrs.get("notes")) if x)


def to_markdown(df: pd.DataFrame) -> str:
    """GitHub Markdown: the bold title, the source in italics, the table with the cells of :func:`to_text`, the notes."""
    def esc(s):
        return s.replace("|", "\\|")
    cells = pd.DataFrame([[esc(x) for x in row[1:]] for row in _cells(df)],
                         index=pd.Index([esc(str(i)) for i in df.index], name=esc(df.index.name or "")),
                         columns=[esc(c) for c in _headers(df)[1:]])
    body = cells.to_markdown(colalign=_align(df), disable_numparse=True)
    title, source, notes = df.attrs.get("title"), df.attrs.get("source"), df.attrs.get("notes")
    return "\n\n".join(x for x in (f"**{title}**" if title else "", f"*{esc(source)}*" if source else "", body, notes)
                       if x)


class TableStyler(Styler):
    """A pandas ``Styler`` whose plain-text form is :func:`to_text`, not an object address.

    Jupyter stores a ``text/plain`` copy beside every HTML output; pandas' own is
    ``<pandas.io.formats.style.Styler at 0x...>``, which changes at every run and tells a
    reader of the raw notebook nothing.
    """

    def __repr__(self) -> str:
        return to_text(self.data)


def styled(df: pd.DataFrame) -> TableStyler:
    """HTML display for notebooks: the cells of :func:`to_text`, the title (source and notes) as caption.

    The table's HTML id is fixed (no random part), so re-executing a notebook does not
    change its output; its plain-text copy is :func:`to_text`.
    """
    fmts = df.attrs.get("formats", {})
    caption = html.escape(df.attrs.get("title") or "")
    if df.attrs.get("source"):
        caption += ("<br>" if caption else "") + f"<small>{html.escape(df.attrs['source'])}</small>"
    if df.attrs.get("notes"):
        caption += f"<br><small>{html.escape(df.attrs['notes'])}</small>"
    style = TableStyler(df, uuid_len=0, cell_ids=False, caption=caption or None)
    return (style.format({c: partial(_cell, fmt=fmts.get(c)) for c in df.columns}, escape="html")
            .format_index(escape="html", axis=0).format_index(escape="html", axis=1))


def write_csv(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the raw values as CSV (missing -> empty cell), atomically; return the path.

    ``pandas.read_csv(path, index_col=0)`` reads it back.
    """
    with atomic_path(path) as tmp:
        df.to_csv(tmp, encoding="utf-8")
    return Path(path)


def write_markdown(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write :func:`to_markdown` of ``df`` atomically; return the path."""
    return write_text(path, to_markdown(df) + "\n")
