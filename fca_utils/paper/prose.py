"""Small helpers that turn computed numbers into the sentences of the notebooks' takeaways.

A notebook never types a result into a markdown cell (``tests/test_notebook_prose.py``):
a takeaway that depends on results is built from them by a function of the module that
owns the experiment (e.g. :func:`fca_utils.paper.experiments.table1_takeaway`) and shown
with ``IPython.display.Markdown``. These helpers keep the wording of those functions
consistent: numbers with two decimals, orderings that call small differences ties, and a
sentence on which backbone really produced the numbers.

>>> ordering({"FCA": 80.84, "SWW": 79.69, "Hist": 76.51}, noise=2.0)
'FCA (80.84) ≈ SWW (79.69) > Hist (76.51)'
>>> verdict(80.84, 79.69, noise=2.0), verdict(80.84, 76.51, noise=2.0)
(0, 1)
>>> signed(-1.234)
'−1.23'
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from itertools import pairwise

__all__ = ["backbone_sentence", "count", "num", "order_of", "ordering", "points", "signed", "verdict"]


def num(x: float | None, digits: int = 2) -> str:
    """``x`` with ``digits`` decimals; "–" for a missing value (None or NaN)."""
    if _missing(x):
        return "–"
    return f"{x:.{digits}f}"


def signed(x: float, digits: int = 2) -> str:
    """``x`` with an explicit sign (``+1.20``, ``−0.40``; a typographic minus)."""
    return f"{x:+.{digits}f}".replace("-", "−")


def points(x: float) -> str:
    """``"1 point"``, ``"2 points"``, ``"0.5 points"``: a difference in percentage points."""
    return f"{x:g} point" + ("" if x == 1 else "s")


def verdict(a: float, b: float, noise: float = 0.0) -> int:
    """1 when ``a`` exceeds ``b`` by at least ``noise``, −1 when it falls short by as much, else 0."""
    if a - b >= noise and a != b:
        return 1
    if b - a >= noise and a != b:
        return -1
    return 0


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def order_of(values: Mapping[str, float]) -> list[str]:
    """The keys of ``values`` from the largest value to the smallest (missing values last)."""
    return sorted(values, key=lambda k: math.inf if _missing(values[k]) else -values[k])


def ordering(values: Mapping[str, float], noise: float = 0.0, digits: int = 2) -> str:
    """``"A (x) > B (y) ≈ C (z)"``: the keys from best to worst with their values.

    Neighbours closer than ``noise`` are joined by "≈" (within noise) instead of ">".
    """
    keys = order_of(values)
    out = f"{keys[0]} ({num(values[keys[0]], digits)})"
    for prev, key in pairwise(keys):
        close = (not _missing(values[prev]) and not _missing(values[key])
                 and verdict(values[prev], values[key], noise) == 0)
        out += f" {'≈' if close else '>'} {key} ({num(values[key], digits)})"
    return out


def count(items: Iterable[str], total: int, noun: str = "") -> str:
    """``"2 of 5 extractors (a, b)"``, or ``"0 of 5 extractors"``: how many of ``total`` and which.

    >>> count(["Colors", "VGG"], 5, "extractors")
    '2 of 5 extractors (Colors, VGG)'
    """
    items = list(items)
    head = f"{len(items)} of {total}" + (f" {noun}" if noun else "")
    return head + (f" ({', '.join(items)})" if items and len(items) < total else "")


def backbone_sentence(used: str, paper: str = "wide_resnet50_2", paper_label: str = "WideResNet-50-2") -> str:
    """Which network produced the numbers, next to the paper's.

    >>> backbone_sentence("efficientnet_lite0")
    "the features are `efficientnet_lite0`, not the paper's WideResNet-50-2"
    >>> backbone_sentence("wide_resnet50_2")
    "the features are the paper's WideResNet-50-2 (`wide_resnet50_2`)"
    """
    if used == paper:
        return f"the features are the paper's {paper_label} (`{used}`)"
    return f"the features are `{used}`, not the paper's {paper_label}"
