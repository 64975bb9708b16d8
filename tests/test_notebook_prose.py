"""Prose that stays true: no result typed into a markdown cell of ``notebooks/``.

A number, ranking or backbone name that depends on results is generated from them: a code
cell builds Markdown from the computed tables (functions of :mod:`fca_utils.paper`) and shows
it with ``IPython.display.Markdown``, so that a run in full mode or with other weights says
true things. Markdown cells keep what does not depend on a run: what the experiment is, what
the paper says and reports, and fixed settings.

This test reads every ``notebooks/*.ipynb`` as JSON (nothing is executed) and fails on a
markdown cell that contains a *result-like* number that is neither a paper value nor a setting.
Rankings and backbone names cannot be recognised this way; they are reviewed by hand.

What is checked
---------------
Code spans (```` `...` ````), fenced code blocks, inline math (``$...$``) and link targets are
removed first. A number is one token of digits, with an optional decimal part; digits grouped
by a space in threes (``84 984``, ``1 024``) are one number. Digits glued to a word
(``conv1_1``, ``Lite0``, ``WideResNet-50-2``) are not numbers.

A number is **result-like** when it is

1. a decimal number (``78.7``, ``1.0–1.2``),
2. a percentage (``6 %``, ``99.7%``),
3. followed by a unit of time, score or ratio: ``s``, ``ms``, ``sec``, ``seconds``, ``min``,
   ``minutes``, ``h``, ``hours``, ``days``, ``points`` (also ``PRO points``), ``times``, or
4. right after a metric name (``PRO``, ``AU-PRO``, ``AUROC``, ``AUROCc``, ``F1``, ``F1-max``,
   optionally joined by ``:``, ``=``, ``≈``, ``~``, ``<``, ``>``, "of", "is", "at"):
   ``PRO 58``, ``F1-max < 1 %``.

A result-like number is **allowed** when it is

a. a paper citation: one of the values the paper reports in its tables (every number of
   ``TABLE1`` ... ``TABLE7`` in :mod:`fca_utils.paper.numbers`, compared at the printed
   precision) in a paragraph or list item that mentions the paper ("paper: 97.18",
   "392 s per image in the paper"). The paper's settings (``HYPERPARAMETERS``, ``FIGURE9``:
   T = 9, σ_p = 3, FPR 0.3, the 10 % border) are not on that list: small values such as 1, 3
   or 10 would excuse too many measured ones; they pass as settings (b), or
b. a setting, unless rule 4 applies: right after ``=``, ``PRO(`` (the metric's name, PRO(0.3)), ``σ``, ``σ_p``, ``σ_s``, ``T``, ``×``,
   ``/``, ``Eq.``, ``Sec.``, ``Section``, ``Table``, ``Figure``, ``Fig.``, ``Appendix``, ``k``
   or ``FPR`` (an opening parenthesis may come between) or in a list of such references
   ("Sec. 3.1 and 3.4", "Sec. 3.2–3.3"), right before ``×``, ``²``, ``px``,
   ``bins`` or ``channels``, or a percentage "of the side" / "of the image side" (a size
   relative to the image: the evaluation border, an erosion radius).

Integers without a unit (image sizes, counts of images, classes or windows, section
numbers) are never result-like.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fca_utils.paper import numbers as pn

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


# ----------------------------------------------------------------------------- the checker
#: The tables of :mod:`fca_utils.paper.numbers` whose numbers are the paper's reported results.
PAPER_TABLES = ("TABLE1", "TABLE2", "TABLE3", "TABLE4", "TABLE5", "TABLE6", "TABLE7")


def _paper_values() -> set[float]:
    """Every number of the paper's Tables 1-7 (:mod:`fca_utils.paper.numbers`)."""
    found: set[float] = set()

    def walk(x):
        if isinstance(x, bool) or x is None or isinstance(x, str):
            return
        if isinstance(x, (int, float)):
            found.add(round(float(x), 6))
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, (list, tuple, set, frozenset)):
            for v in x:
                walk(v)

    for name in PAPER_TABLES:
        walk(getattr(pn, name))
    return found


PAPER_VALUES = _paper_values()

_NUMBER = re.compile(r"(?<![\w.\-])(?:\d{1,3}(?:[ \u2009\u202f]\d{3})+(?![\d.])|\d+(?:\.\d+)?)(?![\w])")
_STRIP = [
    re.compile(r"```.*?```", re.DOTALL),          # fenced code
    re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL),  # code spans
    re.compile(r"\$[^$\n]+\$"),               # inline math
    re.compile(r"\]\([^)]*\)"),                # link targets
]
_METRIC_BEFORE = re.compile(r"(?:\bAU-PRO|\bPRO|\bAUROCc?|\bF1-max|\bF1)(?:\(0\.3\))?\s*"
                            r"(?:(?:[:=≈~<>≤≥]|\bof\b|\bis\b|\bat\b)\s*)?$")
_SETTING_BEFORE = re.compile(r"(?:=|\bPRO\(|σ(?:_[ps])?|\bT|×|/|\bEqs?\.|\bSecs?\.|\bSections?|\bTables?|\bFigures?"
                             r"|\bFigs?\.|\bAppendix|\bk|\bFPR)\s*\(?\s*$")
_REFERENCE_LIST_BEFORE = re.compile(r"(?:\bEqs?\.|\bSecs?\.|\bSections?|\bTables?|\bFigures?|\bFigs?\.|\bAppendix)"
                                    r"\s*\(?[\dA-Z.]+\)?(?:\s*(?:,|and|or|–|-|to)\s*\(?[\dA-Z.]+\)?)*"
                                    r"\s*(?:,|and|or|–|-|to)\s*\(?\s*$")
_SETTING_AFTER = re.compile(r"^\s*(?:×|²|px\b|bins?\b|channels?\b|%\s*of\s+(?:the\s+)?(?:image\s+)?side\b)")
_PERCENT_AFTER = re.compile(r"^\s?%")
_UNIT_AFTER = re.compile(r"^\s?(?:s|ms|secs?|seconds?|min|mins|minutes?|h|hours?|days?|times"
                         r"|(?:(?:AU-PRO|PRO|AUROC|F1)\s)?points?)\b")


_PARAGRAPH_BREAK = re.compile(r"\n\s*\n|\n(?=\s*(?:[-*+]|\d+\.)\s)")  # blank line or a new list item
_MENTIONS_PAPER = re.compile(r"\bpaper", re.IGNORECASE)


def _paragraph(text: str, position: int) -> str:
    """The paragraph or list item of ``text`` around ``position``."""
    starts = [0] + [m.end() for m in _PARAGRAPH_BREAK.finditer(text) if m.end() <= position]
    end = next((m.start() for m in _PARAGRAPH_BREAK.finditer(text, position)), len(text))
    return text[starts[-1]:end]


def _prose(text: str) -> str:
    for pattern in _STRIP:
        text = pattern.sub(lambda m: " " * len(m.group(0)), text)  # keep offsets and line numbers
    return text


def result_numbers(markdown: str) -> list[str]:
    """The result-like numbers of ``markdown`` that are neither paper values nor settings.

    Each finding is ``"<number> in '<context>'"``; an empty list means the text passes.
    """
    text = _prose(markdown)
    found = []
    for m in _NUMBER.finditer(text):
        token = m.group(0)
        value = float(re.sub(r"\s", "", token))
        before, after = text[max(0, m.start() - 40):m.start()], text[m.end():m.end() + 40]
        metric = bool(_METRIC_BEFORE.search(before))
        result_like = ("." in token or metric or _PERCENT_AFTER.match(after) or _UNIT_AFTER.match(after))
        if not result_like:
            continue
        if round(value, 6) in PAPER_VALUES and _MENTIONS_PAPER.search(_paragraph(text, m.start())):
            continue
        if not metric and (_SETTING_BEFORE.search(before) or _REFERENCE_LIST_BEFORE.search(before)
                           or _SETTING_AFTER.match(after)):
            continue
        context = text[max(0, m.start() - 30):m.end() + 20].replace("\n", " ")
        found.append(f"{token} in '{context.strip()}'")
    return found


def markdown_cells(path: Path) -> list[tuple[int, str]]:
    """(cell index, source) of every markdown cell of a notebook file, read as JSON."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [(i, "".join(c["source"]) if isinstance(c["source"], list) else c["source"])
            for i, c in enumerate(cells) if c["cell_type"] == "markdown"]


# ----------------------------------------------------------------------------- the notebooks
def test_the_notebooks_are_found():
    assert len(NOTEBOOKS) >= 8 and all(markdown_cells(p) for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_result_typed_into_markdown(path):
    problems = [f"cell {i}: {finding}" for i, source in markdown_cells(path) for finding in result_numbers(source)]
    assert not problems, (f"{path.name}: result-like numbers in markdown (generate them from the results, "
                          "see this module's docstring):\n" + "\n".join(problems))


# ----------------------------------------------------------------------------- the checker itself
@pytest.mark.parametrize("text", [
    "100 patches: 78.7 / 79.7 / 80.5 for Hist / SWW / FCA.",
    "PRO 34.3 (`color/000`) at full resolution",
    "the fitted exponents are 1.0–1.2 in the committed run",
    "with 99.7 % of the exact neighbours found",
    "about 10 s per 1024² image",
    "The three cells took about 48 s per image here.",
    "it costs 3 PRO points",
    "at about 30 times its cost",
    "PRO 58–60 for one random patch",
    "AU-PRO 88 vs. 74 % in our run",
    "no map isolates the outlier (F1-max < 1 % for FCA)",
    "the histogram is ahead by 2 points",
    "PRO = 78.70",
    "- the paper's claim holds\n- Hist 1.1 s per image here",   # a paper value, but not cited as one
])
def test_a_result_fails(text):
    assert result_numbers(text), text


@pytest.mark.parametrize("text", [
    "the paper: 97.18 PRO for the full method",
    "Ours + k-NN takes 392 s per 1024² image in the paper",
    "the paper reports 84 984 s / 314 577 s for SWW / FCA",
    "the paper: 0.71 s → 1.07 s from 320² to 1024²",
    "PRO(0.3) in percent, mean over classes",
    "T = 25, σ = 6, σ_p = 1.5, σ_s = 0.75 at 256 × 256 with 10 bins",
    "Eq. (7), Sec. 3.4, Table 2, Figure 9 and Appendix D.2",
    "Sec. 3.1 and 3.4, Sec. 3.2–3.3, Eqs. (2)–(5)",
    "PRO integrated up to FPR 0.3; a border of ~10 % of the side",
    "- the paper's Table 6: `Woven_127` PRO 85.26 → 92.82\n- T = 9",
    "eroded by 1 % of the image side",
    "`PRO 34.3` in a code span, and\n```\nprint(78.7)\n```",
    "images of 256–512 px; a 32×32 map has 1 024 windows; conv1_1 of VGG19, WideResNet-50-2",
    "quick mode runs 3 images per class on 2 CPU cores",
    "every σ × 0.125 and T = 3",
    "[the docs](https://example.org/v1.2/page.html)",
])
def test_a_paper_citation_or_setting_passes(text):
    assert result_numbers(text) == [], text


def test_paper_values_are_collected():
    assert {97.18, 392.0, 84984.0, 0.71, 1.2, 85.26} <= PAPER_VALUES
    assert not {78.7, 1.0, 3.0, 10.0} & PAPER_VALUES  # measured values, settings (T, σ_s, bins) are not


# ----------------------------------------------------------------------------- the sentence helpers
def test_prose_helpers():
    from fca_utils.paper import prose

    assert prose.ordering({"a": 1.0, "b": 3.0, "c": 2.5}, noise=1.0) == "b (3.00) ≈ c (2.50) > a (1.00)"
    assert prose.ordering({"a": 3.0, "b": 1.0, "c": 2.5}, noise=1.0) == "a (3.00) ≈ c (2.50) > b (1.00)"
    assert prose.ordering({"a": float("nan"), "b": 1.0}) == "b (1.00) > a (–)"
    assert [prose.verdict(3, 1, 1), prose.verdict(1, 3, 1), prose.verdict(1.5, 1, 1), prose.verdict(1, 1)] == [1, -1, 0, 0]
    assert prose.count([], 3, "rows") == "0 of 3 rows" and prose.count(["x", "y"], 2) == "2 of 2"
    assert prose.signed(0.5) == "+0.50" and prose.points(1) == "1 point" and prose.points(2.5) == "2.5 points"
    assert prose.num(None) == "–" and prose.num(1.234, 1) == "1.2"
