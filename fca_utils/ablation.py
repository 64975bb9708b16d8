"""Ablation, parameter sensitivity and failure cases (paper Appendix C and D).

Three experiments of the paper's supplementary material, as reusable loops:

- **Table 7** (Appendix D.1, "Direct Ablation"): the final method against the same method
  with one component ablated at a time (:data:`ABLATIONS`, :func:`run_ablation`,
  :func:`ablation_table`):

  ====  ==================================================================  ============================
  row   what replaces the component                                         how it is run here
  ====  ==================================================================  ============================
  F     the same network with random weights (no ImageNet pretraining)      :func:`random_counterpart`
  R     the mean of all feature patches instead of the median (Eq. 7)       ``reference="mean"``
  HR    320 x 320 instead of full resolution                                preset ``"paper320"``
  FCA   EMD between patch histograms, global histogram as reference (Eq. 3) ``statistic="histogram"``
  full  the final method (WideResNet-50-2, median, full resolution, FCA)    preset ``"paper"``
  ====  ==================================================================  ============================

- **Figure 9** (Appendix D.2, "Sensitivity to parameters"): AU-PRO for
  ``T in {7, 9, 11}`` and a grid of ``sigma_p`` and ``sigma_s`` (:func:`sensitivity_grid`,
  :func:`sensitivity_table`). The paper gives no numbers for this figure and does not
  state the sigma ranges it swept.

- **Figures 6 and 7** (Sec. 5 and Appendix C): helpers that make the failure cases from
  a dataset: a crop in which one defect covers most of the image (:func:`crop_around_defect`,
  :func:`center_crop`, :func:`largest_defect_entry`), the defect-free texture under an
  embedded defect (:func:`clean_image`) and other plausible annotations of the same defect
  (:func:`annotation_variants`).

Features are the expensive part on a CPU; :class:`CachedExtractor` keeps the features
of every image it has seen, so the ablations that only change ``S`` or ``R`` (and every
point of the sensitivity grid) extract them once per image.

Examples
--------
>>> from fca_utils import ablation, datasets                                   # doctest: +SKIP
>>> ds = datasets.open_dataset("embedded")                                      # doctest: +SKIP
>>> runs = ablation.run_ablation(ds, "outputs/maps", classes=["woven"], max_images=4)  # doctest: +SKIP
>>> print(ablation.ablation_table(runs))                                        # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from tqdm.auto import tqdm

from . import features, metrics
from . import paper_numbers as pn
from .datasets import Dataset
from .evaluate import MethodRun, configure, run_method, select_entries
from .layout import Entry
from .pipeline import localize
from .tables import Table

__all__ = [
    "Ablation", "ABLATIONS", "CachedExtractor", "RandomEfficientNetLite0", "random_counterpart",
    "run_ablation", "ablation_table", "ablation_class_table",
    "sensitivity_grid", "sensitivity_table", "sensitivity_array",
    "center_crop", "crop_around_defect", "largest_defect_entry", "clean_image",
    "visible_change_mask", "annotation_variants", "count_regions", "case_metrics", "case_maps", "plot_cases",
]

_MARKS = ("F", "R", "HR", "FCA")


# ---------------------------------------------------------------------------------------
# Table 7: the ablations
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ablation:
    """One row of the paper's Table 7.

    Attributes
    ----------
    row : str
        ``"F"``, ``"R"``, ``"HR"``, ``"FCA"`` (the ablated component) or ``"full"``.
    method : str
        Preset of :data:`fca_utils.pipeline.PRESETS` the row runs.
    overrides : dict
        Preset parameters changed for the row (passed to :func:`fca_utils.evaluate.run_method`).
    random_features : bool
        Whether the row uses the randomly initialized counterpart of the backbone.
    marks : dict
        ``F``, ``R``, ``HR``, ``FCA`` -> ``True`` (component kept, ✓), ``False`` (ablated,
        ✗) or ``None`` (not applicable, –), as printed in Table 7.
    description : str
        What replaces the component (Appendix D.1).
    """

    row: str
    method: str
    overrides: dict = field(default_factory=dict)
    random_features: bool = False
    marks: dict = field(default_factory=dict)
    description: str = ""


def _marks(row: str) -> dict:
    for paper_row in pn.TABLE7:
        ablated = next((k for k in _MARKS if paper_row[k] is False), "full")
        if ablated == row:
            return {k: paper_row[k] for k in _MARKS}
    raise KeyError(row)


#: The five rows of Table 7, in the paper's order.
ABLATIONS: dict[str, Ablation] = {
    "F": Ablation("F", "paper", {}, True, _marks("F"), pn.TABLE7_ABLATIONS["F"]),
    "R": Ablation("R", "paper", {"reference": "mean"}, False, _marks("R"), pn.TABLE7_ABLATIONS["R"]),
    "HR": Ablation("HR", "paper320", {}, False, _marks("HR"), pn.TABLE7_ABLATIONS["HR"]),
    "FCA": Ablation("FCA", "paper", {"statistic": "histogram"}, False, _marks("FCA"), pn.TABLE7_ABLATIONS["FCA"]),
    "full": Ablation("full", "paper", {}, False, _marks("full"),
                     "final method: ImageNet features, median reference (Eq. 7), full resolution, FCA (Eq. 5)"),
}


class CachedExtractor(features.Extractor):
    """A feature extractor that remembers the features of every image it has computed.

    Wraps another :class:`~fca_utils.features.Extractor` and returns exactly its output
    (a copy); images are recognised by their shape, dtype and the SHA-1 of their
    values. It keeps the wrapped extractor's ``name``, so maps cached by
    :func:`fca_utils.evaluate.run_method` are shared with runs of the plain extractor.
    Features are stored on the CPU.

    Parameters
    ----------
    inner : Extractor
        The extractor to wrap.
    max_items : int or None
        Keep at most this many feature maps (least recently used dropped first);
        ``None``: no limit.

    Attributes
    ----------
    hits, misses : int
        Calls answered from memory and calls that ran ``inner``.

    Examples
    --------
    >>> import torch
    >>> from fca_utils import features
    >>> f = CachedExtractor(features.get_extractor("colors"))
    >>> x = torch.rand(1, 3, 16, 16)
    >>> bool((f(x) == f(x)).all()), f.hits, f.misses
    (True, 1, 1)
    """

    def __init__(self, inner: features.Extractor, max_items: int | None = None):
        if isinstance(inner, CachedExtractor):
            inner = inner.inner
        if not isinstance(inner, features.Extractor):
            raise TypeError(f"CachedExtractor wraps a features.Extractor, got {type(inner).__name__}")
        if max_items is not None and max_items < 1:
            raise ValueError(f"max_items must be a positive integer or None, got {max_items}")
        super().__init__(inner.device)
        self.inner = inner
        self.name, self.stride, self.channels = inner.name, inner.stride, inner.channels
        self.min_size, self.description = inner.min_size, inner.description
        self.max_items = max_items
        self.hits = self.misses = 0
        self._store: OrderedDict = OrderedDict()

    @staticmethod
    def _key(image: torch.Tensor) -> tuple:
        data = image.detach().to("cpu").contiguous().numpy()
        return tuple(image.shape), str(image.dtype), hashlib.sha1(data.tobytes()).hexdigest()

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        key = self._key(image)
        if key in self._store:
            self.hits += 1
            self._store.move_to_end(key)
            return self._store[key].to(image.device).clone()
        self.misses += 1
        out = self.inner(image)
        self._store[key] = out.detach().to("cpu").clone()
        if self.max_items is not None:
            while len(self._store) > self.max_items:
                self._store.popitem(last=False)
        return out

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        return self.inner.output_size(height, width)

    def clear(self) -> None:
        """Forget every stored feature map."""
        self._store.clear()

    def __len__(self) -> int:
        return len(self._store)


class RandomEfficientNetLite0(features.EfficientNetLite0):
    """EfficientNet-Lite0 features with random weights: the offline backbone's "ablating F".

    The paper ablates F with WideResNet-50-2 randomly initialized (Table 7,
    ``features.get_extractor("random_wrn50")``). When the offline backbone
    (:class:`fca_utils.features.EfficientNetLite0`) stands in for WideResNet-50-2, its
    own random-init counterpart keeps the comparison "same architecture, no
    pretraining". Same layers, same two taps (stride 8 and upsampled stride 16, 152
    channels), initialized as torchvision initializes its EfficientNets: convolutions
    Kaiming-normal (fan-out), batch norms identity, under ``torch.manual_seed(seed)``
    inside ``torch.random.fork_rng`` (the caller's RNG state is kept). Needs no weights.

    Parameters
    ----------
    device : str or torch.device, optional
    seed : int
    """

    name = "random_efficientnet_lite0"
    description = ("EfficientNet-Lite0 architecture with random weights (torchvision-style init), same taps as "
                   "efficientnet_lite0 (152 ch, stride 8): the offline backbone's counterpart of random_wrn50")

    def __init__(self, device=None, seed: int = 0):
        features.Extractor.__init__(self, device)
        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as err:  # same message as the pretrained one
            raise ImportError("random_efficientnet_lite0 needs the PyPI package efficientnet-lite-pytorch") from err
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            model = EfficientNet.from_name("efficientnet-lite0", image_size=None)
            for m in model.modules():
                if isinstance(m, torch.nn.Conv2d):
                    torch.nn.init.kaiming_normal_(m.weight, mode="fan_out")
                    if m.bias is not None:
                        torch.nn.init.zeros_(m.bias)
                elif isinstance(m, (torch.nn.BatchNorm2d, torch.nn.GroupNorm)):
                    torch.nn.init.ones_(m.weight)
                    torch.nn.init.zeros_(m.bias)
        model = model.to(self.device).eval().requires_grad_(False)
        self.stem = torch.nn.Sequential(model._conv_stem, model._bn0, model._swish)
        self.blocks = model._blocks[:11]


_RANDOM: dict = {}


def random_counterpart(backbone, device=None, seed: int = 0) -> features.Extractor:
    """The randomly initialized network of the same architecture as ``backbone`` (Table 7, F).

    Parameters
    ----------
    backbone : str or Extractor
        ``"wide_resnet50_2"`` (the paper's) -> ``"random_wrn50"``;
        ``"efficientnet_lite0"`` (offline stand-in) -> :class:`RandomEfficientNetLite0`.
        ``"auto"`` is resolved first (:func:`fca_utils.features.resolve_backbone`).
    device : None, str or torch.device
    seed : int

    Raises
    ------
    ValueError
        For a backbone without a random-init counterpart here (hand-crafted features).
    """
    if isinstance(backbone, CachedExtractor):
        backbone = backbone.inner
    if not isinstance(backbone, features.Extractor):
        backbone, _ = features.resolve_backbone(backbone, device=device)
    name = backbone.name
    if name == "wide_resnet50_2":
        return features.get_extractor("random_wrn50", device if device is not None else backbone.device, seed=seed)
    if name == "efficientnet_lite0":
        dev = torch.device(device) if device is not None else backbone.device
        key = (str(dev), int(seed))
        if key not in _RANDOM:
            _RANDOM[key] = RandomEfficientNetLite0(dev, seed=seed)
        return _RANDOM[key]
    raise ValueError(f"no random-init counterpart for backbone {name!r}; expected wide_resnet50_2 "
                     f"(-> random_wrn50) or efficientnet_lite0 (-> random_efficientnet_lite0)")


def run_ablation(dataset: Dataset, maps_root, *, rows=tuple(ABLATIONS), classes=None, max_images=None,
                 backbone="auto", device=None, progress: bool = True, seed: int = 0) -> dict[str, MethodRun]:
    """Run the rows of Table 7 on ``dataset`` with :func:`fca_utils.evaluate.run_method`.

    Every row is the dataset's protocol for its preset (full resolution with the
    protocol's ``T`` for ``"paper"``; 320 x 320 with ``T = 3`` for ``"paper320"``) plus the
    row's overrides (:data:`ABLATIONS`). Maps are cached per row under ``maps_root`` as
    :func:`~fca_utils.evaluate.run_method` does; features are extracted once per image
    for the rows that share them (:class:`CachedExtractor`).

    Parameters
    ----------
    dataset : Dataset
    maps_root : path
    rows : sequence of str
        Keys of :data:`ABLATIONS` to run (default all five, paper order).
    classes : as in :func:`~fca_utils.evaluate.run_method`.
    max_images : int, dict or None
        As in :func:`~fca_utils.evaluate.run_method`, or a dict class -> int (or None) to
        take a different number of images per class.
    backbone : str or Extractor
        The pretrained network (``"auto"``: WideResNet-50-2 if its weights are there, else
        EfficientNet-Lite0). Row ``F`` uses :func:`random_counterpart` of it. A
        :class:`CachedExtractor` is used as it is (its features can be shared with
        :func:`sensitivity_grid`).
    device : None, str or torch.device
    progress : bool
    seed : int
        Seed of the random weights of row ``F``.

    Returns
    -------
    dict
        row -> :class:`~fca_utils.evaluate.MethodRun`, in the order of ``rows``.
    """
    unknown = [r for r in rows if r not in ABLATIONS]
    if unknown:
        raise ValueError(f"unknown Table 7 row(s) {unknown}; expected some of {list(ABLATIONS)}")
    cached = backbone if isinstance(backbone, CachedExtractor) else \
        CachedExtractor(features.resolve_backbone(backbone, device=device)[0])
    extractor = cached.inner
    classes = list(dataset.classes if classes is None else classes)
    if isinstance(max_images, dict):
        missing = [c for c in classes if c not in max_images]
        if missing:
            raise ValueError(f"max_images has no entry for class(es) {missing}")
        groups = [([c], max_images[c]) for c in classes]
    else:
        groups = [(classes, max_images)]
    runs = {}
    for row in rows:
        spec = ABLATIONS[row]
        net = random_counterpart(extractor, device, seed) if spec.random_features else cached
        for group, limit in groups:
            part = run_method(dataset, spec.method, maps_root, classes=group, max_images=limit,
                              backbone=net, device=device, progress=progress, **spec.overrides)
            if row not in runs:
                runs[row] = part
                continue
            runs[row].metrics.update(part.metrics)
            runs[row].seconds.update(part.seconds)
            runs[row].computed += part.computed
            runs[row].reused += part.reused
    return runs


def ablation_table(runs: dict[str, MethodRun], title: str = "Table 7 (ours)", notes: str = "",
                   marks: bool = True) -> Table:
    """Table 7 layout of :func:`run_ablation`'s result: marks F, R, HR, FCA, then PRO and AUROC.

    Metrics are class means in percent (AU-PRO up to FPR 0.3 and pixel AUROC, Sec. 4.2);
    rows are named as in :func:`fca_utils.tables.paper_table` ``(7)`` so that
    :func:`fca_utils.tables.compare` pairs them. ``marks=False`` leaves out the ✓ / ✗
    columns (for :func:`~fca_utils.tables.compare`, which pairs every column).
    """
    rows = {}
    for row, run in runs.items():
        signs = [ABLATIONS[row].marks[k] for k in _MARKS] if marks else []
        rows[row] = signs + [100 * run.mean("au_pro"), 100 * run.mean("pixel_auroc")]
    columns = (list(_MARKS) if marks else []) + ["PRO", "AUROC"]
    return Table(title, columns, rows, index_name="ablated", notes=notes)


def ablation_class_table(runs: dict[str, MethodRun], metric: str = "au_pro", title: str = "") -> Table:
    """Per-class ``metric`` (percent) of every Table 7 row: rows = classes, columns = ablated rows."""
    classes = list(next(iter(runs.values())).metrics) if runs else []
    body = {c: [100 * runs[r].metrics[c][metric] for r in runs] for c in classes}
    body["mean"] = [100 * runs[r].mean(metric) for r in runs]
    return Table(title or f"{metric} per class", list(runs), body, index_name="class")


# ---------------------------------------------------------------------------------------
# Figure 9: sensitivity to T, sigma_p, sigma_s
# ---------------------------------------------------------------------------------------
def _fmt(x: float) -> str:
    return f"{float(x):g}"


def sensitivity_grid(dataset: Dataset, *, classes=None, max_images=None, t_offsets=(-2, 0, 2), t_values=None,
                     sigma_p=(1.0, 3.0, 5.0), sigma_s=(0.5, 1.0, 2.0), method: str = "paper", backbone="auto",
                     device=None, cache_dir=None, progress: bool = True) -> list[dict]:
    """AU-PRO, pixel AUROC and F1-max of FCA over a grid of ``(T, sigma_p, sigma_s)`` (Figure 9).

    The paper (Appendix D.2) runs MVTec AD at full resolution with ``T in {7, 9, 11}``
    and varies ``sigma_p`` (Gaussian weight of the windows, Eq. 5) and ``sigma_s`` (the
    smoothing of each window's error map) around the defaults ``T = 9``,
    ``sigma_p = 3``, ``sigma_s = 1``; it does not state the sigma ranges.

    For each class, ``T`` is either each of ``t_values``, or the protocol's ``T`` for the
    class's image size (:meth:`fca_utils.registry.Protocol.patch_size_for`, 9 for MVTec AD)
    plus each of ``t_offsets`` (``(-2, 0, 2)`` gives the paper's 7, 9, 11 at 1024 x 1024),
    skipping values below 3. Features are extracted once per image
    (:class:`CachedExtractor`, cleared after each class unless ``backbone`` is a
    :class:`CachedExtractor` of the caller: about ``images x C x (H/8) x (W/8)`` floats of
    memory). No maps are written; the metrics of each ``(class, T, sigma_p,
    sigma_s)`` are cached as JSON under ``cache_dir`` (if given), so an interrupted run
    resumes.

    Parameters
    ----------
    dataset : Dataset
    classes : list of str, optional
    max_images : int, optional
        Per class, a deterministic subset (:func:`fca_utils.evaluate.select_entries`).
    t_offsets : sequence of int
    t_values : sequence of int, optional
        Absolute window sizes (odd); overrides ``t_offsets``.
    sigma_p, sigma_s : sequences of float
    method : str
        Preset (``"paper"``: full resolution).
    backbone, device : as in :func:`fca_utils.localize`.
    cache_dir : path, optional
    progress : bool

    Returns
    -------
    list of dict
        One record per class and grid point: ``class``, ``T``, ``T_offset`` (``T`` minus
        the protocol's ``T``), ``sigma_p``, ``sigma_s``, ``au_pro``, ``pixel_auroc``,
        ``f1_max``, ``images``.
    """
    classes = list(dataset.classes if classes is None else classes)
    shared = isinstance(backbone, CachedExtractor)
    cached = backbone if shared else CachedExtractor(features.resolve_backbone(backbone, device=device)[0])
    extractor = cached.inner
    records = []
    for cls in classes:
        entries = select_entries(dataset, cls, max_images)
        samples = [dataset.load(e) for e in entries]
        h, w = samples[0].image.shape[:2]
        base = configure(method, dataset, h, w)
        ts = [int(t) for t in t_values] if t_values is not None else [base.patch_size + int(o) for o in t_offsets]
        ts = [t for t in ts if t >= 3]
        bad = [t for t in ts if t % 2 == 0]
        if bad:
            raise ValueError(f"window sizes T must be odd, got {bad}")
        grid = [(t, sp, ss) for t in ts for sp in sigma_p for ss in sigma_s]
        border = dataset.protocol.border_for(*samples[0].mask.shape)
        stems = ",".join(f"{e.defect_type}/{e.stem}" for e in entries)
        for t, sp, ss in tqdm(grid, desc=f"sensitivity {cls}", unit="config", disable=not progress, leave=False):
            key = json.dumps({"dataset": dataset.name, "class": cls, "backbone": extractor.name, "method": method,
                              "T": t, "sigma_p": float(sp), "sigma_s": float(ss), "images": stems,
                              "base": base.params()}, sort_keys=True)
            path = None
            if cache_dir is not None:
                digest = hashlib.sha1(key.encode()).hexdigest()[:10]
                path = (Path(cache_dir) / dataset.name / extractor.name / cls
                        / f"T{t}_sp{_fmt(sp)}_ss{_fmt(ss)}_{digest}.json")
                if path.is_file():
                    try:
                        records.append(json.loads(path.read_text()))
                        continue
                    except ValueError:
                        pass  # a partial file: recompute
            preset = configure(method, dataset, h, w, patch_size=t, sigma_p=float(sp), sigma_s=float(ss))
            maps = [metrics.upsample_to(localize(s.image, preset=preset, backbone=cached, device=device).scores,
                                        s.mask.shape) for s in samples]
            result = metrics.evaluate(maps, [s.mask for s in samples], border=border)
            record = {"class": cls, "T": t, "T_offset": t - base.patch_size, "sigma_p": float(sp),
                      "sigma_s": float(ss), "au_pro": result["au_pro"], "pixel_auroc": result["pixel_auroc"],
                      "f1_max": result["f1_max"], "images": len(samples)}
            records.append(record)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
                tmp.write_text(json.dumps(record, sort_keys=True))
                os.replace(tmp, path)
        if not shared:
            cached.clear()
    return records


def sensitivity_array(records: list[dict], metric: str = "au_pro"):
    """Class-mean ``metric`` on the grid, indexed by ``(T offset, sigma_p, sigma_s)``.

    Returns
    -------
    offsets, sigma_p, sigma_s : sorted lists of the grid values
    values : numpy.ndarray, shape ``(len(offsets), len(sigma_p), len(sigma_s))``
        Mean over classes (NaN where no class has the point).
    t_by_class : dict
        class -> list of the absolute ``T`` of each offset (``None`` where skipped).
    """
    offsets = sorted({r["T_offset"] for r in records})
    sps = sorted({r["sigma_p"] for r in records})
    sss = sorted({r["sigma_s"] for r in records})
    total = np.zeros((len(offsets), len(sps), len(sss)))
    count = np.zeros_like(total)
    t_by_class: dict[str, list] = {}
    for r in records:
        i, j, k = offsets.index(r["T_offset"]), sps.index(r["sigma_p"]), sss.index(r["sigma_s"])
        total[i, j, k] += r[metric]
        count[i, j, k] += 1
        t_by_class.setdefault(r["class"], [None] * len(offsets))[i] = r["T"]
    with np.errstate(invalid="ignore"):
        values = total / count
    return offsets, sps, sss, values, t_by_class


def sensitivity_table(records: list[dict], metric: str = "au_pro", title: str = "") -> Table:
    """Figure 9 as a table: rows ``T`` (offset) x ``sigma_s``, columns ``sigma_p``; class means in percent."""
    offsets, sps, sss, values, t_by_class = sensitivity_array(records, metric)
    rows = {}
    for i, off in enumerate(offsets):
        ts = sorted({ts_[i] for ts_ in t_by_class.values() if ts_[i] is not None})
        label = "T=" + "/".join(str(t) for t in ts)
        for k, ss in enumerate(sss):
            rows[f"{label}, σ_s={_fmt(ss)}"] = [None if np.isnan(v) else 100 * float(v) for v in values[i, :, k]]
    return Table(title or f"Figure 9 grid ({metric}, %)", [f"σ_p={_fmt(sp)}" for sp in sps], rows,
                 index_name="T, σ_s")


# ---------------------------------------------------------------------------------------
# Figures 6 and 7: failure cases and ambiguous ground truth
# ---------------------------------------------------------------------------------------
def center_crop(image: np.ndarray, mask: np.ndarray, side: int):
    """The central ``side x side`` crop of an image and its mask (Figure 7: MVTec tile, 512).

    Returns
    -------
    image, mask, box
        Cropped arrays and ``(y0, y1, x0, x1)``.
    """
    h, w = mask.shape
    if side > min(h, w):
        raise ValueError(f"crop side {side} is larger than the {h}x{w} image")
    y0, x0 = (h - side) // 2, (w - side) // 2
    box = (y0, y0 + side, x0, x0 + side)
    return image[y0:y0 + side, x0:x0 + side], mask[y0:y0 + side, x0:x0 + side], box


def crop_around_defect(image: np.ndarray, mask: np.ndarray, coverage: float = 0.5, multiple: int = 32,
                       min_side: int = 64):
    """A square crop centred on the defect in which the defect covers at least ``coverage``.

    Figure 7 (third row) shows that FCA fails when the anomaly covers most of the image:
    the median reference (Eq. 7) is then computed mostly from defective windows. The
    paper makes such an image by centre-cropping an MVTec AD tile image (512 x 512);
    this makes one from any defective image: among the sides ``min_side``,
    ``min_side + multiple``, ... up to the image size, it takes the *largest* crop,
    centred on the mask's centre of mass (shifted to stay inside the image), whose
    defect coverage is at least ``coverage``; if none reaches it, the crop with the
    highest coverage.

    Returns
    -------
    image, mask, box, coverage
        Cropped arrays, ``(y0, y1, x0, x1)`` and the fraction of the crop in the mask.
    """
    mask = np.asarray(mask, bool)
    if not mask.any():
        raise ValueError("crop_around_defect needs a defective image (the mask is empty)")
    if not 0 < coverage <= 1:
        raise ValueError(f"coverage must be in (0, 1], got {coverage}")
    h, w = mask.shape
    cy, cx = ndimage.center_of_mass(mask)
    best = None
    for side in range(min_side, min(h, w) + 1, multiple):
        y0 = int(np.clip(round(cy - side / 2), 0, h - side))
        x0 = int(np.clip(round(cx - side / 2), 0, w - side))
        cov = float(mask[y0:y0 + side, x0:x0 + side].mean())
        box = (y0, y0 + side, x0, x0 + side)
        if cov >= coverage:
            best = (box, cov, True)  # keep growing: the largest crop that still qualifies
        elif best is None or (not best[2] and cov > best[1]):
            best = (box, cov, False)
    (y0, y1, x0, x1), cov, _ = best
    return image[y0:y1, x0:x1], mask[y0:y1, x0:x1], (y0, y1, x0, x1), cov


def largest_defect_entry(dataset: Dataset, cls: str, side: int | None = None, defect_types=None) -> Entry:
    """The defective test image of ``cls`` whose mask covers the largest area.

    With ``side``, the area inside the central ``side x side`` crop counts (the paper's
    Figure 7 crops MVTec AD tile images to 512 x 512). ``defect_types`` restricts the
    search. Ties go to the first entry (sorted by defect type and name).
    """
    best, best_area = None, -1.0
    for entry in dataset.entries(cls):
        if entry.mask_path is None or (defect_types is not None and entry.defect_type not in defect_types):
            continue
        mask = dataset.load(entry).mask
        if side is not None:
            mask = center_crop(mask, mask, min(side, *mask.shape))[1]
        area = float(mask.mean())
        if area > best_area:
            best, best_area = entry, area
    if best is None:
        raise ValueError(f"{dataset.name}/{cls} has no defective test image" +
                         (f" of type {list(defect_types)}" if defect_types else ""))
    return best


def clean_image(cls: str, defect_type: str, stem: str, seed: int = 0, check: np.ndarray | None = None) -> np.ndarray:
    """The defect-free texture under an embedded test image (uint8 ``(H, W, 3)``).

    The embedded benchmark (:mod:`fca_utils.synthetic`) plants each defect into a
    rendered clean texture; this renders the class again with the same ``seed`` and
    returns the clean texture of image ``<cls>/test/<defect_type>/<stem>``. With
    ``check`` (the image as read from disk), raises if the re-rendered defective image
    differs from it (other library versions can change the rendering).
    """
    from . import synthetic

    spec = next((s for s in synthetic.CLASSES if s.name == cls), None)
    if spec is None:
        raise ValueError(f"unknown embedded class {cls!r}; expected one of {synthetic.CLASS_NAMES}")
    for sample in synthetic.render_class(spec, seed):
        if sample.split == "test" and sample.defect_type == defect_type and sample.stem == stem:
            if check is not None and not np.array_equal(sample.image, np.asarray(check)):
                raise RuntimeError(f"re-rendered {cls}/{defect_type}/{stem} differs from the file on disk "
                                   f"(seed {seed}); the benchmark was made with other library versions")
            return sample.clean
    raise ValueError(f"the embedded class {cls!r} has no test image {defect_type}/{stem}")


def visible_change_mask(image: np.ndarray, clean: np.ndarray, threshold: float = 8.0, sigma: float = 1.5):
    """Pixels where the defect visibly changes the texture: an alternative annotation.

    The embedded masks mark every pixel whose 8-bit colour changed at all
    (:mod:`fca_utils.defects`), including soft edges that change by one or two grey
    levels and that no annotator would see. Here: the largest absolute change over the
    RGB channels, smoothed by a Gaussian of ``sigma`` pixels, at least ``threshold``
    grey levels (of 255).
    """
    diff = np.abs(np.asarray(image, np.float32) - np.asarray(clean, np.float32)).max(axis=-1)
    if sigma:
        diff = ndimage.gaussian_filter(diff, sigma)
    return diff >= threshold


def annotation_variants(mask: np.ndarray, radius: int | None = None, image=None, clean=None,
                        threshold: float = 8.0) -> dict[str, np.ndarray]:
    """Plausible alternative ground truths of one defect (Figure 6: annotations are subjective).

    Returns ``{"given": mask, "tight": eroded, "loose": dilated}`` (disk of ``radius``
    pixels, default 1 % of the image side, at least 2), plus ``"visible"``
    (:func:`visible_change_mask`) when ``image`` and ``clean`` are given. An eroded mask
    that would vanish is replaced by the given one.
    """
    mask = np.asarray(mask, bool)
    r = max(2, int(round(0.01 * min(mask.shape)))) if radius is None else int(radius)
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    disk = yy ** 2 + xx ** 2 <= r * r
    tight = ndimage.binary_erosion(mask, disk)
    out = {"given": mask, "tight": tight if tight.any() else mask, "loose": ndimage.binary_dilation(mask, disk)}
    if image is not None and clean is not None:
        out["visible"] = visible_change_mask(image, clean, threshold)
    return out


def count_regions(mask: np.ndarray) -> int:
    """Number of 8-connected regions of a mask: the regions PRO averages over (Sec. 4.2).

    Every region weighs the same in PRO, so a one-pixel fragment of an annotation counts
    as much as the whole defect.
    """
    return int(ndimage.label(np.asarray(mask, bool), structure=np.ones((3, 3), int))[1])


def case_metrics(scores: np.ndarray, mask: np.ndarray, border: int = 0) -> dict[str, float]:
    """AU-PRO (FPR 0.3), pixel AUROC and F1-max of one image's map (Sec. 4.2), in percent."""
    scores = metrics.upsample_to(scores, np.asarray(mask).shape)
    result = metrics.evaluate([scores], [np.asarray(mask, bool)], border=border)
    return {"PRO": 100 * result["au_pro"], "AUROC": 100 * result["pixel_auroc"], "F1": 100 * result["f1_max"]}


def case_maps(image: np.ndarray, methods: dict, dataset: Dataset, backbone="auto", device=None) -> dict:
    """Anomaly maps of one image by several presets, each under ``dataset``'s protocol.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W, 3)`` uint8 (e.g. a test image or a crop of one).
    methods : dict
        label -> preset name (``"paper"``, ``"paper320"``, ``"paper320_knn"``, ``"aota"``).
        A full-resolution preset gets the protocol's ``T`` for the image's size
        (:func:`fca_utils.evaluate.configure`).
    dataset : Dataset
        Whose protocol applies.
    backbone, device : as in :func:`fca_utils.localize`.

    Returns
    -------
    dict
        label -> float32 ``(H, W)`` map at the image's resolution.
    """
    h, w = np.asarray(image).shape[:2]
    return {label: localize(image, preset=configure(method, dataset, h, w), backbone=backbone, device=device).scores
            for label, method in methods.items()}


def plot_cases(rows, titles, border: int | list = 0, cell: float = 2.0, annotations_on_image: bool = False):
    """A grid of qualitative results as in the paper's Figures 6 and 7.

    Parameters
    ----------
    rows : list of (label, image, masks, maps)
        ``image`` uint8 ``(H, W, 3)``; ``masks`` a dict name -> bool ``(H, W)`` whose first
        entry is the ground truth, drawn as a black contour on every map; ``maps`` a dict
        title -> ``(H, W)`` scores, each coloured with "Reds" over its own range
        (:func:`fca_utils.viz.class_normalizer`).
    titles : list of str
        Column titles: input, ground truth, then one per map.
    border : int or list of int (one per row)
        Pixels cut from every side before showing, as the paper shows its figures "after
        cropping to the center" and ignores the border (Appendix B.2; the evaluation
        border of the protocol).
    cell : float
        Inches per panel.
    annotations_on_image : bool
        Second column: the image with one contour per mask (Figure 6) instead of the
        binary ground truth with the other masks as contours (Figure 7).

    Returns
    -------
    matplotlib Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from .viz import class_normalizer, colorize

    styles = [("black", "-"), ("tab:blue", "-"), ("tab:green", "--"), ("tab:orange", ":"), ("tab:purple", "-.")]
    ncols = 2 + max(len(r[3]) for r in rows)
    fig, axes = plt.subplots(len(rows), ncols, figsize=(ncols * cell, len(rows) * cell), squeeze=False)
    legend = {}
    for i, (label, image, masks, maps) in enumerate(rows):
        b = int(border[i] if isinstance(border, (list, tuple)) else border)
        cut = (slice(b, np.asarray(image).shape[0] - b), slice(b, np.asarray(image).shape[1] - b))
        names = list(masks)
        shown = {n: np.asarray(masks[n], bool)[cut] for n in names}
        gt = shown[names[0]]
        axes[i, 0].imshow(np.asarray(image)[cut])
        if annotations_on_image:
            axes[i, 1].imshow(np.asarray(image)[cut])
            drawn = names
        else:
            axes[i, 1].imshow(gt, cmap="gray", vmin=0, vmax=1)
            drawn = names[1:]
        for name in drawn:
            color, style = styles[names.index(name) % len(styles)]
            if shown[name].any():
                axes[i, 1].contour(shown[name], levels=[0.5], colors=color, linestyles=style, linewidths=0.9)
                legend[name] = (color, style)
        for j, scores in enumerate(maps.values()):
            ax = axes[i, 2 + j]
            scores = np.asarray(scores)[cut]
            ax.imshow(colorize(class_normalizer([scores])(scores)))
            if gt.any():
                ax.contour(gt, levels=[0.5], colors="black", linewidths=0.6)
        for j in range(ncols):
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
            if i == 0 and j < len(titles):
                axes[i, j].set_title(titles[j], fontsize=8)
        axes[i, 0].set_ylabel(label, fontsize=7)
        for j in range(2 + len(maps), ncols):
            axes[i, j].axis("off")
    fig.tight_layout()
    if legend:
        handles = [Line2D([], [], color=c, linestyle=s, label=n) for n, (c, s) in legend.items()]
        fig.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=7, frameon=False,
                   bbox_to_anchor=(0.5, 0.0))
    return fig
