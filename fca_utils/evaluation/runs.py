"""Dataset runs: anomaly maps for every test image, cached on disk, and the metrics of Sec. 4.2.

>>> from fca_utils.evaluation import runs as evaluate                                          # doctest: +SKIP
>>> ds = evaluate.open_dataset("embedded")                                  # doctest: +SKIP
>>> run = evaluate.run_method(ds, "paper320", "outputs/maps")               # doctest: +SKIP
>>> run.metrics["brick"]["au_pro"], run.mean("au_pro")                      # doctest: +SKIP

How a method meets a dataset's protocol (:class:`fca_utils.datasets.catalog.Protocol`):

- a full-resolution method (``Preset.image_size is None``, e.g. ``"paper"``) runs at the
  protocol's image size (MVTec AD and WFT: their own resolution; DTD-Synthetic and Aitex:
  320) with the protocol's window ``T`` for that size;
- a method with its own size (``"paper320"``, ``"paper320_knn"``, ``"aota"``) keeps its size
  and its ``T``, as in the paper's Table 3 ("Ours320").

Maps are upsampled to the mask resolution and written as float32 TIFF in MVTec AD's
evaluation layout (``<maps>/<class>/test/<defect>/<stem>.tiff``) as soon as each is
computed, through a temporary file. A run skips every map already written and valid, so
an interrupted run resumes where it stopped; a partial or corrupt file is recomputed.
Each method's maps live in their own folder, named after the method, the backbone and a
hash of every parameter and of the dataset's ``manifest.json`` when it has one (the embedded
benchmark's lists the SHA-256 of every file), so changing a parameter or regenerating the
data never reuses stale maps.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .. import features
from ..core.io import progress_bar
from ..core.methods import PRESETS, Preset
from ..datasets.dataset import (
    Dataset,
    anomaly_map_is_valid,
    map_path,
    open_dataset,
    read_anomaly_map,
    write_anomaly_map,
)
from ..datasets.layout import Entry
from ..pipeline import localize
from . import metrics

__all__ = ["MethodRun", "configure", "run_method", "select_entries", "open_dataset"]


@dataclass
class MethodRun:
    """The outcome of :func:`run_method` on some classes of a dataset.

    Attributes
    ----------
    method : str
        Preset name (with overrides, as configured).
    backbone : str
        Feature extractor actually used.
    maps_dir : Path
        Folder of the float32 TIFF maps (MVTec evaluation layout).
    metrics : dict
        class -> :func:`fca_utils.evaluation.metrics.evaluate` result (``au_pro``, ``pixel_auroc``,
        ``f1_max``, ``f1_threshold``, ``image_auroc``), plus ``images`` and ``border``.
    seconds : dict
        class -> list of ``localize`` seconds of the maps computed in this run (maps read
        from the cache have no time).
    computed, reused : int
        Maps computed in this run and maps found valid on disk.
    """

    method: str
    backbone: str
    maps_dir: Path
    metrics: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    computed: int = 0
    reused: int = 0

    def mean(self, metric: str) -> float:
        """Mean of ``metric`` over the classes (the paper's per-dataset averages, Table 6)."""
        values = [m[metric] for m in self.metrics.values()]
        return float(np.mean(values)) if values else float("nan")

    def seconds_per_image(self) -> float:
        """Mean ``localize`` time of the maps computed in this run (NaN if all were cached)."""
        values = [s for per_class in self.seconds.values() for s in per_class]
        return float(np.mean(values)) if values else float("nan")


def _as_preset(method: str | Preset) -> Preset:
    if isinstance(method, Preset):
        return method
    if method not in PRESETS:
        raise ValueError(f"unknown method {method!r}; expected one of {sorted(PRESETS)} or a Preset")
    return PRESETS[method]


def configure(method: str | Preset, dataset: Dataset, height: int, width: int, **overrides) -> Preset:
    """The preset ``method`` adapted to ``dataset``'s protocol for an image of ``height`` x ``width``.

    Overrides (``patch_size``, ``sigma_p``, ``statistic`` ...) win over both.
    """
    preset = _as_preset(method)
    if preset.image_size is None:
        proto = dataset.protocol
        preset = replace(preset, image_size=proto.image_size, patch_size=proto.patch_size_for(height, width))
    unknown = set(overrides) - set(preset.params())
    if unknown:
        raise ValueError(f"unknown preset parameter(s) {sorted(unknown)}; expected some of {sorted(preset.params())}")
    return replace(preset, **overrides) if overrides else preset


def select_entries(dataset: Dataset, cls: str, max_images: int | None = None) -> list[Entry]:
    """The test entries of a class, or a deterministic subset of at most ``max_images``.

    The subset keeps defect types in proportion (at least one good image and one image of
    each defect type while the budget allows), taking the first files by name.
    """
    entries = dataset.entries(cls)
    if max_images is None or max_images >= len(entries):
        return entries
    if max_images < 1:
        raise ValueError(f"max_images must be a positive integer or None, got {max_images}")
    groups: dict[str, list[Entry]] = {}
    for entry in entries:
        groups.setdefault(entry.defect_type, []).append(entry)
    order = sorted(groups, key=lambda d: (d != "good", d))  # good first, then defects by name
    picked: list[Entry] = []
    depth = 0
    while len(picked) < max_images:
        for defect in order:
            if depth < len(groups[defect]) and len(picked) < max_images:
                picked.append(groups[defect][depth])
        depth += 1
    return sorted(picked, key=entries.index)


def _data_version(dataset: Dataset) -> str | None:
    """SHA-1 of the dataset's ``manifest.json`` (it changes with any file of the data), or None."""
    manifest = dataset.root / "manifest.json"
    return hashlib.sha1(manifest.read_bytes()).hexdigest() if manifest.is_file() else None


def _method_key(preset: Preset, backbone: str, overrides: dict, data: str | None = None) -> str:
    fields = {"preset": preset.name, **preset.params(), **overrides, "backbone": backbone}
    if data is not None:
        fields["data"] = data
    params = json.dumps(fields, sort_keys=True)
    return f"{preset.name}-{backbone}-{hashlib.sha1(params.encode()).hexdigest()[:8]}"


def run_method(
    dataset: Dataset,
    method: str | Preset,
    maps_root: str | os.PathLike,
    *,
    classes: list[str] | None = None,
    max_images: int | None = None,
    backbone="auto",
    device=None,
    progress: bool = True,
    **overrides,
) -> MethodRun:
    """Compute (or reuse) the anomaly map of every selected test image, then evaluate each class.

    Parameters
    ----------
    dataset : Dataset
        From :func:`fca_utils.datasets.open_dataset`.
    method : preset name or Preset
        ``"paper"`` (FCA at full resolution), ``"paper320"``, ``"paper320_knn"``, ``"aota"``.
    maps_root : path
        Maps go to ``<maps_root>/<dataset>/<method>-<backbone>-<hash>/``.
    classes : list of str, optional
        Default: all classes of the dataset.
    max_images : int, optional
        Per class, a deterministic subset (:func:`select_entries`); default all.
    backbone, device : as in :func:`fca_utils.localize`.
    progress : bool
        Show a progress bar per class.
    **overrides : preset parameters (``patch_size``, ``sigma_p`` ...).

    Returns
    -------
    MethodRun
    """
    classes = list(dataset.classes if classes is None else classes)
    missing = [c for c in classes if c not in dataset.classes]
    if missing:
        raise ValueError(f"{dataset.name} has no class(es) {missing}; classes: {dataset.classes}")
    base = _as_preset(method)
    extractor, _ = features.resolve_backbone(backbone, device=device)
    maps_dir = Path(maps_root) / dataset.name / _method_key(base, extractor.name, overrides, _data_version(dataset))
    run = MethodRun(base.name, extractor.name, maps_dir)

    for cls in classes:
        entries = select_entries(dataset, cls, max_images)
        maps, masks, seconds = [], [], []
        for entry in progress_bar(entries, desc=f"{base.name} {cls}", unit="img", enabled=progress, leave=False):
            sample = dataset.load(entry)
            path = map_path(maps_dir, cls, entry.defect_type, entry.stem)
            if anomaly_map_is_valid(path, sample.mask.shape):
                scores = read_anomaly_map(path)
                run.reused += 1
            else:
                preset = configure(base, dataset, *sample.image.shape[:2], **overrides)
                result = localize(sample.image, preset=preset, backbone=extractor, device=device,
                                  precision="float32")  # the paper's arithmetic, the same on every CPU
                scores = metrics.upsample_to(result.scores, sample.mask.shape)
                write_anomaly_map(path, scores)
                seconds.append(result.meta["seconds"]["total"])
                run.computed += 1
            maps.append(scores)
            masks.append(sample.mask)
        border = dataset.protocol.border_for(*masks[0].shape)
        started = time.perf_counter()
        result = metrics.evaluate(maps, masks, border=border)
        result.update(images=len(maps), border=border, metric_seconds=time.perf_counter() - started)
        run.metrics[cls] = result
        run.seconds[cls] = seconds
    return run
