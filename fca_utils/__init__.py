"""fca_utils: the framework of Ardelean & Weyrich, "High-Fidelity Zero-Shot Texture
Anomaly Localization Using Feature Correspondence Analysis" (WACV 2024).

Eq. (1): ``A(x, y; F, S, R) = sum_{F_r in R(F(I))} S(x, y, F(I), F_r)``

- F, feature extraction: :mod:`fca_utils.features`
- S, patch statistics comparison: :mod:`fca_utils.statistics` (moments, histogram, SWW, FCA)
- R, reference selection: :mod:`fca_utils.reference` (median, mean, random, all, k-NN)
- baseline of Aota et al.: :mod:`fca_utils.baselines`
- composition: :func:`fca_utils.localize`
- evaluation: :mod:`fca_utils.metrics`
"""
from . import baselines, features, metrics, ops, reference, statistics
from .pipeline import PRESETS, LocalizationResult, Preset, localize

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
]
