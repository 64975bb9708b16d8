"""fca_utils: the framework of Ardelean & Weyrich, "High-Fidelity Zero-Shot Texture
Anomaly Localization Using Feature Correspondence Analysis" (WACV 2024).

Eq. (1): ``A(x, y; F, S, R) = sum_{F_r in R(F(I))} S(x, y, F(I), F_r)``

- F, feature extraction: :mod:`fca_utils.features`
- S, patch statistics comparison: :mod:`fca_utils.statistics` (moments, histogram, SWW, FCA)
- R, reference selection: :mod:`fca_utils.reference` (median, mean, random, all, k-NN)
- baseline of Aota et al.: :mod:`fca_utils.baselines`
- composition: :func:`fca_utils.localize`
- evaluation: :mod:`fca_utils.metrics`; dataset runs with cached maps: :mod:`fca_utils.evaluate`
- data: :mod:`fca_utils.datasets` (embedded benchmark, paper's datasets), :mod:`fca_utils.synthetic`
- notebooks: :mod:`fca_utils.report` (parameters, saved tables and figures),
  :mod:`fca_utils.tables` with the paper's numbers in :mod:`fca_utils.paper_numbers`,
  :mod:`fca_utils.viz`
"""
import importlib

from . import baselines, features, metrics, ops, reference, statistics
from .pipeline import PRESETS, LocalizationResult, Preset, localize

# Imported on first use: these are also run as ``python -m fca_utils.<name>``, and an
# eager import here would load them twice (runpy's RuntimeWarning).
_LAZY = ("datasets", "evaluate", "paper_numbers", "report", "synthetic", "tables", "viz")


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'fca_utils' has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = [
    "localize",
    "LocalizationResult",
    "Preset",
    "PRESETS",
    "features",
    "statistics",
    "reference",
    "metrics",
    "baselines",
    "ops",
    *_LAZY,
]
