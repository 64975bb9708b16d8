"""Data: datasets in MVTec AD layout, the dataset catalogue, and the embedded benchmark.

>>> from fca_utils import datasets
>>> ds = datasets.open_dataset("embedded")            # doctest: +SKIP

Modules: :mod:`.catalog` (the paper's datasets and their evaluation protocols),
:mod:`.layout` (reading and writing the MVTec AD folder layout), :mod:`.dataset`
(:func:`open_dataset`, anomaly maps on disk), :mod:`.prepare` and :mod:`.download`
(getting the paper's datasets: downloading, checking and unpacking their archives), :mod:`.aitex` (cutting Aitex into squares), and the
embedded benchmark: :mod:`.textures`, :mod:`.defects`, :mod:`.synthetic`.

Command line: ``python -m fca_utils.datasets prepare|verify|info NAME``.
"""
from .catalog import DATASETS, Protocol, default_root
from .dataset import (
                      NAMES,
                      AnomalyMapError,
                      Dataset,
                      DatasetNotFoundError,
                      Sample,
                      anomaly_map_is_valid,
                      map_path,
                      open_dataset,
                      protocol,
                      read_anomaly_map,
                      verify,
                      write_anomaly_map,
)
from .layout import DatasetLayoutError, Entry

__all__ = [
    "NAMES", "DATASETS", "Protocol", "Sample", "Dataset", "Entry", "DatasetLayoutError", "DatasetNotFoundError",
    "AnomalyMapError", "protocol", "open_dataset", "verify", "default_root", "map_path", "write_anomaly_map",
    "read_anomaly_map", "anomaly_map_is_valid",
]
