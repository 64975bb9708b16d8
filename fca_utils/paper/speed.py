"""Beyond the paper's speed (notebook 09): FCA, Quantized FCA and PCA, accuracy against time.

The configurations compared are overrides of preset ``paper`` (full resolution, T = 9,
median reference): the statistic (``"fca"``, Eq. (5); ``"qfca"``,
:func:`fca_utils.core.statistics.qfca` after arXiv 2510.15602), its number of
quantization levels, and the number of principal components the features are projected
on first (:func:`fca_utils.core.pca.pca`; None keeps every channel).
:func:`pareto_front` finds the configurations no other one beats in both time and AU-PRO;
:func:`speed_takeaway` writes the notebook's takeaway from the measured table.

>>> pareto_front({"a": (1.0, 0.80), "b": (0.5, 0.79), "c": (0.6, 0.70), "d": (2.0, 0.81)})
['b', 'a', 'd']
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from .prose import backbone_sentence, num

__all__ = ["config_name", "configurations", "pareto_front", "speed_takeaway"]


def config_name(statistic: str, levels: int | None = None, components: int | None = None) -> str:
    """Row label of a configuration: ``"FCA"``, ``"QFCA L=16"``, ``"QFCA L=16 + PCA 32"``, ``"FCA + PCA 32"``.

    >>> config_name("qfca", 16, 32)
    'QFCA L=16 + PCA 32'
    """
    name = "FCA" if statistic == "fca" else f"QFCA L={levels}"
    return name + (f" + PCA {components}" if components is not None else "")


def configurations(levels: tuple[int, ...], components: tuple[int, ...], pairs: tuple[tuple[int, int], ...] = ()
                   ) -> dict[str, dict]:
    """Preset overrides by row label: FCA; QFCA with each of ``levels``; FCA + PCA with each of
    ``components``; QFCA + PCA for each ``(levels, components)`` of ``pairs``.

    >>> list(configurations((8,), (32,), ((8, 32),)))
    ['FCA', 'QFCA L=8', 'FCA + PCA 32', 'QFCA L=8 + PCA 32']
    """
    out = {config_name("fca"): dict(statistic="fca")}
    for lv in levels:
        out[config_name("qfca", lv)] = dict(statistic="qfca", levels=lv)
    for k in components:
        out[config_name("fca", None, k)] = dict(statistic="fca", pca_components=k)
    for lv, k in pairs:
        out[config_name("qfca", lv, k)] = dict(statistic="qfca", levels=lv, pca_components=k)
    return out


def pareto_front(points: Mapping[str, tuple[float, float]]) -> list[str]:
    """Labels of ``(seconds, score)`` points that no other point beats in both (faster and at
    least as good, or as fast and better), from the fastest to the slowest."""
    front = []
    for name, (sec, score) in points.items():
        dominated = any((s2 <= sec and p2 >= score) and (s2 < sec or p2 > score)
                        for other, (s2, p2) in points.items() if other != name)
        if not dominated:
            front.append(name)
    return sorted(front, key=lambda n: points[n][0])


def _than(speedup: float, reference: str = "") -> str:
    """``"10.0× faster"`` (``" than FCA"`` with a reference), or below 1 the inverse, ``"1.4× slower"``."""
    words = f"{num(speedup, 1)}× faster" if speedup >= 1 or speedup <= 0 else f"{num(1 / speedup, 1)}× slower"
    return f"{words} than {reference}" if reference else words


def speed_takeaway(table: pd.DataFrame, *, reference: str = "FCA", metric: str = "AU-PRO",
                   seconds: str = "seconds per image", tolerance: float = 0.01, target: float = 10.0,
                   dataset: str = "", backbone: str = "", images: int | None = None) -> str:
    """Markdown bullets from the table of notebook 09 (rows: configurations; columns ``metric``
    on [0, 1] and ``seconds``): the Pareto front, the fastest configuration whose ``metric`` is at
    most ``tolerance`` below ``reference``'s and its speed-up, and whether it reaches ``target``.

    >>> t = pd.DataFrame({"AU-PRO": [0.80, 0.795, 0.70], "seconds per image": [1.0, 0.1, 0.05]},
    ...                  index=["FCA", "QFCA L=8", "QFCA L=2"])
    >>> print(speed_takeaway(t).splitlines()[1])
    - **At most 1 point below FCA** (80.00, 1.000 s per image): the fastest is QFCA L=8 (79.50, 0.100 s), 10.0× faster; it reaches the target of 10×.
    """
    ref_s, ref_p = float(table.loc[reference, seconds]), float(table.loc[reference, metric])
    points = {n: (float(table.loc[n, seconds]), float(table.loc[n, metric])) for n in table.index}
    front = pareto_front(points)
    lines = [
        f"- **Pareto front** ({metric} against {seconds.split(' per ')[0]} per image, {dataset}"
        + (f", {images} test images" if images else "") + "): "
        + " → ".join(f"{n} ({num(points[n][0], 3)} s, {num(100 * points[n][1])})" for n in front) + ".",
    ]
    close = {n: v for n, v in points.items() if n != reference and v[1] >= ref_p - tolerance}
    if close:
        best = min(close, key=lambda n: close[n][0])
        speedup = ref_s / close[best][0] if close[best][0] > 0 else math.inf
        met = "reaches" if speedup >= target else "does not reach"
        lines.append(
            f"- **At most {num(100 * tolerance, 0)} point{'s' if tolerance != 0.01 else ''} below {reference}** "
            f"({num(100 * ref_p)}, {num(ref_s, 3)} s per image): the fastest is {best} ({num(100 * close[best][1])}, "
            f"{num(close[best][0], 3)} s), {_than(speedup)}; it {met} the target of {num(target, 0)}×.")
    else:
        lines.append(f"- **No configuration** stays within {num(100 * tolerance, 0)} point below {reference}'s "
                     f"{metric} ({num(100 * ref_p)}).")
    quantized = [n for n in points if n.startswith("QFCA") and "PCA" not in n]
    if quantized:
        fastest = min(quantized, key=lambda n: points[n][0])
        lines.append(
            f"- **Quantization alone** ({', '.join(quantized)}): {fastest} takes {num(points[fastest][0], 3)} s, "
            f"{_than(ref_s / points[fastest][0], reference)}, at {metric} "
            f"{num(100 * points[fastest][1])} ({num(100 * (points[fastest][1] - ref_p))} points).")
    pca_rows = [n for n in points if "PCA" in n]
    if pca_rows:
        fastest = min(pca_rows, key=lambda n: points[n][0])
        lines.append(
            f"- **With PCA** the statistic sees fewer channels: the fastest, {fastest}, takes "
            f"{num(points[fastest][0], 3)} s ({_than(ref_s / points[fastest][0], reference)}, "
            f"PCA included) at {metric} {num(100 * points[fastest][1])}.")
    if backbone:
        sentence = backbone_sentence(backbone)
        lines.append("- " + sentence[0].upper() + sentence[1:] + ".")
    return "\n".join(lines)
