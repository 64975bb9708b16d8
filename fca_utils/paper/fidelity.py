"""Fidelity report: what each deviation from the authors' code that remains an option changes.

Every default of the package follows the paper and, where the paper is silent, the
authors' public code (``TArdelean/AnomalyLocalizationFCA``; ``docs/fidelity.md`` lists
each choice with its file and setting). A few other behaviours remain available as
options. :func:`run_fidelity` measures each of them against the default on the same
images, and :func:`fidelity_table` puts the two PRO(0.3) values side by side:

- **antialiasing**: the default resizes with plain bilinear interpolation (the authors'
  ``op_utils.py``, ``load_image_tensor``); the option low-pass filters first
  (``antialias=True``); measured with preset ``paper320``;
- **Laws' TEM**: the default ``"tem"`` is the authors' texture energy measure
  (``feature_extractors.py``, ``LawTextureEnergyMeasure``); the option ``"tem_energy"`` is
  the classic rectified texture energy; measured in Table 1's protocol;
- **steerable filters**: the default ``"steerable"`` is the authors' steerable pyramid
  (``feature_extractors.py``, ``SteerableExtractor``); the option ``"steerable_g2h2"`` is our
  earlier bank of Freeman & Adelson G1, G2, H2 steerable filters; measured in Table 1's protocol;
- **k of the k-NN reference**: the paper does not give k and the authors' code has no
  k-NN reference; the default k = 10 is ours, the options are k = 5 and k = 20; measured
  with preset ``paper320_knn``.

A :class:`Deviation` is either a preset run (``kind="preset"``: the maps of
:func:`fca_utils.evaluation.runs.run_method` for the default and for the option's
overrides, cached on disk, so two rows with the same default compute it once) or a pair
of feature extractors in the design-space protocol of Table 1 (``kind="features"``:
:func:`fca_utils.paper.experiments.evaluate_grid` with FCA and the global reference).

>>> from fca_utils import datasets; from fca_utils.evaluation import tables        # doctest: +SKIP
>>> from fca_utils.paper import experiments, fidelity                               # doctest: +SKIP
>>> ds = datasets.open_dataset("embedded")                                          # doctest: +SKIP
>>> records = fidelity.run_fidelity(ds, "outputs/maps", experiments.Setting.preliminary().scaled(64),
...                                 classes=["wood"], max_images=2)                 # doctest: +SKIP
>>> print(tables.to_text(fidelity.fidelity_table(records)))                         # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .. import features
from ..core.methods import Preset
from ..datasets.dataset import Dataset
from ..evaluation.runs import run_method
from ..evaluation.tables import table
from ..features import CachedExtractor
from .experiments import Setting, evaluate_grid

__all__ = ["Deviation", "DEVIATIONS", "run_fidelity", "fidelity_table", "fidelity_takeaway"]

_KINDS = ("preset", "features")


@dataclass(frozen=True)
class Deviation:
    """One behaviour that deviates from the authors' code and remains an option.

    Attributes
    ----------
    row : str
        Row label of :func:`fidelity_table`.
    kind : "preset" or "features"
        ``"preset"``: ``method`` run by :func:`~fca_utils.evaluation.runs.run_method` with
        ``default`` and with ``option`` as preset overrides. ``"features"``: the
        extractors named ``default["extractor"]`` and ``option["extractor"]`` in
        :func:`~fca_utils.paper.experiments.evaluate_grid` (FCA, global reference).
    default, option : dict
        Preset overrides (``{}`` is the preset as it is) or ``{"extractor": name}``.
    default_label, option_label : str
        How the table names the two.
    follows : str
        What the default follows (the authors' file and setting, or "ours").
    method : str or Preset
        Preset of a ``"preset"`` deviation (a name of :data:`fca_utils.core.methods.PRESETS`
        or a :class:`~fca_utils.core.methods.Preset`).
    """

    row: str
    kind: str
    default: dict
    option: dict
    default_label: str
    option_label: str
    follows: str
    method: str | Preset = ""

    def __post_init__(self):
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {self.kind!r}")
        if self.kind == "preset" and not self.method:
            raise ValueError(f"deviation {self.row!r}: a preset deviation needs a method")
        if self.kind == "features" and not ("extractor" in self.default and "extractor" in self.option):
            raise ValueError(f"deviation {self.row!r}: default and option must name an 'extractor'")


#: The deviations that remain options, each against the default it departs from.
DEVIATIONS: tuple[Deviation, ...] = (
    Deviation("antialiasing", "preset", {}, {"antialias": True}, "bilinear", "antialiased",
              "op_utils.py load_image_tensor: F.interpolate(mode='bilinear')", method="paper320"),
    Deviation("Laws' TEM", "features", {"extractor": "tem"}, {"extractor": "tem_energy"}, "tem", "tem_energy",
              "feature_extractors.py LawTextureEnergyMeasure"),
    Deviation("steerable filters", "features", {"extractor": "steerable"}, {"extractor": "steerable_g2h2"},
              "steerable", "steerable_g2h2", "feature_extractors.py SteerableExtractor"),
    Deviation("k-NN k=5", "preset", {}, {"knn_k": 5}, "k=10", "k=5", "ours (no k-NN in the authors' code)",
              method="paper320_knn"),
    Deviation("k-NN k=20", "preset", {}, {"knn_k": 20}, "k=10", "k=20", "ours (no k-NN in the authors' code)",
              method="paper320_knn"),
)


@dataclass(frozen=True)
class _Pair:
    default: float
    option: float
    images: int


def _preset_pair(dataset, deviation: Deviation, maps_root, net, **kw) -> _Pair:
    default = run_method(dataset, deviation.method, maps_root, backbone=net, **kw, **deviation.default)
    option = run_method(dataset, deviation.method, maps_root, backbone=net, **kw, **deviation.option)
    images = sum(m["images"] for m in default.metrics.values())
    return _Pair(default.mean("au_pro"), option.mean("au_pro"), images)


def _features_pair(dataset, deviation: Deviation, setting: Setting, device, **kw) -> _Pair:
    names = {"default": deviation.default["extractor"], "option": deviation.option["extractor"]}
    extractors = {key: features.get_extractor(name, device) for key, name in names.items()}
    grid = evaluate_grid(dataset, extractors, ["fca"], ["global"], setting, device=device, **kw)
    return _Pair(grid.mean("default", "fca", "global"), grid.mean("option", "fca", "global"),
                 sum(grid.images.values()))


def run_fidelity(dataset: Dataset, maps_root, setting: Setting, *, deviations=DEVIATIONS, classes=None,
                 max_images=None, backbone="auto", device=None, progress: bool = True) -> list[dict]:
    """PRO(0.3) of the default and of the option of every deviation, on the same images.

    Parameters
    ----------
    dataset : Dataset
    maps_root : path
        Map cache of the preset runs (:func:`fca_utils.evaluation.runs.run_method`).
    setting : Setting
        Protocol of the feature rows (Table 1's preliminary protocol, or a scaled copy).
    deviations : sequence of Deviation
        Default :data:`DEVIATIONS`.
    classes : list of str, optional
        Default: all classes of the dataset.
    max_images : int, optional
        Per class, a deterministic subset (:func:`fca_utils.evaluation.runs.select_entries`,
        good images included).
    backbone : str or Extractor
        The network of the preset rows (``"auto"``: WideResNet-50-2 if its weights are
        there, else EfficientNet-Lite0); wrapped in a :class:`CachedExtractor` so that
        presets that see the same image extract its features once.
    device : None, str or torch.device
    progress : bool

    Returns
    -------
    list of dict
        One record per deviation, in order: ``row``, ``default``, ``option`` (labels),
        ``follows``, ``pro_default``, ``pro_option`` (fractions), ``images``, ``kind``.
    """
    deviations = tuple(deviations)
    rows = [d.row for d in deviations]
    if len(set(rows)) != len(rows):
        raise ValueError(f"deviation rows must be unique, got {rows}")
    net = None
    if any(d.kind == "preset" for d in deviations):
        net = backbone if isinstance(backbone, CachedExtractor) else \
            CachedExtractor(features.resolve_backbone(backbone, device=device)[0])
    records = []
    for d in deviations:
        if d.kind == "preset":
            pair = _preset_pair(dataset, d, maps_root, net, classes=classes, max_images=max_images, device=device,
                                progress=progress)
        else:
            pair = _features_pair(dataset, d, setting, device, classes=classes, max_images=max_images,
                                  progress=progress)
        records.append({"row": d.row, "kind": d.kind, "default": d.default_label, "option": d.option_label,
                        "follows": d.follows, "pro_default": pair.default, "pro_option": pair.option,
                        "images": pair.images})
    return records


def fidelity_table(records: list[dict], title: str = "Deviations that remain options: PRO(0.3) in %",
                   notes: str = "") -> pd.DataFrame:
    """:func:`run_fidelity`'s records as a table: default and option with their PRO, and the difference.

    Columns ``default``, ``PRO default``, ``option``, ``PRO option`` (percent) and
    ``Δ PRO points`` (option − default, signed).
    """
    body = {r["row"]: [r["default"], 100 * r["pro_default"], r["option"], 100 * r["pro_option"],
                       100 * (r["pro_option"] - r["pro_default"])] for r in records}
    columns = ["default", "PRO default", "option", "PRO option", "Δ PRO points"]
    return table(body, columns, title=title, index_name="deviation", notes=notes,
                 formats={"Δ PRO points": "{:+.2f}"})


def fidelity_takeaway(records: list[dict], noise: float = 1.0) -> str:
    """A Markdown takeaway generated from :func:`run_fidelity`'s records (no number written by hand).

    ``noise`` (PRO points) is the difference below which a row is reported as no clear
    change: with a few images per class, smaller differences are within noise.
    """
    if not records:
        raise ValueError("no records: run run_fidelity first")
    lines = []
    for r in records:
        delta = 100 * (r["pro_option"] - r["pro_default"])
        if abs(delta) < noise:
            verdict = f"no clear change (|Δ| < {noise:g} point)"
        else:
            verdict = f"the option is {'better' if delta > 0 else 'worse'} by {abs(delta):.2f} points"
        lines.append(f"* **{r['row']}**: {r['option']} vs. {r['default']} (default, follows {r['follows']}): "
                     f"PRO {100 * r['pro_option']:.2f} vs. {100 * r['pro_default']:.2f}, {verdict}.")
    largest = max(records, key=lambda r: abs(r["pro_option"] - r["pro_default"]))
    images = sorted({r["images"] for r in records})
    lines.append(f"* The largest effect is **{largest['row']}** "
                 f"({100 * (largest['pro_option'] - largest['pro_default']):+.2f} points), measured on "
                 f"{'/'.join(str(n) for n in images)} images.")
    return "\n".join(lines)
