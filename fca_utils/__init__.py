"""fca_utils: the framework of Ardelean & Weyrich, "High-Fidelity Zero-Shot Texture
Anomaly Localization Using Feature Correspondence Analysis" (WACV 2024).

Eq. (1): ``A(x, y; F, S, R) = sum_{F_r in R(F(I))} S(x, y, F(I), F_r)``

Layers (each a subpackage; imports point down this list only):

- :mod:`fca_utils.core`: S, the patch statistics (:mod:`~fca_utils.core.statistics`,
  Eqs. (2)-(5)), R, the references (:mod:`~fca_utils.core.reference`, Eq. (7)), their
  numba kernels, the baseline of Aota et al., presets;
- :mod:`fca_utils.features`: F, hand-crafted and neural feature extractors;
- :mod:`fca_utils.pipeline`: :func:`localize`, F then S against R on one image;
  :func:`localize_many`, on files, folders and globs (what ``fca-localize`` runs);
- :mod:`fca_utils.datasets`: datasets in MVTec AD layout, the embedded benchmark;
- :mod:`fca_utils.evaluation`: metrics, dataset runs with cached maps, tables, pictures;
- :mod:`fca_utils.paper`: the paper's experiments, as the notebooks call them;
- :mod:`fca_utils.cli`: ``fca-localize`` and ``python -m fca_utils.reproduce``.

The public API is re-exported here: ``localize``, ``localize_many``, ``statistics``, ``reference``,
``features``, ``metrics``, ``baselines``, ``datasets``.
"""
from . import datasets, features
from .core import baselines, ops, reference, statistics
from .core.methods import PRESETS, Preset
from .evaluation import metrics
from .core.images import ImageReadError
from .pipeline import ImageOutcome, LocalizationResult, find_images, localize, localize_many

__version__ = "0.1.0"

__all__ = [
    "localize",
    "localize_many",
    "find_images",
    "ImageOutcome",
    "ImageReadError",
    "LocalizationResult",
    "Preset",
    "PRESETS",
    "features",
    "statistics",
    "reference",
    "metrics",
    "baselines",
    "datasets",
    "ops",
]
