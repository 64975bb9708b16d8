"""F of Eq. (1): feature extractors, hand-crafted and neural, and their weights.

Modules: :mod:`.base` (the :class:`Extractor` interface and its input checks),
:mod:`.fusion` (batch norms folded into convolutions, a CPU default of the networks),
:mod:`.precision` (bfloat16 on CPUs that have it, ``localize``'s default there),
:mod:`.handcrafted` (colors, random projections, the steerable pyramid, Laws' TEM of
section 3.1 and Table 1 as the authors configure them, and our earlier readings
``steerable_g2h2`` and ``tem_energy``), :mod:`.neural` (VGG19, WideResNet-50-2 of section 3.4, their
random-init counterparts of Table 7, the offline EfficientNet-Lite0), :mod:`.weights`
(torchvision's ImageNet weight files and the offline rule), :mod:`.cache`
(:class:`CachedExtractor`) and :mod:`.registry` (extractors by name, the choice of the
backbone).

>>> from fca_utils import features
>>> ex = features.get_extractor("colors")
>>> ex.channels, ex.stride
(3, 1)
"""
from . import weights
from .base import Extractor
from .cache import CachedExtractor
from .handcrafted import (
                     Colors,
                     LawsTEM,
                     LawsTextureEnergy,
                     RandomProjections,
                     SteerableFilters,
                     SteerablePyramid,
                     laws_masks,
                     steerable_filter,
)
from .neural import (
                     EfficientNetLite0,
                     RandomEfficientNetLite0,
                     RandomWideResNet50Layer2,
                     VGG19FirstConvs,
                     WideResNet50Layer2,
                     load_efficientnet_lite0,
)
from .registry import (
                     available_extractors,
                     clear_cache,
                     get_extractor,
                     needs_download,
                     random_counterpart,
                     resolve_backbone,
)
from .precision import PRECISIONS, Bfloat16Extractor, cpu_has_bfloat16, resolve_precision
from .weights import MissingWeightsError, weights_path

__all__ = [
    "MissingWeightsError", "needs_download", "Extractor", "Colors", "RandomProjections", "SteerablePyramid",
    "SteerableFilters", "LawsTEM", "LawsTextureEnergy", "VGG19FirstConvs", "WideResNet50Layer2",
    "RandomWideResNet50Layer2", "EfficientNetLite0",
    "RandomEfficientNetLite0", "CachedExtractor", "steerable_filter", "laws_masks", "load_efficientnet_lite0",
    "get_extractor", "available_extractors", "resolve_backbone", "random_counterpart", "weights_path",
    "clear_cache", "weights", "PRECISIONS", "Bfloat16Extractor", "cpu_has_bfloat16", "resolve_precision",
]
