"""Running time of the patch-comparison methods (paper, Section 5 and Table 5).

Table 5 of the paper lists, for each way of comparing patch statistics, its complexity
and its inference time per image at 320 x 320 and 1024 x 1024 (an NVIDIA RTX A5000,
Section 3.4). This module measures the same quantities on whatever device is at hand,
keeping the two stages of Eq. (1) apart:

- the feature extraction ``F(I)`` (the backbone), and
- the statistic ``S`` with its reference ``R`` (:func:`fca_utils.core.methods.preset_map`).

The rows of Table 5 and what is timed for them (:func:`table5_preset`):

==============  ===================  =====================================================
row             complexity (Table 5) configuration (:mod:`fca_utils.pipeline` presets)
==============  ===================  =====================================================
Moments         O(NTD)               Eq. (2), powers 1-4, Gaussian window (sigma_p)
Histogram       O(NTBD)              Eq. (3), B = 10 bins, Gaussian window (sigma_p)
Aota et al.     O(NTD + N^2 D)       preset ``aota``: local mean, k = 400 nearest in the image
Ours            O(N T^2 log(T) D)    FCA, Eq. (5), median reference Eq. (7)
Ours + k-NN     O(N^2 T^2 log(T) D)  preset ``paper320_knn`` with the exact k = 10 nearest windows
==============  ===================  =====================================================

Moments, Histogram and Ours use the paper's FCA settings: T = 3 at 320 x 320 (preset
``paper320``) and T = 9 above (preset ``paper``, full resolution); the time-vs-resolution
sweep keeps one T per method (:func:`sweep_presets`) so that a power law can be fitted
(:func:`fit_power_law`). Aota et al. and Ours + k-NN keep T = 3 at every size, as their
presets do. Timings never depend on the network's weights, so WideResNet-50-2 with random
weights (``random_wrn50``) stands in for the paper's ImageNet one when timing features.

>>> from fca_utils.paper import timing
>>> timing.table5_preset("Ours", 320).patch_size, timing.table5_preset("Ours", 1024).patch_size
(3, 9)
>>> fit = timing.fit_power_law([100, 400], [1.0, 4.0])
>>> round(fit.slope, 6), round(fit.predict(1600), 6)
(1.0, 16.0)
"""
from __future__ import annotations

import math
import os
import platform
import statistics as _stats
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import torch

from ..core.images import resize_image
from ..core.io import progress_bar
from ..core.methods import PRESETS, Preset, preset_map
from ..core.ops import clock
from . import numbers as pn
from .prose import count, num

__all__ = [
    "TABLE5_METHODS",
    "N_EXPONENT",
    "Timing",
    "PowerLaw",
    "TimingResults",
    "time_call",
    "table5_preset",
    "sweep_presets",
    "table5_label",
    "table5_plan",
    "measure",
    "fit_power_law",
    "describe_device",
    "timing_takeaway",
]

#: Rows of Table 5, in the paper's order.
TABLE5_METHODS = tuple(pn.TABLE5)

#: Exponent of the pixel count N in each row's complexity (Table 5): 1 for methods linear
#: in the image area, 2 for those comparing every pixel with every other.
N_EXPONENT = {"Moments": 1, "Histogram": 1, "Aota et al.": 2, "Ours": 1, "Ours + k-NN": 2}

_LOW_RES = pn.HYPERPARAMETERS["final"]["low_resolution"]  # 320: T = 3 at or below, T = 9 above


# --------------------------------------------------------------------------- configurations


def table5_preset(method: str, size: int) -> Preset:
    """The configuration timed for a row of Table 5 at an image side of ``size`` pixels.

    Parameters
    ----------
    method : one of :data:`TABLE5_METHODS`
    size : image side in pixels (the image is ``size x size``)

    Returns
    -------
    Preset
        ``image_size`` is ``size``. Moments, Histogram and Ours use the paper's FCA settings
        (sigma_p = 3; T = 3 at ``size <= 320``, preset ``paper320``; T = 9 above, preset
        ``paper``), with the statistic replaced for Moments and Histogram. Aota et al. and
        Ours + k-NN use presets ``aota`` and ``paper320_knn`` (T = 3); the k-NN search is
        always the exact one (``knn_method="exact"``), whose cost Table 5 states, never the
        approximate search that ``"auto"`` switches to on large maps.

    Examples
    --------
    >>> p = table5_preset("Histogram", 1024)
    >>> p.statistic, p.patch_size, p.image_size
    ('histogram', 9, 1024)
    """
    if method not in N_EXPONENT:
        raise ValueError(f"unknown Table 5 method {method!r}; expected one of {list(TABLE5_METHODS)}")
    if int(size) != size or size < 1:
        raise ValueError(f"size must be a positive integer number of pixels, got {size!r}")
    size = int(size)
    if method == "Aota et al.":
        return replace(PRESETS["aota"], image_size=size)
    if method == "Ours + k-NN":  # the paper's exact search, also where "auto" would approximate
        return replace(PRESETS["paper320_knn"], image_size=size, knn_method="exact")
    base = PRESETS["paper320"] if size <= _LOW_RES else PRESETS["paper"]
    stat = {"Moments": "moments", "Histogram": "histogram", "Ours": "fca"}[method]
    return replace(base, name=f"{base.name}:{stat}", statistic=stat, image_size=size)


def sweep_presets() -> dict[str, Preset]:
    """One fixed configuration per Table 5 row for the time-vs-resolution sweep.

    The T of the paper's full-resolution setting (T = 9, :func:`table5_preset` above 320
    pixels) for Moments, Histogram and Ours; T = 3 for Aota et al. and Ours + k-NN. Keeping
    T fixed makes the fitted slope a function of the pixel count N alone. ``image_size``
    is ``None``: the caller resizes.
    """
    out = {}
    for m in TABLE5_METHODS:
        p = table5_preset(m, 10 * _LOW_RES)  # the setting "above 320"
        out[m] = replace(p, image_size=None)
    return out


def table5_label(method: str, size: int) -> str:
    """Name under which :func:`table5_plan` times ``method``'s Table 5 cell at ``size``.

    ``method`` itself when the cell uses the sweep's configuration (:func:`sweep_presets`),
    else ``"<method> (T=<T>)"`` (Moments, Histogram and Ours at 320 x 320 use T = 3).

    >>> table5_label("Ours", 320), table5_label("Ours", 1024), table5_label("Aota et al.", 320)
    ('Ours (T=3)', 'Ours', 'Aota et al.')
    """
    cell, sweep = table5_preset(method, size), sweep_presets()[method]
    if replace(cell, image_size=None, name=sweep.name) == sweep:
        return method
    return f"{method} (T={cell.patch_size})"


def table5_plan(sizes: Iterable[int], max_size: Mapping[str, int] | None = None,
                table_sizes: Iterable[int] = (320, 1024)) -> dict[str, tuple[Preset, list[int]]]:
    """The :func:`measure` plan for Table 5 and the time-vs-resolution sweep.

    Parameters
    ----------
    sizes : image sides of the sweep (each method with its :func:`sweep_presets` configuration)
    max_size : method -> largest side at which it is run (the quadratic methods become
        infeasible at large sizes); methods not named run at every size
    table_sizes : the sides of Table 5's columns; where a cell's configuration differs from
        the sweep's (:func:`table5_label`), it is added as its own entry

    Returns
    -------
    dict
        label -> (Preset, sides), ready for :func:`measure`.

    Examples
    --------
    >>> plan = table5_plan([320, 1024], max_size={"Ours + k-NN": 320})
    >>> plan["Ours + k-NN"][1], plan["Ours (T=3)"][1], plan["Ours"][1]
    ([320], [320], [320, 1024])
    """
    max_size = dict(max_size or {})
    unknown = set(max_size) - set(TABLE5_METHODS)
    if unknown:
        raise ValueError(f"max_size names unknown methods {sorted(unknown)}; expected {list(TABLE5_METHODS)}")
    sizes = sorted({int(s) for s in sizes})
    plan: dict[str, tuple[Preset, list[int]]] = {}
    for method, preset in sweep_presets().items():
        limit = max_size.get(method, math.inf)
        plan[method] = (preset, [s for s in sizes if s <= limit])
        for size in sorted({int(s) for s in table_sizes}):
            label = table5_label(method, size)
            if label == method or size > limit:
                continue
            cell = replace(table5_preset(method, size), image_size=None)
            plan[label] = (cell, sorted(set(plan.get(label, (cell, []))[1]) | {size}))
    return plan


# --------------------------------------------------------------------------- timing


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of repeated runs of one call (warm-up runs excluded)."""

    seconds: tuple[float, ...]

    @property
    def best(self) -> float:
        """Fastest run: the least disturbed by other processes on a shared machine."""
        return min(self.seconds)

    @property
    def median(self) -> float:
        return float(_stats.median(self.seconds))

    @property
    def runs(self) -> int:
        return len(self.seconds)


def time_call(fn: Callable[[], object], *, repeats: int = 3, warmup: int = 1,
              max_seconds: float | None = None, device=None) -> Timing:
    """Time ``fn()``: ``warmup`` untimed calls, then up to ``repeats`` timed ones.

    Parameters
    ----------
    fn : callable without arguments
    repeats : maximum number of timed runs (at least 1)
    warmup : untimed calls first (numba compilation, allocator, cuDNN algorithm choice)
    max_seconds : stop repeating once the timed runs add up to this many seconds
        (at least one run is always timed); ``None``: always ``repeats`` runs
    device : CUDA devices are synchronized before and after each run, so that the
        time covers the kernels and not only their launch

    Returns
    -------
    Timing
    """
    if int(repeats) != repeats or repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    if int(warmup) != warmup or warmup < 0:
        raise ValueError(f"warmup must be a non-negative integer, got {warmup!r}")
    tick = clock(device)
    for _ in range(int(warmup)):
        fn()
    seconds: list[float] = []
    for _ in range(int(repeats)):
        t0 = tick()
        fn()
        seconds.append(tick() - t0)
        if max_seconds is not None and sum(seconds) >= max_seconds:
            break
    return Timing(tuple(seconds))


# --------------------------------------------------------------------------- measurement


@dataclass
class TimingResults:
    """Feature-extraction and statistic timings of one :func:`measure` call.

    Attributes
    ----------
    backbone : name of the extractor whose features were timed and fed to the statistics
    features : image side -> Timing of the feature extraction
    statistics : (method, image side) -> Timing of the statistic and its reference
    feature_shapes : image side -> (C, h, w) of the features
    device : the device description (:func:`describe_device`)
    load : 1-minute load average of the machine before and after the measurement
        (``os.getloadavg``; ``None`` where unavailable): other processes competing for
        the cores slow every timing down
    """

    backbone: str
    features: dict[int, Timing] = field(default_factory=dict)
    statistics: dict[tuple[str, int], Timing] = field(default_factory=dict)
    feature_shapes: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    device: str = ""
    load: tuple[float, float] | None = None

    def feature_seconds(self, size: int) -> float | None:
        """Best time of the feature extraction at ``size``, ``None`` if not measured."""
        t = self.features.get(size)
        return None if t is None else t.best

    def statistic_seconds(self, method: str, size: int) -> float | None:
        """Best time of ``method``'s statistic at ``size``, ``None`` if not run."""
        t = self.statistics.get((method, size))
        return None if t is None else t.best

    def total_seconds(self, method: str, size: int) -> float | None:
        """Features + statistic at ``size`` (best of each), ``None`` if either was not run."""
        f, s = self.feature_seconds(size), self.statistic_seconds(method, size)
        return None if f is None or s is None else f + s

    def sizes(self, method: str | None = None) -> list[int]:
        """Image sides measured for ``method`` (``None``: for the feature extraction)."""
        if method is None:
            return sorted(self.features)
        return sorted(s for m, s in self.statistics if m == method)

    def methods(self) -> list[str]:
        return list(dict.fromkeys(m for m, _ in self.statistics))

    def fit(self, method: str | None = None, *, min_size: int | None = None, min_points: int = 2) -> PowerLaw:
        """Power law ``seconds = a * N^slope`` fitted to ``method``'s measured times
        (``None``: the feature extraction) over the pixel count ``N = size^2``.

        Only sides ``>= min_size`` are used (at small sizes fixed overheads hide the
        asymptotic growth); when fewer than ``min_points`` remain, the ``min_points``
        largest measured sides are used instead.
        """
        measured = self.sizes(method)
        sizes = [s for s in measured if min_size is None or s >= min_size]
        if len(sizes) < min_points:
            sizes = measured[-min_points:]
        secs = [self.feature_seconds(s) if method is None else self.statistic_seconds(method, s)
                for s in sizes]
        return fit_power_law([s * s for s in sizes], secs)


def measure(image, extractor, plan: Mapping[str, tuple[Preset, Iterable[int]]], *,
            feature_sizes: Iterable[int] = (), repeats: int = 3, max_seconds: float | None = 2.0,
            warmup_size: int = 128, device=None, progress: bool = True) -> TimingResults:
    """Time the feature extraction and each planned statistic at each planned image size.

    For every size, the image is resized (:func:`fca_utils.core.images.resize_image`), its feature extraction is
    timed (:func:`time_call`), and every method planned at that size runs
    :func:`fca_utils.core.methods.preset_map` on those features, timed the same way. Before
    any timing, the extractor and every method run once on a ``warmup_size`` image, so that
    numba's compilation (or loading from its cache) and first-call costs are not timed; no
    further untimed call is made at each size (the large sizes would cost too much), so a
    single timed run (``max_seconds`` reached) may include first-touch memory costs.

    Parameters
    ----------
    image : anything :func:`fca_utils.core.images.to_image_tensor` accepts
    extractor : :class:`fca_utils.features.Extractor`
    plan : method name -> (Preset, image sides); the preset's ``image_size`` is ignored
    feature_sizes : further sides at which only the feature extraction is timed
    repeats, max_seconds : see :func:`time_call` (best of up to ``repeats`` runs)
    warmup_size : side of the warm-up image (its features must hold a T x T window)
    device : where the image, features and statistics live (``None``: CPU)
    progress : show a progress bar (:func:`fca_utils.core.io.progress_bar`)

    Returns
    -------
    TimingResults
    """
    device = torch.device(device) if device is not None else torch.device("cpu")
    plan = {m: (p, sorted({int(s) for s in sizes})) for m, (p, sizes) in plan.items()}
    all_sizes = sorted({s for _, sizes in plan.values() for s in sizes} | {int(s) for s in feature_sizes})
    results = TimingResults(getattr(extractor, "name", str(extractor)), device=describe_device(device))
    load_before = _load_average()

    small = resize_image(image, warmup_size, device)
    feats = extractor(small)[0]
    for preset, _ in plan.values():
        preset_map(feats, preset)

    jobs = sum(1 + sum(s in sizes for _, sizes in plan.values()) for s in all_sizes)
    bar = progress_bar(total=jobs, desc=f"timing ({results.backbone})", enabled=progress)
    for size in all_sizes:
        img = resize_image(image, size, device)
        bar.set_postfix_str(f"{size}px features")
        out = {}

        def extract():
            out["feats"] = extractor(img)[0]

        results.features[size] = time_call(extract, repeats=repeats, warmup=0,
                                           max_seconds=max_seconds, device=device)
        feats = out["feats"]
        results.feature_shapes[size] = tuple(feats.shape)
        bar.update()
        for method, (preset, sizes) in plan.items():
            if size not in sizes:
                continue
            bar.set_postfix_str(f"{size}px {method}")
            results.statistics[(method, size)] = time_call(
                lambda: preset_map(feats, preset), repeats=repeats, warmup=0,
                max_seconds=max_seconds, device=device)
            bar.update()
    bar.close()
    load_after = _load_average()
    if load_before is not None and load_after is not None:
        results.load = (load_before, load_after)
    return results


def _load_average() -> float | None:
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):  # not available on Windows
        return None


# --------------------------------------------------------------------------- scaling fit


@dataclass(frozen=True)
class PowerLaw:
    """``seconds = exp(log_a) * N ** slope``, fitted by least squares in log-log space.

    Attributes
    ----------
    slope : exponent of the pixel count N (compare :data:`N_EXPONENT`)
    log_a : natural log of the prefactor
    n_min, n_max : range of pixel counts the fit saw (predictions outside it extrapolate)
    points : number of measurements fitted
    """

    slope: float
    log_a: float
    n_min: int
    n_max: int
    points: int

    def predict(self, n_pixels) -> float:
        """Predicted seconds at ``n_pixels`` pixels."""
        return float(math.exp(self.log_a + self.slope * math.log(n_pixels)))

    def extrapolates(self, n_pixels) -> bool:
        """True when ``n_pixels`` lies outside the fitted range."""
        return not self.n_min <= n_pixels <= self.n_max


def fit_power_law(n_pixels: Sequence[float], seconds: Sequence[float]) -> PowerLaw:
    """Least-squares line through ``(log N, log seconds)``.

    Parameters
    ----------
    n_pixels : pixel counts N (e.g. ``size**2``), at least two distinct values
    seconds : measured times, positive, one per N

    Returns
    -------
    PowerLaw

    Examples
    --------
    >>> fit = fit_power_law([1e4, 4e4, 16e4], [0.5, 2.0, 8.0])
    >>> round(fit.slope, 6)
    1.0
    """
    n = np.asarray(list(n_pixels), dtype=float)
    t = np.asarray(list(seconds), dtype=float)
    if n.shape != t.shape or n.ndim != 1:
        raise ValueError(f"need one time per pixel count, got {n.size} counts and {t.size} times")
    if len(np.unique(n)) < 2:
        raise ValueError(f"a power-law fit needs at least two different pixel counts, got {n.tolist()}")
    if not (np.all(n > 0) and np.all(t > 0) and np.all(np.isfinite(t))):
        raise ValueError("pixel counts and times must be positive and finite")
    slope, log_a = np.polyfit(np.log(n), np.log(t), 1)
    return PowerLaw(float(slope), float(log_a), int(n.min()), int(n.max()), int(n.size))


# --------------------------------------------------------------------------- device


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def describe_device(device=None) -> str:
    """One line naming the hardware timings ran on (GPU name, or CPU model and threads).

    >>> describe_device("cpu").startswith("cpu: ")
    True
    """
    device = torch.device(device) if device is not None else torch.device("cpu")
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    try:
        import numba

        nthreads = f", numba threads {numba.get_num_threads()}"
    except ImportError:  # pragma: no cover - numba is a dependency
        nthreads = ""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"cpu: {_cpu_name()}, {cores} cores available, torch threads {torch.get_num_threads()}{nthreads}"


# --------------------------------------------------------------------------- takeaway


def timing_takeaway(slopes: Mapping[str, float], cells: Mapping[tuple[str, int], tuple], *,
                    feature_seconds: Mapping[str, Mapping[int, float]] | None = None,
                    sizes: Sequence[int] = (320, 1024), tolerance: float = 0.3) -> str:
    """Markdown bullets on the Table 5 measurements, every number taken from them and from Table 5.

    ``slopes``: method -> fitted exponent b of ``t ∝ N^b`` (statistic only, :meth:`TimingResults.fit`).
    ``cells``: ``(method, side)`` -> ``(total, features, statistic, how)`` in seconds, ``how``
    "measured" or a note starting "not run" for an extrapolated cell (notebook 07's
    ``table5_cell``). ``feature_seconds``: backbone -> {side: seconds} of the feature
    extraction, to compare the paper's network with the notebook's; the first is the
    notebook's backbone. Says whether every quadratic method's fitted exponent is above every
    linear one's (the paper's point on scaling) and which exponents lie within ``tolerance``
    of their complexity's (:data:`N_EXPONENT`), what the quadratic methods cost at the
    largest side next to the paper's GPU times, how FCA compares with the separable
    statistics, and which share of the total the feature extraction takes.

    >>> slopes = {"Moments": 1.0, "Ours": 1.1, "Ours + k-NN": 1.9}
    >>> cells = {(m, s): (2.0, 1.0, 1.0, "measured") for m in slopes for s in (320, 1024)}
    >>> print(timing_takeaway(slopes, cells).splitlines()[0])
    * **Scaling.** Fitted exponents b of the statistic: Moments 1.00, Ours 1.10 (complexity N¹); Ours + k-NN 1.90 (complexity N²). Every quadratic method grows faster than every linear one: the paper's point holds here. Within 0.3 of the complexity's exponent: 3 of 3 methods.
    """
    methods = [m for m in TABLE5_METHODS if m in slopes]
    linear = [m for m in methods if N_EXPONENT[m] == 1]
    quadratic = [m for m in methods if N_EXPONENT[m] == 2]
    close = [m for m in methods if abs(slopes[m] - N_EXPONENT[m]) <= tolerance]

    def listing(ms):
        return ", ".join(f"{m} {num(slopes[m])}" for m in ms)

    groups = "; ".join(f"{listing(ms)} (complexity N{sup})" for ms, sup in ((linear, "¹"), (quadratic, "²")) if ms)
    text = f"* **Scaling.** Fitted exponents b of the statistic: {groups}."
    if linear and quadratic:
        apart = min(slopes[m] for m in quadratic) > max(slopes[m] for m in linear)
        text += (" Every quadratic method grows faster than every linear one: the paper's point holds here." if apart
                 else " Not every quadratic method grows faster than every linear one: the paper's point does not "
                      "show clearly here.")
    text += f" Within {tolerance:g} of the complexity's exponent: {count(close, len(methods), 'methods')}."
    if len(close) < len(methods):
        text += (" Exponents further off point to fixed overheads at the smaller sizes or to a loaded machine "
                 "(the load average is printed with the measurement).")
    lines = [text]
    big = max(sizes)
    key = f"seconds_{big}"
    quad = [m for m in quadratic if (m, big) in cells and key in pn.TABLE5[m]]
    if quad:
        parts = []
        for m in quad:
            total, _, _, how = cells[m, big]
            parts.append(f"{m} {num(total)} s ({'measured' if how == 'measured' else 'extrapolated, not run'}; "
                         f"paper {pn.TABLE5[m][key]:g} s)")
        lines.append(f"* **The quadratic methods at {big}²**, total per image: {'; '.join(parts)}.")
    if "Ours" in methods and (("Ours", big) in cells):
        sep = [m for m in ("Moments", "Histogram") if (m, big) in cells]
        if sep:
            ours_total = cells["Ours", big][0]
            ours_ratio = ", ".join(f"{ours_total / cells[m, big][0]:.1f}× {m}" for m in sep)
            stat_ratio = ", ".join(f"{cells['Ours', big][2] / cells[m, big][2]:.1f}× {m}" for m in sep)
            paper_ratio = ", ".join(f"{pn.TABLE5['Ours'][key] / pn.TABLE5[m][key]:.1f}× {m}" for m in sep)
            lines.append(f"* **FCA vs. the separable statistics at {big}²:** Ours costs {ours_ratio} in total and "
                         f"{stat_ratio} in its statistic alone; the paper (totals): {paper_ratio}.")
    shares = []
    for size in sizes:
        per = {}
        for group, ms in (("linear", linear), ("quadratic", quadratic)):
            vals = [100 * cells[m, size][1] / cells[m, size][0] for m in ms if (m, size) in cells]
            if vals:
                per[group] = f"{min(vals):.0f}–{max(vals):.0f} %" if len(vals) > 1 else f"{vals[0]:.0f} %"
        if per:
            shares.append(f"at {size}², " + " and ".join(
                f"{v} for the {g} methods ({', '.join(linear if g == 'linear' else quadratic)})" for g, v in per.items()))
    if shares:
        lines.append(f"* **Feature extraction's share of the total:** {'; '.join(shares)}.")
    if feature_seconds and len(feature_seconds) > 1:
        names = list(feature_seconds)
        base = feature_seconds[names[0]]
        for other in names[1:]:
            common = sorted(set(base) & set(feature_seconds[other]))
            if common:
                ratios = ", ".join(f"{feature_seconds[other][s] / base[s]:.1f}× at {s}²" for s in common)
                lines.append(f"* **`{other}` features** cost {ratios} the `{names[0]}` features on this device.")
    return "\n".join(lines)
