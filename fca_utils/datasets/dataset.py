"""One interface to every dataset the notebooks use, and anomaly maps on disk.

>>> from fca_utils import datasets
>>> ds = datasets.open_dataset("embedded")            # doctest: +SKIP
>>> ds.classes                                        # doctest: +SKIP
['brick', 'grass', 'gravel', 'woven', 'marble', 'wood', 'tiles']
>>> for s in ds.samples("brick"):                     # doctest: +SKIP
...     s.image, s.mask, s.defect_type, s.path        # uint8 (H, W, 3), bool (H, W), str, Path

Datasets: ``"embedded"`` (generated on first use, no download), ``"mvtec"``, ``"wft"``,
``"dtd_synthetic"``, ``"aitex"`` (prepared once with ``python -m fca_utils.datasets
prepare NAME``; see ``data/README.md``), or the path of any folder in MVTec AD layout.
Each dataset carries the paper's evaluation :class:`~fca_utils.datasets.catalog.Protocol`
(resolution, FCA patch size ``T``, border crop).

Anomaly maps are float32 TIFFs in the layout MVTec AD's evaluation script reads,
``<out>/<class>/test/<defect>/<stem>.tiff`` (:func:`map_path`), written atomically so
an interrupted run can resume by skipping the maps that :func:`anomaly_map_is_valid`.

Command line::

    python -m fca_utils.datasets prepare NAME [--root DIR] [--source PATH] [--no-download]
    python -m fca_utils.datasets verify NAME [--root DIR]
    python -m fca_utils.datasets info NAME
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..core.io import atomic_path
from .catalog import DATASETS, Protocol, default_root
from .layout import (
    GOOD,
    DatasetLayoutError,
    Entry,
    check_sizes,
    read_image,
    read_mask,
    scan_class,
)

__all__ = [
    "NAMES", "Protocol", "Sample", "Dataset", "DatasetLayoutError", "DatasetNotFoundError", "AnomalyMapError",
    "protocol", "open_dataset", "verify", "map_path", "write_anomaly_map", "read_anomaly_map",
    "anomaly_map_is_valid",
]

NAMES: tuple[str, ...] = tuple(DATASETS)
_GENERIC = Protocol(None, None, 0.1, "paper", "any MVTec-layout folder: full resolution, T from the feature size, "
                                              "border 10 % of the side")


class DatasetNotFoundError(FileNotFoundError):
    """A dataset has not been downloaded and prepared yet."""


class AnomalyMapError(ValueError):
    """An anomaly map file is missing, truncated, or not a 2-D float32 TIFF."""


@dataclass(frozen=True)
class Sample:
    """One test image.

    Attributes
    ----------
    image : numpy.ndarray
        uint8 ``(H, W, 3)``.
    mask : numpy.ndarray
        bool ``(H, W)``, all False for defect-free ("good") images.
    defect_type : str
    path : pathlib.Path
        The image file.
    cls : str
        Class name.
    """

    image: np.ndarray
    mask: np.ndarray
    defect_type: str
    path: Path
    cls: str

    @property
    def stem(self) -> str:
        return self.path.stem


class Dataset:
    """Test images of an MVTec-layout dataset, with the paper's evaluation protocol.

    Use :func:`open_dataset` to make one.

    Attributes
    ----------
    name : str
    root : pathlib.Path
    classes : list of str
    protocol : Protocol
    """

    def __init__(self, name: str, root: Path, protocol: Protocol, entries: dict[str, list[Entry]]):
        self.name = name
        self.root = Path(root)
        self.protocol = protocol
        self.classes = list(entries)
        self._entries = entries

    def entries(self, cls: str, defect_type: str | None = None) -> list[Entry]:
        """Test image entries of a class (image and mask paths, not loaded), optionally of one defect type."""
        if cls not in self._entries:
            raise KeyError(f"{self.name} has no class {cls!r}; classes: {self.classes}")
        entries = self._entries[cls]
        return [e for e in entries if e.defect_type == defect_type] if defect_type else list(entries)

    def defect_types(self, cls: str) -> list[str]:
        """Defect types of a class, ``"good"`` included, sorted."""
        return sorted({e.defect_type for e in self.entries(cls)})

    def count(self, cls: str, defect_type: str | None = None) -> int:
        """Number of test images of a class (of one defect type)."""
        return len(self.entries(cls, defect_type))

    def load(self, entry: Entry) -> Sample:
        """Read one entry's image and mask."""
        image = read_image(entry.image_path)
        if entry.mask_path is None:
            mask = np.zeros(image.shape[:2], bool)
        else:
            mask = read_mask(entry.mask_path)
            if mask.shape != image.shape[:2]:
                raise DatasetLayoutError(f"wrong mask size: {entry.mask_path} is {mask.shape[1]}x{mask.shape[0]}, "
                                         f"its image is {image.shape[1]}x{image.shape[0]}")
        return Sample(image, mask, entry.defect_type, entry.image_path, entry.cls)

    def samples(self, cls: str, defect_type: str | None = None) -> Iterator[Sample]:
        """Load the test images of a class one by one, sorted by defect type and name."""
        for entry in self.entries(cls, defect_type):
            yield self.load(entry)

    def __len__(self) -> int:
        return sum(len(e) for e in self._entries.values())

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, root={str(self.root)!r}, classes={self.classes}, images={len(self)})"


def protocol(name: str, preset: str | None = None) -> Protocol:
    """The evaluation protocol of dataset ``name``; ``preset`` picks a variant (e.g. ``"paper320"``)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {list(NAMES)}")
    protocols = DATASETS[name]["protocols"]
    key = preset or "paper"
    if key not in protocols:
        raise ValueError(f"dataset {name!r} has no protocol {key!r}; available: {sorted(protocols)}")
    return protocols[key]


def _class_names(name: str) -> list[str]:
    if name == "embedded":
        from .synthetic import CLASS_NAMES

        return list(CLASS_NAMES)
    return list(DATASETS[name]["classes"])


def verify(name: str, root: str | os.PathLike | None = None) -> dict[str, list[Entry]]:
    """Check a dataset folder against what a complete copy contains; return its entries per class.

    Checks every class folder, that every defective image has its mask, that there is
    nothing unexpected, image sizes, and (where the dataset's paper gives them) the
    defect types and image counts.

    Raises
    ------
    DatasetLayoutError
        Naming the first missing or unexpected file or folder, or wrong size or count.
    """
    root = Path(root) if root is not None else default_root(name)
    specs = DATASETS[name]["classes"] or {}
    entries = {}
    for cls in _class_names(name):
        found = scan_class(root, cls)
        spec = specs.get(cls, {})
        check_sizes(found, spec.get("size"))
        types = sorted({e.defect_type for e in found} - {GOOD})
        if spec.get("defects"):
            for defect in spec["defects"]:
                if defect not in types:
                    raise DatasetLayoutError(f"missing defect folder: {root / cls / 'test' / defect}")
            for defect in types:
                if defect not in spec["defects"]:
                    raise DatasetLayoutError(f"unexpected defect folder: {root / cls / 'test' / defect} "
                                             f"(expected {spec['defects']} and good)")
        for key, label, n in (("test_count", "test images", len(found)),
                              ("defective_count", "defective test images",
                               sum(e.defect_type != GOOD for e in found))):
            if key in spec and n != spec[key]:
                raise DatasetLayoutError(f"{root / cls / 'test'} has {n} {label}, expected {spec[key]} "
                                         f"({DATASETS[name]['citation']}): the copy is incomplete or different")
        entries[cls] = found
    return entries


def open_dataset(name: str | os.PathLike, root: str | os.PathLike | None = None, *,
                 preset: str | None = None, generate: bool = True) -> Dataset:
    """Open a dataset by name, or any folder in MVTec AD layout by path.

    Parameters
    ----------
    name : str or path
        ``"embedded"``, ``"mvtec"``, ``"wft"``, ``"dtd_synthetic"``, ``"aitex"``, or a folder.
    root : path, optional
        Where the dataset is; default ``data/embedded`` or ``data/datasets/<name>``.
    preset : str, optional
        Protocol variant, e.g. ``"paper320"`` for MVTec AD or WFT at 320 x 320.
    generate : bool
        Generate the embedded benchmark if it is missing or out of date.

    Raises
    ------
    DatasetNotFoundError
        The dataset is not there; the message says how to prepare it.
    DatasetLayoutError
        The folder is incomplete or has unexpected content (see :func:`verify`).
    """
    if str(name) not in DATASETS:
        path = Path(name)
        if not path.is_dir():
            raise ValueError(f"unknown dataset {str(name)!r}: expected one of {list(NAMES)} or a folder in "
                             f"MVTec AD layout")
        classes = sorted(p.name for p in path.iterdir() if (p / "test").is_dir() and not p.name.startswith("."))
        if not classes:
            raise DatasetLayoutError(f"no class folders with a test/ folder in {path}")
        entries = {cls: scan_class(path, cls) for cls in classes}
        for found in entries.values():
            check_sizes(found)
        return Dataset(path.name, path, _GENERIC, entries)
    name = str(name)
    root = Path(root) if root is not None else default_root(name)
    if name == "embedded" and generate:
        from .synthetic import generate_benchmark

        generate_benchmark(root)
    if not root.is_dir():
        raise DatasetNotFoundError(f"{name} is not at {root}; prepare it with:\n"
                                   f"    python -m fca_utils.datasets prepare {name} --root {root}\n"
                                   f"(see data/README.md)")
    return Dataset(name, root, protocol(name, preset), verify(name, root))


def map_path(out_dir: str | os.PathLike, cls: str, defect_type: str, stem: str) -> Path:
    """``<out_dir>/<cls>/test/<defect_type>/<stem>.tiff``, where MVTec AD's evaluation looks for a map."""
    return Path(out_dir) / cls / "test" / defect_type / f"{stem}.tiff"


def write_anomaly_map(path: str | os.PathLike, array) -> Path:
    """Write a 2-D anomaly map as a float32 TIFF, via a temporary file renamed into place."""
    import tifffile

    array = np.asarray(array)
    if array.ndim != 2:
        raise ValueError(f"an anomaly map must be 2-D (H, W), got shape {array.shape}")
    path = Path(path)
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, array.astype(np.float32))
    return path


def read_anomaly_map(path: str | os.PathLike) -> np.ndarray:
    """Read a float32 ``(H, W)`` anomaly map.

    Raises
    ------
    AnomalyMapError
        The file is missing, truncated or corrupt, or not a 2-D float32 image.
    """
    import tifffile

    path = Path(path)
    if not path.is_file():
        raise AnomalyMapError(f"missing anomaly map: {path}")
    try:
        array = tifffile.imread(path)
    except Exception as err:  # tifffile raises several types for truncated or corrupt files
        raise AnomalyMapError(f"corrupt or partial anomaly map: {path} ({type(err).__name__}: {err})") from err
    if array.ndim != 2 or array.dtype != np.float32:
        raise AnomalyMapError(f"not a 2-D float32 anomaly map: {path} ({array.dtype} {array.shape})")
    return array


def anomaly_map_is_valid(path: str | os.PathLike, expected_shape: tuple[int, int] | None = None) -> bool:
    """Whether ``path`` holds a complete, finite float32 map (of ``expected_shape`` if given)."""
    try:
        array = read_anomaly_map(path)
    except AnomalyMapError:
        return False
    if expected_shape is not None and array.shape != tuple(expected_shape):
        return False
    return bool(np.isfinite(array).all())
