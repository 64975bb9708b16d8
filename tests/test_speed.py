"""Notebook 09's generated takeaway (fca_utils.paper.speed) says what the measured table says."""
import pandas as pd

from fca_utils.paper import speed


def table(rows):
    names, pro, sec = zip(*rows)
    return pd.DataFrame({"AU-PRO": pro, "seconds per image": sec}, index=list(names))


def test_takeaway_says_faster_or_slower_from_the_ratio():
    text = speed.speed_takeaway(table([("FCA", 0.80, 0.50), ("QFCA L=16", 0.797, 0.70),
                                       ("QFCA L=8 + PCA 16", 0.796, 0.05)]))
    lines = text.splitlines()
    assert lines[0].startswith("- **Pareto front**") and "QFCA L=8 + PCA 16 (0.050 s, 79.60)" in lines[0]
    assert "the fastest is QFCA L=8 + PCA 16 (79.60, 0.050 s), 10.0× faster; it reaches the target of 10×." in lines[1]
    assert "QFCA L=16 takes 0.700 s, 1.4× slower than FCA" in lines[2]
    assert "QFCA L=8 + PCA 16, takes 0.050 s (10.0× faster than FCA, PCA included)" in lines[3]


def test_takeaway_when_nothing_stays_within_a_point():
    text = speed.speed_takeaway(table([("FCA", 0.80, 0.50), ("QFCA L=8 + PCA 16", 0.70, 0.05)]))
    assert "- **No configuration** stays within 1 point below FCA's AU-PRO (80.00)." in text
    assert "did not" not in text and "does not reach" not in text
