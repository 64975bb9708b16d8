"""Experiment loops of the paper's design-space study (section 3, Tables 1 and 2).

Section 3 of the paper fixes two of the three parts of Eq. (1),
``A(x, y; F, S, R) = sum_{F_r in R(F(I))} S(x, y, F(I), F_r)``, and varies the third:

- Table 1 (sections 3.1, 3.2): feature extractors ``F`` x patch statistics ``S``
  (moments Eq. (2), histogram Eq. (3), SWW Eq. (4), FCA Eq. (5)), global reference;
- Table 2 (section 3.3): references ``R`` (random(k), all patches, the global
  median of Eq. (7)) x statistics, with VGG features, PRO and seconds per image.

Both use the *preliminary protocol* (section 3.1, Appendix E,
``paper_numbers.HYPERPARAMETERS["preliminary"]``): images scaled to 256 x 256, feature
maps at the same resolution, patch size T = 25, a Gaussian of sigma = 6 for every
statistic, FCA with sigma_p = 6 and sigma_s = 3. :class:`Setting` holds it, and
:meth:`Setting.scaled` shrinks it consistently for a smaller image.

Where the paper is silent, the loops do what the authors' public code does for this
experiment (``main.py ... image_size=[256,256] tile_size=[25,25]`` in their README):

- images are resized with plain bilinear interpolation, no antialiasing (``op_utils.py``,
  ``load_image_tensor``); ``Setting(antialias=True)`` is the option that low-pass
  filters them first;
- every map is scored at its mask's full resolution, with the dataset protocol's border
  cropped there (section 4.1: "we compute the metrics at full resolution ... cropping to
  the center"; ``evaluation/evaluate_experiment.py`` resizes each prediction to the
  ground truth's size and crops ``padding`` pixels, ``conf/dataset/mvtec.yaml``:
  ``paddings: [100]``), as :func:`fca_utils.evaluation.runs.run_method` does for the
  other tables.

>>> from fca_utils.paper import experiments; from fca_utils import features                           # doctest: +SKIP
>>> setting = experiments.Setting.preliminary().scaled(64)                 # doctest: +SKIP
>>> grid = experiments.evaluate_grid(dataset, {"TEM": features.get_extractor("tem")},
...                                  ["sww", "fca"], ["global"], setting)  # doctest: +SKIP
>>> grid.mean("TEM", "fca", "global", "au_pro"), grid.seconds_per_image("TEM", "fca", "global")  # doctest: +SKIP

Each image's features are computed once per extractor and shared by every
(statistic, reference) pair, and each reference is built once per image and shared
by the statistics; the seconds reported for a combination are nevertheless the sum of
*its own* stages (image resizing + features, reference, statistic), i.e. what running
that combination alone would cost.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from itertools import pairwise

import numpy as np
import pandas as pd
import torch

from .. import features as features_mod
from ..core import methods, ops
from ..core import reference as reference_mod
from ..core.images import resize_image
from ..core.io import progress_bar
from ..core.ops import resize
from ..evaluation import metrics
from ..evaluation.tables import table
from .numbers import HYPERPARAMETERS, TABLE1, TABLE2
from .prose import count, num, ordering, points, signed, verdict

__all__ = [
    "TABLE_STATISTICS",
    "Setting",
    "GridResult",
    "parse_reference",
    "reference_label",
    "features_on_grid",
    "build_reference",
    "anomaly_map",
    "select_samples",
    "evaluate_grid",
    "neural_extractor",
    "table1",
    "table2",
    "table1_takeaway",
    "table2_takeaway",
]

#: The statistics of Tables 1 and 2 (Eqs. (2)-(5)), names of :data:`fca_utils.core.methods.STATISTICS`.
TABLE_STATISTICS = ("moments", "histogram", "sww", "fca")
_TABLE2_COLUMNS = {"histogram": "Hist", "sww": "SWW", "fca": "FCA"}


def _odd(x: float) -> int:
    """Nearest odd integer to ``x``, at least 3."""
    return max(3, 2 * int(round((x - 1) / 2)) + 1)


@dataclass(frozen=True)
class Setting:
    """Image size, patch size and smoothing of one run of the design-space study.

    Attributes
    ----------
    image_size : int
        Side the images are resized to (square, as in the paper's 256 x 256).
    patch_size : int
        Odd window side T of every statistic (25 in the paper).
    sigma : float
        Gaussian spatial weights of moments, histogram and SWW (6 in the paper).
    sigma_p, sigma_s : float
        FCA's window weights and per-window smoothing (6 and 3 in the paper).
    bins : int
        Histogram bins (10, Appendix E, the authors' ``conf/sc/hist.yaml``).
    antialias : bool
        Low-pass filter the images when shrinking them to ``image_size``. False: plain
        bilinear interpolation, as the authors' ``op_utils.py`` (``load_image_tensor``)
        resizes.

    Maps are always scored at each mask's full resolution (:func:`evaluate_grid`).
    """

    image_size: int = 256
    patch_size: int = 25
    sigma: float = 6.0
    sigma_p: float = 6.0
    sigma_s: float = 3.0
    bins: int = 10
    antialias: bool = False

    def __post_init__(self):
        if int(self.image_size) != self.image_size or self.image_size < 3:
            raise ValueError(f"image_size must be an integer >= 3, got {self.image_size!r}")
        if int(self.patch_size) != self.patch_size or self.patch_size < 3 or self.patch_size % 2 == 0:
            raise ValueError(f"patch_size must be an odd integer >= 3, got {self.patch_size!r}")
        if self.patch_size > self.image_size:
            raise ValueError(f"patch_size {self.patch_size} is larger than image_size {self.image_size}")
        for name in ("sigma", "sigma_p", "sigma_s"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")

    @classmethod
    def preliminary(cls) -> "Setting":
        """The paper's preliminary protocol (section 3.1, Appendix E): 256 px, T=25, sigma=6, FCA 6/3."""
        hp = HYPERPARAMETERS["preliminary"]
        return cls(image_size=hp["image_size"], patch_size=hp["T"], sigma=hp["sigma"],
                   sigma_p=hp["fca_sigma_p"], sigma_s=hp["fca_sigma_s"], bins=HYPERPARAMETERS["histogram"]["bins"])

    def scaled(self, image_size: int) -> "Setting":
        """The same protocol for ``image_size`` px images: T and every sigma scaled by ``image_size / self.image_size``.

        T is rounded to the nearest odd integer (at least 3); the sigmas are scaled
        exactly, so windows and weights cover the same fraction of the image.

        >>> s = Setting.preliminary().scaled(128)
        >>> s.patch_size, s.sigma, s.sigma_p, s.sigma_s
        (13, 3.0, 3.0, 1.5)
        """
        f = image_size / self.image_size
        return replace(self, image_size=int(image_size), patch_size=_odd(self.patch_size * f),
                       sigma=self.sigma * f, sigma_p=self.sigma_p * f, sigma_s=self.sigma_s * f)

    def describe(self) -> str:
        """One line for the notebooks' settings printout."""
        return (f"{self.image_size}x{self.image_size} px ({'antialiased' if self.antialias else 'bilinear'} resize), "
                f"T={self.patch_size}, sigma={self.sigma:g} (moments/histogram/SWW), FCA sigma_p={self.sigma_p:g} "
                f"sigma_s={self.sigma_s:g}, {self.bins} bins, scored at mask resolution")


# ---------------------------------------------------------------------------------- references
_RANDOM = re.compile(r"^random\((\d+)\)$")


def parse_reference(spec: str) -> tuple[str, int | None]:
    """``"global"`` | ``"all"`` | ``"random(k)"`` -> ``(kind, k)``.

    >>> parse_reference("random(10)"), parse_reference("global")
    (('random', 10), ('global', None))
    """
    if spec in ("global", "all"):
        return spec, None
    m = _RANDOM.match(str(spec))
    if m and int(m.group(1)) >= 1:
        return "random", int(m.group(1))
    raise ValueError(f"unknown reference {spec!r}; expected 'global', 'all' or 'random(k)' with k >= 1")


def reference_label(spec: str) -> str:
    """Row label of Table 2: ``"random(3)"`` -> ``"Random (3)"``, ``"all"`` -> ``"All"``, ``"global"`` -> ``"Global"``."""
    kind, k = parse_reference(spec)
    return f"Random ({k})" if kind == "random" else kind.capitalize()


def build_reference(spec: str, feats: torch.Tensor, patch_size: int, *, seed: int = 0,
                    max_patches: int = reference_mod.DEFAULT_MAX_PATCHES):
    """The reference set ``R`` of Eq. (1) for a feature map (section 3.3, Table 2).

    Parameters
    ----------
    spec : "global", "all" or "random(k)"
        ``"global"`` returns ``None``: each statistic then uses its own global reference
        (the Eq. (7) median for SWW/FCA, the global histogram / average moments for the
        others). ``"random(k)"``: :func:`fca_utils.core.reference.random` with ``seed``.
        ``"all"``: :func:`fca_utils.core.reference.all_patches`, which raises ``ValueError``
        for maps with more than ``max_patches`` windows.
    """
    kind, k = parse_reference(spec)
    if kind == "global":
        return None
    if kind == "random":
        return reference_mod.random(feats, patch_size, k=k, seed=seed)
    return reference_mod.all_patches(feats, patch_size, max_patches=max_patches)


# ---------------------------------------------------------------------------------- one image
def features_on_grid(extractor, image, size: int, device=None, *, antialias: bool = False) -> torch.Tensor:
    """``F(I)`` on a ``size x size`` grid: ``(C, size, size)``.

    In the preliminary experiment "the images are scaled to 256 x 256, and the feature
    maps have the same resolution" (section 3.1). Stride-1 extractors (colors, random
    projections, steerable filters, TEM, VGG19's first convolutions) get the image resized
    to ``size x size``. An extractor with ``stride > 1`` (the offline ImageNet backbone,
    WideResNet-50-2) gets it resized to ``(size * stride)``, so its feature map has the same
    ``size x size`` grid and each feature pixel covers one pixel of the working image;
    every extractor is then compared with the same T and sigmas.

    Parameters
    ----------
    extractor : Extractor
    image : anything :func:`fca_utils.core.images.to_image_tensor` accepts
    size : int
    device : None, str or torch.device
        Where the image is resized and the features are returned (``None``: CPU).
    antialias : bool
        Low-pass filter the image when shrinking it (False: plain bilinear, as the
        authors' ``op_utils.py`` resizes; :attr:`Setting.antialias`).
    """
    img = resize_image(image, size * extractor.stride, device=device, antialias=antialias)
    feats = extractor(img)[0]
    return resize(feats, size)  # extractors whose grid is not exactly size / stride


def anomaly_map(feats: torch.Tensor, statistic: str, setting: Setting, reference=None) -> torch.Tensor:
    """``sum_{F_r in R} S(x, y, F, F_r)`` for one statistic ``S`` (Eqs. (2)-(5)) with the setting's parameters.

    :func:`fca_utils.core.methods.anomaly_map` with ``setting.sigma`` for moments,
    histogram and SWW, ``sigma_p`` and ``sigma_s`` for FCA, and ``setting.bins``.
    ``reference`` is what :func:`build_reference` returns. Returns an ``(H, W)`` tensor.
    """
    if statistic not in TABLE_STATISTICS:
        raise ValueError(f"unknown statistic {statistic!r}; expected one of {list(TABLE_STATISTICS)}")
    return methods.anomaly_map(feats, statistic, setting.patch_size, reference, sigma=setting.sigma,
                               sigma_p=setting.sigma_p, sigma_s=setting.sigma_s, bins=setting.bins)


# ---------------------------------------------------------------------------------- dataset loop
def select_samples(dataset, cls: str, max_images: int | None = None, include_good: bool = True) -> list:
    """Entries of one class: :func:`fca_utils.evaluation.runs.select_entries`, optionally without good images.

    ``include_good=False`` keeps only defective images (then ``max_images`` counts
    defective images, picked by :func:`~fca_utils.evaluation.runs.select_entries`' rule).
    """
    from ..evaluation.runs import select_entries

    if include_good:
        return select_entries(dataset, cls, max_images)
    entries = [e for e in dataset.entries(cls) if e.defect_type != "good"]
    if max_images is None or max_images >= len(entries):
        return entries
    groups: dict[str, list] = {}
    for e in entries:
        groups.setdefault(e.defect_type, []).append(e)
    picked, depth = [], 0
    while len(picked) < max_images:
        for d in sorted(groups):
            if depth < len(groups[d]) and len(picked) < max_images:
                picked.append(groups[d][depth])
        depth += 1
    return sorted(picked, key=entries.index)


@dataclass
class GridResult:
    """Metrics and times of every (feature, statistic, reference) combination of :func:`evaluate_grid`.

    Attributes
    ----------
    setting : Setting
    extractors : dict
        Column name -> extractor name actually used.
    metrics : dict
        ``(feature, statistic, reference)`` -> ``{class: metrics.evaluate(...) result}``.
    seconds : dict
        ``(feature, statistic, reference)`` -> list of seconds per image (resize +
        features + reference + statistic).
    skipped : dict
        ``(feature, statistic, reference)`` -> why it was not computed (e.g. "all"
        beyond ``max_patches``); such combinations have no metrics and no times.
    images : dict
        class -> number of images evaluated.
    """

    setting: Setting
    extractors: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)
    images: dict = field(default_factory=dict)

    def mean(self, feature: str, statistic: str, reference: str, metric: str = "au_pro") -> float | None:
        """Mean of ``metric`` over the classes (the paper's dataset average), or None if skipped."""
        per_class = self.metrics.get((feature, statistic, reference))
        if not per_class:
            return None
        return float(np.mean([m[metric] for m in per_class.values()]))

    def seconds_per_image(self, feature: str, statistic: str, reference: str) -> float | None:
        """Mean seconds per image of one combination, or None if skipped."""
        values = self.seconds.get((feature, statistic, reference))
        return float(np.mean(values)) if values else None


def _warm_up(image, extractors: dict, statistics_: list[str], setting: Setting, device: torch.device) -> None:
    """Run every extractor and statistic once, untimed, so that no timed image pays for
    numba's JIT compilation (or loading its cache) or PyTorch's first-call set-up.

    The global and the one-window references cover both code paths of each statistic.
    """
    for extractor in extractors.values():
        feats = features_on_grid(extractor, image, setting.image_size, device=device, antialias=setting.antialias)
        for ref in (None, build_reference("random(1)", feats, setting.patch_size)):
            for stat in statistics_:
                anomaly_map(feats, stat, setting, ref)


def evaluate_grid(dataset, extractors: dict, statistics_: list[str], references: list[str], setting: Setting, *,
                  classes: list[str] | None = None, max_images: int | None = None, include_good: bool = True,
                  max_patches: int = reference_mod.DEFAULT_MAX_PATCHES, seed: int = 0,
                  device=None, progress: bool = True) -> GridResult:
    """Evaluate every (feature extractor, statistic, reference) combination on a dataset (Tables 1 and 2).

    After one untimed warm-up pass (:func:`_warm_up`), for each selected image: extract
    features once per extractor on a ``setting.image_size`` grid (:func:`features_on_grid`),
    build each reference once (:func:`build_reference`) and compute the anomaly map of
    every statistic (:func:`anomaly_map`). Per class, the maps of each combination are
    scored with :func:`fca_utils.evaluation.metrics.evaluate` (PRO(0.3), pixel AUROC,
    F1-max, image AUROC) against the masks at their full resolution: each map is
    upsampled to its mask's shape (:func:`fca_utils.evaluation.metrics.upsample_to`)
    and the dataset protocol's border (:meth:`fca_utils.datasets.catalog.Protocol.border_for`,
    in mask pixels) is cropped from both, as
    :func:`fca_utils.evaluation.runs.run_method` scores the other tables, following
    section 4.1 and the authors' ``evaluation/evaluate_experiment.py`` (prediction
    resized to the ground truth, then ``padding`` cropped). Maps are kept at the
    working size until ``evaluate`` upsamples them one at a time, so memory does not
    grow with the masks' resolution.

    Parameters
    ----------
    dataset : fca_utils.datasets.Dataset
    extractors : dict of str -> Extractor
        Column name (e.g. ``"VGG"``) -> feature extractor.
    statistics_ : list of str
        Names from :data:`TABLE_STATISTICS`.
    references : list of str
        ``"global"``, ``"all"``, ``"random(k)"`` (:func:`parse_reference`).
    setting : Setting
    classes : list of str, optional
        Default: all classes of the dataset.
    max_images, include_good : per class, see :func:`select_samples`.
    max_patches : int
        Limit of :func:`fca_utils.core.reference.all_patches`; an ``"all"`` reference on a
        larger map is recorded in ``skipped`` instead of being computed.
    seed : int
        Seed of the random references: image ``n`` (counting over all selected images
        in order) draws its windows with ``seed + n``; the statistics share them.
    device : None, str or torch.device
        Where features and statistics are computed (``None``: CPU, where SWW and FCA
        use the numba kernels; on CUDA the statistics run in PyTorch and the clock is
        read after ``torch.cuda.synchronize()``).
    progress : bool
        One progress bar over all images.

    Returns
    -------
    GridResult
    """
    for s in statistics_:
        if s not in TABLE_STATISTICS:
            raise ValueError(f"unknown statistic {s!r}; expected some of {list(TABLE_STATISTICS)}")
    for r in references:
        parse_reference(r)
    if not extractors:
        raise ValueError("extractors must name at least one feature extractor")
    classes = list(dataset.classes if classes is None else classes)
    selected = {cls: select_samples(dataset, cls, max_images, include_good) for cls in classes}
    for cls, entries in selected.items():
        if not entries:
            raise ValueError(f"no images selected for class {cls!r}")
    device = torch.device("cpu") if device is None else torch.device(device)
    clock = ops.clock(device)
    size = setting.image_size
    result = GridResult(setting, {name: ex.name for name, ex in extractors.items()})
    combos = [(f, s, r) for f in extractors for s in statistics_ for r in references]
    for combo in combos:
        result.seconds[combo] = []
    _warm_up(dataset.load(next(iter(selected.values()))[0]).image, extractors, statistics_, setting, device)
    bar = progress_bar(total=sum(len(v) for v in selected.values()), desc="images", unit="img", enabled=progress)
    n_image = 0
    for cls, entries in selected.items():
        maps = {combo: [] for combo in combos}
        masks = []
        for entry in entries:
            sample = dataset.load(entry)
            masks.append(sample.mask)
            for fname, extractor in extractors.items():
                t0 = clock()
                feats = features_on_grid(extractor, sample.image, size, device=device, antialias=setting.antialias)
                t_feat = clock() - t0
                for ref_spec in references:
                    t0 = clock()
                    try:
                        ref = build_reference(ref_spec, feats, setting.patch_size, seed=seed + n_image,
                                              max_patches=max_patches)
                    except ValueError as err:
                        for stat in statistics_:
                            result.skipped[(fname, stat, ref_spec)] = str(err)
                        continue
                    t_ref = clock() - t0
                    for stat in statistics_:
                        t0 = clock()
                        amap = anomaly_map(feats, stat, setting, ref)
                        t_stat = clock() - t0
                        result.seconds[(fname, stat, ref_spec)].append(t_feat + t_ref + t_stat)
                        maps[(fname, stat, ref_spec)].append(amap.float().cpu().numpy())
            bar.update(1)
            n_image += 1
        border = dataset.protocol.border_for(*masks[0].shape)
        result.images[cls] = len(entries)
        for combo in combos:
            if combo in result.skipped:
                continue
            result.metrics.setdefault(combo, {})[cls] = metrics.evaluate(maps[combo], masks, border=border)
    bar.close()
    for combo in result.skipped:
        result.seconds.pop(combo, None)
        result.metrics.pop(combo, None)
    return result


# ---------------------------------------------------------------------------------- extractors
def neural_extractor(fallback="efficientnet_lite0", device=None) -> tuple:
    """The "VGG" column's extractor: VGG19's first two convolutions, or ``fallback`` without its weights.

    Section 3.1 uses the concatenated conv1_1 and conv1_2 of an ImageNet VGG19. Its
    weights are tried at :func:`fca_utils.features.weights_path`, and downloaded
    there unless the session is offline (:func:`fca_utils.features.weights.try_download`).
    Without them the ``fallback`` extractor (a name or an Extractor, e.g. a notebook's
    resolved backbone) is used instead.

    Returns
    -------
    extractor : Extractor
    info : str
        Which one, and why.
    """
    if features_mod.weights.try_download("vgg19"):
        try:
            ex = features_mod.get_extractor("vgg19", device, download=False)
        except features_mod.MissingWeightsError:
            pass  # an unreadable file: use the fallback
        else:
            return ex, f"vgg19: the paper's extractor ({ex.description})"
    ex, _ = features_mod.resolve_backbone(fallback, device)
    return ex, (f"{ex.name} instead of vgg19 (its ImageNet weights are not at "
                f"{features_mod.weights_path('vgg19')}): {ex.description}; "
                f"run on the image enlarged {ex.stride}x so that its feature map has the working resolution")


# ---------------------------------------------------------------------------------- tables
def table1(grid: GridResult, reference: str = "global", metric: str | None = None, title: str = "Table 1 (ours)",
           notes: str = "") -> pd.DataFrame:
    """Table 1 layout: rows = statistics, columns ``"<feature> PRO"`` / ``"<feature> AUROC"`` in percent.

    Column names are the keys of the ``extractors`` dict given to :func:`evaluate_grid`
    (use the paper's: Colors, RandProj, Steerable, TEM, VGG, so that
    :func:`fca_utils.evaluation.tables.compare` lines them up with
    :func:`fca_utils.paper.tables.paper_table` ``(1)``).
    ``metric="PRO"`` or ``"AUROC"`` keeps one metric, with columns named by feature only,
    as ``paper_table(1, metric=...)`` does. PRO is PRO(0.3); AUROC is the pixel AUROC.
    """
    names = {"PRO": "au_pro", "AUROC": "pixel_auroc"}
    if metric not in (None, *names):
        raise ValueError(f"metric must be None, 'PRO' or 'AUROC', got {metric!r}")
    shown = [m for m in names if metric in (None, m)]
    feats = list(grid.extractors)
    stats = [s for s in TABLE_STATISTICS if any(k[1] == s and k[2] == reference for k in grid.metrics)]
    cols = [f if metric else f"{f} {m}" for f in feats for m in shown]
    rows = {}
    for s in stats:
        row = []
        for f in feats:
            for m in shown:
                v = grid.mean(f, s, reference, names[m])
                row.append(None if v is None else round(100 * v, 2))
        rows[methods.STATISTICS[s].label] = row
    return table(rows, cols, title=title, index_name="statistic", notes=notes)


def table2(grid: GridResult, feature: str, metric: str | None = None, title: str = "Table 2 (ours)",
           notes: str = "") -> pd.DataFrame:
    """Table 2 layout: rows = references, columns ``"<statistic> PRO"`` and ``"<statistic> time [s]"``.

    ``metric="PRO"`` or ``"time"`` keeps only those columns, named by statistic
    (Hist, SWW, FCA), as ``paper_table(2, metric=...)`` does. Skipped combinations
    (e.g. "all" beyond ``max_patches``) are ``None``. PRO in percent, time in seconds per image.
    """
    if metric not in (None, "PRO", "time"):
        raise ValueError(f"metric must be None, 'PRO' or 'time', got {metric!r}")
    refs = list(dict.fromkeys(r for (f, _, r) in grid.seconds if f == feature))
    refs += [r for (f, _, r) in grid.skipped if f == feature and r not in refs]
    order = {"random": 0, "all": 1, "global": 2}
    refs.sort(key=lambda r: (order[parse_reference(r)[0]], parse_reference(r)[1] or 0))
    stats = [s for s in _TABLE2_COLUMNS if any(k[0] == feature and k[1] == s for k in [*grid.seconds, *grid.skipped])]
    parts = [("PRO", "PRO"), ("time", "time [s]")]
    parts = [p for p in parts if metric in (None, p[0])]
    cols = [(_TABLE2_COLUMNS[s] if metric else f"{_TABLE2_COLUMNS[s]} {label}") for s in stats for _, label in parts]
    rows = {}
    for r in refs:
        row = []
        for s in stats:
            for kind, _ in parts:
                if kind == "PRO":
                    v = grid.mean(feature, s, r, "au_pro")
                    row.append(None if v is None else round(100 * v, 2))
                else:
                    v = grid.seconds_per_image(feature, s, r)
                    row.append(None if v is None else round(v, 3))
        rows[reference_label(r)] = row
    formats = {c: "{:.3f}" for c in cols if c.endswith("time [s]") or metric == "time"}
    return table(rows, cols, title=title, index_name="reference", notes=notes, formats=formats)


# ---------------------------------------------------------------------------------- takeaways
_HOLISTIC = ("Moments", "Histogram")
_CORRESPONDENCE = ("SWW", "FCA")


def _paper_table1(metric: int) -> pd.DataFrame:
    """The paper's Table 1, one metric (0: PRO, 1: AUROC), rows statistics, columns features."""
    return pd.DataFrame({s: {f: v[metric] for f, v in row.items()} for s, row in TABLE1.items()}).T


def _split(table: pd.DataFrame, a: tuple, b: tuple, feats, noise: float):
    """Features where the best of rows ``a`` is ahead of / within noise of / behind the best of rows ``b``."""
    out = ([], [], [])
    for f in feats:
        v = verdict(float(table.loc[list(a), f].max()), float(table.loc[list(b), f].max()), noise)
        out[{1: 0, 0: 1, -1: 2}[v]].append(f)
    return out


def _pair_sentence(title: str, claim: str, pro: pd.DataFrame, auroc, paper: pd.DataFrame, a, b, noise) -> str:
    feats = list(pro.columns)
    ahead, tie, behind = _split(pro, a, b, feats, noise)
    text = f"* **{title}:** {claim} in PRO for {count(ahead, len(feats), 'extractors')}"
    if tie:
        text += f", within noise for {', '.join(tie)}"
    if behind:
        text += f", behind for {', '.join(behind)}"
    if auroc is not None:
        text += f"; in pixel AUROC for {count(_split(auroc, a, b, feats, noise)[0], len(feats))}"
    paper_ahead = _split(paper, a, b, [f for f in feats if f in paper.columns], 0.0)[0]
    return text + f". The paper: {count(paper_ahead, len(feats))} in PRO."


def table1_takeaway(pro: pd.DataFrame, auroc: pd.DataFrame | None = None, *, neural: str = "VGG",
                    extractor: str | None = None, noise: float = 1.0) -> str:
    """Markdown bullets on our Table 1, every number taken from it and from the paper's Table 1.

    ``pro`` / ``auroc``: :func:`table1` with ``metric="PRO"`` / ``"AUROC"`` (rows Moments,
    Histogram, SWW, FCA; columns the extractors, in percent). ``neural`` is the column of the
    neural extractor and ``extractor`` the network that really produced it
    (``grid.extractors[neural]``). Says which extractor is best on average and for how many
    statistics, then how often the correspondence-based statistics (SWW, FCA) beat the
    holistic ones (moments, histogram), FCA beats SWW and the histogram beats moments, and
    the best statistic per extractor, each next to the paper's count. Differences below
    ``noise`` PRO points are called within noise and not counted.

    >>> cols = ["Colors", "VGG"]
    >>> pro = pd.DataFrame([[30, 60], [31, 62], [35, 70], [40, 75]], ["Moments", "Histogram", "SWW", "FCA"], cols)
    >>> print(table1_takeaway(pro, extractor="vgg19").splitlines()[0])  # doctest: +ELLIPSIS
    * **Feature extractors** (mean PRO over the 4 statistics): VGG (66.75) > Colors (34.00); the paper: ...
    """
    paper = _paper_table1(0)
    feats, stats = list(pro.columns), list(pro.index)
    known = [f for f in feats if f in paper.columns]
    mean_ours = {f: float(pro[f].mean()) for f in feats}
    mean_paper = {f: float(paper[f].mean()) for f in known}
    lines = [(f"* **Feature extractors** (mean PRO over the {len(stats)} statistics): {ordering(mean_ours, noise)}; "
              f"the paper: {ordering(mean_paper)}.")]
    if neural in feats:
        best = [s for s in stats if all(verdict(pro.loc[s, neural], pro.loc[s, f], noise) > 0
                                        for f in feats if f != neural)]
        paper_best = [s for s in stats if s in paper.index and neural in paper.columns
                      and all(paper.loc[s, neural] > paper.loc[s, f] for f in known if f != neural)]
        lines[-1] += (f" The {neural} column is ahead of every other extractor (by at least {points(noise)}) for "
                      f"{count(best, len(stats), 'statistics')}; in the paper for {count(paper_best, len(stats))}.")
    lines.append(_pair_sentence("Correspondences vs. holistic statistics",
                                "the better of SWW and FCA beats the better of moments and histogram",
                                pro, auroc, paper, _CORRESPONDENCE, _HOLISTIC, noise))
    lines.append(_pair_sentence("FCA vs. SWW", "FCA beats SWW", pro, auroc, paper, ("FCA",), ("SWW",), noise))
    lines.append(_pair_sentence("Histogram vs. moments", "the histogram beats moments", pro, auroc, paper,
                                ("Histogram",), ("Moments",), noise))
    best_ours = {f: str(pro[f].idxmax()) for f in feats}
    best_paper = {f: str(paper[f].idxmax()) for f in known}
    same = [f for f in known if best_ours[f] == best_paper[f]]
    lines.append("* **Best statistic per extractor** (PRO, ours / paper): "
                 + ", ".join(f"{f} {best_ours[f]} / {best_paper.get(f, '–')}" for f in feats)
                 + f"; the same as the paper's for {count(same, len(feats), 'extractors')}.")
    if extractor is not None:
        lines.append(_neural_sentence(neural, extractor))
    return "\n".join(lines)


def _neural_sentence(neural: str, extractor: str) -> str:
    """Which network produced the neural column, next to the paper's VGG19."""
    if extractor == "vgg19":
        return f"* The {neural} column is the paper's VGG19 (`{extractor}`)."
    return (f"* The {neural} column is `{extractor}`, not the paper's VGG19: its values are not VGG19's, whether "
            "they come close to the paper's or not.")


def table2_takeaway(pro: pd.DataFrame, seconds: pd.DataFrame | None = None, *, extractor: str | None = None,
                    noise: float = 1.0) -> str:
    """Markdown bullets on our Table 2, every number taken from it and from the paper's Table 2.

    ``pro`` / ``seconds``: :func:`table2` with ``metric="PRO"`` / ``"time"`` (rows "Random (k)",
    "All", "Global"; columns Hist, SWW, FCA). Says how PRO and time grow with the number of
    random patches, how the global reference (Eq. 7) compares with the most random patches
    in PRO and with one random patch in time, what "All" gives where it was computed, and
    how the three statistics rank in each row, each next to the paper's numbers.
    Differences below ``noise`` PRO points are called within noise. ``extractor``: the
    network that really produced the features (the paper's is VGG19).

    >>> rows = ["Random (1)", "Random (100)", "Global"]
    >>> pro = pd.DataFrame([[50, 52, 55], [70, 72, 75], [68, 72, 76]], rows, ["Hist", "SWW", "FCA"])
    >>> print(table2_takeaway(pro).splitlines()[0])  # doctest: +ELLIPSIS
    * **Random references.** Random (1): PRO 50.00 / 52.00 / 55.00 for Hist / SWW / FCA (paper: ...
    """
    stats = list(pro.columns)
    rows = list(pro.index)
    randoms = [r for r in rows if r.startswith("Random")]
    t = seconds
    lines = []

    def paper(row, stat, i=0):
        return TABLE2.get(row, {}).get(stat, (None, None))[i]

    def slash(values):
        return " / ".join(num(v) for v in values)

    if randoms:
        first, last = randoms[0], randoms[-1]
        text = (f"* **Random references.** {first}: PRO {slash(pro.loc[first])} for {' / '.join(stats)} "
                f"(paper: {slash(paper(first, s) for s in stats)}).")
        if len(randoms) > 1:
            gain = [float(pro.loc[last, s] - pro.loc[first, s]) for s in stats]
            steady = [s for s in stats if all(verdict(pro.loc[b, s], pro.loc[a, s], noise) >= 0
                                              for a, b in pairwise(randoms))]
            text += (f" From {first} to {last} PRO changes by {' / '.join(signed(g) for g in gain)} points "
                     f"(paper: {' / '.join(signed(paper(last, s) - paper(first, s)) for s in stats)}); it rises, or "
                     f"stays within noise, at every step for {count(steady, len(stats), 'statistics')}.")
            if t is not None and "FCA" in stats:
                text += (f" FCA's time per image grows from {num(t.loc[first, 'FCA'], 3)} s to "
                         f"{num(t.loc[last, 'FCA'], 3)} s (paper: {paper(first, 'FCA', 1):g} s to "
                         f"{paper(last, 'FCA', 1):g} s).")
        lines.append(text)
    if "Global" in rows and randoms:
        last = randoms[-1]
        parts, agree = [], []
        for s in stats:
            d = float(pro.loc["Global", s] - pro.loc[last, s])
            v = verdict(pro.loc["Global", s], pro.loc[last, s], noise)
            word = {1: "better", 0: "as good (within noise)", -1: "worse"}[v]
            p = paper("Global", s) - paper(last, s)
            parts.append(f"{s} {word}, {signed(d)} (paper: {signed(p)})")
            if v == 0 or (v > 0) == (p > 0):
                agree.append(s)
        text = (f"* **Global reference (Eq. 7) vs. {last}:** {'; '.join(parts)}. Same direction as the paper, or "
                f"within noise, for {count(agree, len(stats), 'statistics')}.")
        if t is not None:
            first = randoms[0]
            ours_ratio = " / ".join(f"{t.loc['Global', s] / t.loc[first, s]:.2f}×" for s in stats)
            paper_ratio = " / ".join(f"{paper('Global', s, 1) / paper(first, s, 1):.2f}×" for s in stats)
            text += f" Time per image, global / {first}: {ours_ratio} (paper: {paper_ratio})."
        lines.append(text)
    if "All" in rows:
        computed = [s for s in stats if not pd.isna(pro.loc["All", s])]
        paper_all = ", ".join(f"{s} " + (f"PRO {paper('All', s):g}, " if paper("All", s) is not None else "no PRO, ")
                              + f"{paper('All', s, 1):g} s" for s in stats)
        if computed:
            best = [s for s in computed if all(pro.loc["All", s] >= pro.loc[r, s] for r in rows if not pd.isna(pro.loc[r, s]))]
            text = (f"* **All patches** (computed for {', '.join(computed)}): PRO {slash(pro.loc['All', computed])}; the "
                    f"best row for {count(best, len(computed), 'statistics')}")
            if "Global" in rows:
                text += f"; {' / '.join(signed(pro.loc['All', s] - pro.loc['Global', s]) for s in computed)} against the global reference"
                if t is not None:
                    cost = " / ".join(f"{t.loc['All', s] / t.loc['Global', s]:.0f}×" for s in computed)
                    text += f", at {cost} its time per image"
            lines.append(text + f". The paper: {paper_all}.")
        else:
            lines.append(f"* **All patches** was not computed here (more windows than the limit). The paper: {paper_all}.")
    wins, exceptions, sww_ahead = [], [], []
    for r in rows:
        values = {s: float(pro.loc[r, s]) for s in stats if not pd.isna(pro.loc[r, s])}
        if len(values) < 2:
            continue
        top = max(values, key=values.get)
        if "FCA" in values:
            if top == "FCA":
                wins.append(r)
            else:
                gap = values[top] - values["FCA"]
                exceptions.append(f"{r} ({top} ahead by {gap:.2f}" + (", within noise)" if gap < noise else ")"))
        if "SWW" in values and "Hist" in values and values["SWW"] > values["Hist"]:
            sww_ahead.append(r)
    compared = [r for r in rows if pd.notna(pro.loc[r]).sum() >= 2]
    paper_rows = [r for r in compared if r in TABLE2 and all(paper(r, s) is not None for s in ("FCA", "SWW", "Hist"))]
    paper_wins = [r for r in paper_rows if paper(r, "FCA") >= max(paper(r, "SWW"), paper(r, "Hist"))]
    paper_sww = [r for r in paper_rows if paper(r, "SWW") > paper(r, "Hist")]
    if "FCA" in stats:
        text = f"* **Statistics:** FCA has the best PRO in {len(wins)} of {len(compared)} rows"
        if exceptions:
            text += f", not in {' and '.join(exceptions)}"
        text += f". SWW is ahead of the histogram in {count(sww_ahead, len(compared), 'rows')}."
        text += (f" The paper: FCA best in {len(paper_wins)} of {len(paper_rows)} rows with three PROs, SWW ahead "
                 f"of the histogram in {count(paper_sww, len(paper_rows))}.")
        lines.append(text)
    if extractor is not None:
        lines.append("* The features are " + ("the paper's VGG19 (`vgg19`)." if extractor == "vgg19" else
                                              f"`{extractor}`, not the paper's VGG19."))
    return "\n".join(lines)
