"""A tiny table type for notebooks (no pandas): text, HTML, Markdown, CSV, comparison.

>>> t = Table("Demo", ["PRO", "AUROC"], {"Ours": [97.18, 98.73], "MAEDAY": [None, 75.2]},
...           index_name="method")
>>> print(t)
Demo
method | PRO   | AUROC
-------+-------+------
Ours   | 97.18 | 98.73
MAEDAY |     – | 75.20

Text output is deterministic (nbval compares it): no ids, no timestamps. ``None`` prints
as "–", ``True`` / ``False`` as "✓" / "✗".

:func:`paper_table` rebuilds the paper's Tables 1–7 from :mod:`fca_utils.paper_numbers`
(Table 1 as one table with flat ``"<feature> PRO"`` / ``"<feature> AUROC"`` columns);
:func:`compare` puts one's own numbers next to them:

>>> print(compare(Table("", ["PRO"], {"Ours": [96.5]}), paper_table(3), title=""))
method | PRO ours | PRO paper | PRO Δ
-------+----------+-----------+------
Ours   |    96.50 |     97.18 | -0.68
"""
from __future__ import annotations

import csv
import html
import os
import tempfile
from pathlib import Path

from . import paper_numbers as pn

__all__ = ["Table", "compare", "paper_table"]

DASH = "–"


class Table:
    """Named rows × named columns of numbers, strings, bools or ``None``.

    Parameters
    ----------
    title : str
        Printed above the table.
    columns : list of str
        Column names.
    rows : dict of str -> list
        Row name -> one value per column (order kept).
    index_name : str
        Header of the row-name column.
    fmt : str or dict of str -> str
        Format for floats/ints, or a per-column mapping (missing columns use ``"{:.2f}"``).
    notes : str
        Footnote printed below the table.

    Examples
    --------
    >>> t = Table("T", ["a"], {"x": [1.0]}, index_name="row")
    >>> t["x", "a"], t.to_records()
    (1.0, [{'row': 'x', 'a': 1.0}])
    """

    def __init__(self, title="", columns=(), rows=None, index_name="", fmt="{:.2f}", notes=""):
        self.title, self.index_name, self.fmt, self.notes = title, index_name, fmt, notes
        self.columns = list(columns)
        self.rows = {str(k): list(v) for k, v in (rows or {}).items()}
        for name, values in self.rows.items():
            if len(values) != len(self.columns):
                raise ValueError(f"row {name!r} has {len(values)} values, expected "
                                 f"{len(self.columns)} (one per column {self.columns})")

    def __getitem__(self, key):
        row, col = key
        return self.rows[row][self.columns.index(col)]

    def _cell(self, value, col):
        if value is None:
            return DASH
        if isinstance(value, bool):
            return "✓" if value else "✗"
        if isinstance(value, (int, float)):
            f = self.fmt.get(col, "{:.2f}") if isinstance(self.fmt, dict) else self.fmt
            return f.format(value)
        return str(value)

    def _grid(self):
        head = [self.index_name] + self.columns
        body = [[name] + [self._cell(v, c) for v, c in zip(vals, self.columns)]
                for name, vals in self.rows.items()]
        return head, body

    def _left(self, i):
        """Column ``i`` (0 = row names) is left-aligned if it holds only text."""
        vals = [v[i - 1] for v in self.rows.values() if v[i - 1] is not None] if i else []
        return i == 0 or (bool(vals) and all(isinstance(v, str) for v in vals))

    def __str__(self):
        head, body = self._grid()
        w = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
        left = [self._left(i) for i in range(len(head))]
        line = lambda r, hdr: " | ".join(  # noqa: E731
            (c.ljust(w[i]) if hdr or left[i] else c.rjust(w[i])) for i, c in enumerate(r))
        out = ([self.title] if self.title else []) + [line(head, True).rstrip()]
        out.append("-+-".join("-" * x for x in w))
        out += [line(r, False) for r in body]
        return "\n".join(out + ([self.notes] if self.notes else []))

    __repr__ = __str__

    def to_markdown(self):
        """GitHub Markdown: bold title line, then the table, then the notes."""
        head, body = self._grid()
        esc = lambda s: s.replace("|", "\\|")  # noqa: E731
        out = [f"**{esc(self.title)}**", ""] if self.title else []
        out.append("| " + " | ".join(esc(c) for c in head) + " |")
        out.append("|" + "".join("---|" if self._left(i) else "---:|" for i in range(len(head))))
        out += ["| " + " | ".join(esc(c) for c in r) + " |" for r in body]
        return "\n".join(out + (["", self.notes] if self.notes else []))

    def _repr_html_(self):
        head, body = self._grid()
        e = html.escape
        out = ["<table>"] + ([f"<caption>{e(self.title)}</caption>"] if self.title else [])
        out.append("<thead><tr>" + "".join(f"<th>{e(c)}</th>" for c in head) + "</tr></thead>")
        out.append("<tbody>")
        for r in body:
            cells = "".join(f'<td style="text-align:{"left" if self._left(i) else "right"}">'
                            f"{e(c)}</td>" for i, c in enumerate(r[1:], 1))
            out.append(f'<tr><th style="text-align:left">{e(r[0])}</th>{cells}</tr>')
        out.append("</tbody></table>")
        return "\n".join(out + ([f"<p><small>{e(self.notes)}</small></p>"] if self.notes else []))

    def to_records(self):
        """List of dicts, one per row: ``{index_name: row, column: value, ...}``."""
        key = self.index_name or "index"
        return [{key: name, **dict(zip(self.columns, vals))} for name, vals in self.rows.items()]

    @classmethod
    def from_records(cls, records, index=None, **kwargs):
        """Inverse of :meth:`to_records`; ``index`` defaults to each record's first key."""
        records = list(records)
        index = index or (next(iter(records[0])) if records else "index")
        cols = list(dict.fromkeys(k for r in records for k in r if k != index))
        rows = {r[index]: [r.get(c) for c in cols] for r in records}
        return cls(columns=cols, rows=rows, index_name=index, **kwargs)

    def to_csv(self, path):
        """Write raw values as CSV (``None`` -> empty cell), atomically; return the Path.

        The rows go to a temporary file in the target's folder, which then replaces the
        target with :func:`os.replace`: a failure leaves any previous file untouched.
        """
        path = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow([self.index_name] + self.columns)
                for name, vals in self.rows.items():
                    w.writerow([name] + ["" if v is None else repr(v) if isinstance(v, float)
                                         else v for v in vals])
                f.flush()
                os.fsync(f.fileno())
            # mkstemp creates 0600; keep the old file's mode, else the usual 0644
            os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def from_csv(cls, path, **kwargs):
        """Read a file written by :meth:`to_csv` (numbers -> float, "" -> None)."""
        def parse(s):
            if s == "":
                return None
            if s in ("True", "False"):
                return s == "True"
            try:
                return float(s)
            except ValueError:
                return s
        with open(path, newline="", encoding="utf-8") as f:
            head, *body = list(csv.reader(f))
        rows = {r[0]: [parse(s) for s in r[1:]] for r in body}
        return cls(columns=head[1:], rows=rows, index_name=head[0], **kwargs)


def compare(ours, paper, title=None, union=False):
    """Cell-by-cell comparison: for each column ``c``, columns ``"c ours"``, ``"c paper"``,
    ``"c Δ"`` (ours − paper, rounded to 10 decimals; ``None`` unless both are numbers).

    Rows and columns are matched by name and keep the order of ``ours``; with
    ``union=True`` the rows and columns found only in ``paper`` follow. A cell missing
    from either table is ``None``.

    >>> a = Table("", ["PRO"], {"Ours": [97.0], "New": [1.0]})
    >>> b = Table("", ["PRO"], {"Ours": [97.18], "Aota": [93.82]})
    >>> [r["PRO Δ"] for r in compare(a, b).to_records()]
    [-0.18, None]
    >>> list(compare(a, b, union=True).rows)
    ['Ours', 'New', 'Aota']
    """
    def get(t, r, c):
        return t[r, c] if r in t.rows and c in t.columns else None

    def num(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    cols = ours.columns + [c for c in paper.columns if union and c not in ours.columns]
    out = {}
    for r in list(ours.rows) + [r for r in paper.rows if union and r not in ours.rows]:
        out[r] = []
        for c in cols:
            a, b = get(ours, r, c), get(paper, r, c)
            out[r] += [a, b, round(a - b, 10) if num(a) and num(b) else None]
    names = [f"{c} {k}" for c in cols for k in ("ours", "paper", "Δ")]
    fmt = {n: "{:+.2f}" if n.endswith("Δ") else "{:.2f}" for n in names}
    return Table(title if title is not None else f"{ours.title} vs. {paper.title}".strip(),
                 names, out, index_name=ours.index_name or paper.index_name, fmt=fmt)


def paper_table(number, *, dataset=None, metric=None, method=None):
    """The paper's Table ``number`` (1–7) from :mod:`fca_utils.paper_numbers`.

    Layouts (metric names ``PRO``, ``AUROC``, ``AUROCc``, ``F1``, ``time``):

    1. rows = statistics; columns ``"<feature> PRO"``, ``"<feature> AUROC"`` for each
       feature. ``metric="PRO"`` or ``"AUROC"``: columns = features only.
    2. rows = references; columns ``"<statistic> PRO"``, ``"<statistic> time [s]"``.
       ``metric="PRO"`` or ``"time"``: columns = statistics only.
    3. rows = methods; columns PRO, AUROC, AUROCc; † and multi-shot in the notes.
    4. rows = methods of ``dataset`` (PRO, AUROC, F1); without ``dataset`` the datasets are
       stacked as in the paper, rows ``"<dataset> / <method>"``.
    5. rows = methods; columns Complexity, 320×320 [s], 1024×1024 [s]; ‡ in the notes.
    6. rows = classes of ``dataset`` (``"<dataset> / <class>"`` when stacked); columns
       ``"<method> PRO"`` … for the three methods, or PRO, AUROC, F1 when ``method`` is given.
    7. rows = ablated component (``"full"`` for the final method); columns F, R, HR, FCA
       (✓ / ✗ / –), PRO, AUROC.

    >>> paper_table(1)["FCA", "VGG PRO"], paper_table(3)["Ours", "PRO"]
    (81.08, 97.18)
    """
    if number not in pn.CAPTIONS:
        raise ValueError(f"paper_table: number must be 1..7, got {number!r}")
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
        return Table(title, cols, rows, index_name="statistic")
    if number == 2:
        ms = {m: i for i, m in enumerate(["PRO", "time [s]"]) if metric in (None, m[:4])}
        stats = list(pn.TABLE2["Global"])
        cols = [s if metric else f"{s} {m}" for s in stats for m in ms]
        rows = {r: [v[s][i] for s in stats for i in ms.values()] for r, v in pn.TABLE2.items()}
        fmt = {c: "{:g}" for c in cols if not c.endswith("PRO") and metric != "PRO"}
        return Table(title, cols, rows, index_name="reference", fmt=fmt)
    if number == 3:
        notes = ("† numbers from other papers: " + ", ".join(
            m for m in pn.TABLE3 if m in pn.TABLE3_FROM_OTHER_PAPERS)
            + "; multi-shot: " + ", ".join(m for m in pn.TABLE3 if m in pn.TABLE3_MULTI_SHOT))
        rows = {m: list(v) for m, v in pn.TABLE3.items()}
        return Table(title, ["PRO", "AUROC", "AUROCc"], rows, index_name="method", notes=notes)
    if number == 4:
        ds = [dataset] if dataset else list(pn.TABLE4)
        rows = {(m if dataset else f"{d} / {m}"): list(v)
                for d in ds for m, v in pn.TABLE4[d].items()}
        return Table(title, ["PRO", "AUROC", "F1"], rows, index_name="method")
    if number == 5:
        cols = ["Complexity", "320×320 [s]", "1024×1024 [s]"]
        rows = {m: [v["complexity"], v["seconds_320"], v["seconds_1024"]]
                for m, v in pn.TABLE5.items()}
        notes = "‡ scale poorly with large image sizes: " + ", ".join(
            m for m in pn.TABLE5 if m in pn.TABLE5_SCALES_POORLY)
        fmt = {cols[1]: "{:.2f}", cols[2]: "{:g}"}  # as printed: "1.10", "199"
        return Table(title, cols, rows, index_name="method", fmt=fmt, notes=notes)
    if number == 6:
        ds = [dataset] if dataset else list(pn.TABLE6)
        methods = [method] if method else list(pn.TABLE6["MVTec AD"]["carpet"])
        cols = [f"{m} {k}" if not method else k for m in methods for k in ("PRO", "AUROC", "F1")]
        rows = {(c if dataset else f"{d} / {c}"): [x for m in methods for x in v[m]]
                for d in ds for c, v in pn.TABLE6[d].items()}
        return Table(title, cols, rows, index_name="class")
    if number == 7:
        marks = ["F", "R", "HR", "FCA"]
        rows = {next((k for k in marks if r[k] is False), "full"):
                [r[k] for k in marks + ["PRO", "AUROC"]] for r in pn.TABLE7}
        return Table(title, marks + ["PRO", "AUROC"], rows, index_name="ablated")


def _check(value, allowed, what):
    if value is not None and value not in allowed:
        raise ValueError(f"paper_table: unknown {what} {value!r}; expected one of "
                         f"{list(allowed) or 'nothing (this table takes no such argument)'}")
