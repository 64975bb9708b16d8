"""Eq. (1) end to end on one image: image -> features F -> statistic S against reference R -> map.

>>> from fca_utils import localize                         # doctest: +SKIP
>>> r = localize("my_texture.png", preset="paper")         # doctest: +SKIP
>>> r.scores.shape, r.image_score, r.meta["backbone"]      # doctest: +SKIP

The presets are those of :mod:`fca_utils.core.methods` (:data:`PRESETS`); the feature
extractor comes from :mod:`fca_utils.features`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch

from . import features
from .core.images import to_image_tensor
from .core.methods import PRESETS, Preset, preset_map
from .core.ops import clock, gaussian_blur, resize

__all__ = ["LocalizationResult", "localize"]


@dataclass
class LocalizationResult:
    """What :func:`localize` returns.

    Attributes
    ----------
    scores : (H, W) float32 numpy array at the input image's resolution.
    image_score : max of ``scores`` (image-level anomaly score, section 4.2).
    feature_scores : (h, w) float32 numpy array at feature resolution.
    meta : backbone, preset, params, device, seconds (per stage and total).
    """

    scores: np.ndarray
    image_score: float
    feature_scores: np.ndarray
    meta: dict = field(default_factory=dict)


def _resolve_preset(preset, overrides: dict) -> Preset:
    if isinstance(preset, Preset):
        base = preset
    elif preset in PRESETS:
        base = PRESETS[preset]
    else:
        raise ValueError(f"unknown preset {preset!r}; expected one of {sorted(PRESETS)} or a Preset")
    overrides = {k: v for k, v in overrides.items() if v is not None}
    return replace(base, **overrides) if overrides else base


def localize(
    image,
    preset="paper",
    backbone: str = "auto",
    device=None,
    *,
    patch_size: int | None = None,
    sigma_p: float | None = None,
    sigma_s: float | None = None,
    statistic: str | None = None,
    reference: str | None = None,
    image_size: int | None = None,
    antialias: bool | None = None,
) -> LocalizationResult:
    """Zero-shot anomaly map of one texture image (Eq. (1) with the paper's choices).

    Parameters
    ----------
    image : path, PIL.Image, numpy (H, W) / (H, W, 3|4) uint8, uint16 or float in [0, 1],
        or torch (3, H, W) float in [0, 1]
    preset : "paper" (full resolution, T=9), "paper320", "paper320_knn", "aota" or a Preset
    backbone : feature extractor name or object, or "auto" (WideResNet-50-2 if its
        ImageNet weights are available, else the offline EfficientNet-Lite0; ``meta`` says which)
    device : None (CPU) or a torch device such as "cuda"
    patch_size, sigma_p, sigma_s, statistic, reference, image_size : override the preset
    antialias : override the preset's resizing: False (every preset's default) is plain
        bilinear interpolation, as the authors' ``op_utils.py`` (``load_image_tensor``)
        resizes; True low-pass filters the image when shrinking it

    Returns
    -------
    LocalizationResult with ``scores`` at the input resolution.
    """
    preset = _resolve_preset(
        preset,
        dict(patch_size=patch_size, sigma_p=sigma_p, sigma_s=sigma_s, statistic=statistic,
             reference=reference, image_size=image_size, antialias=antialias),
    )
    device = torch.device(device) if device is not None else torch.device("cpu")
    seconds: dict[str, float] = {}
    tick = clock(device)
    start = tick()

    img = to_image_tensor(image).to(device)
    height, width = img.shape[-2:]
    if preset.image_size is not None:
        img = resize(img, preset.image_size, antialias=preset.antialias).clamp(0, 1)

    extractor, backbone_info = features.resolve_backbone(backbone, device=device)
    _check_feature_size(extractor, preset, img.shape[-2:])
    t0 = tick()
    feats = extractor(img)[0]
    seconds["features"] = tick() - t0

    t0 = tick()
    fmap = preset_map(feats, preset)
    seconds["statistic"] = tick() - t0

    work_size = img.shape[-2:]
    scores = resize(fmap.float(), work_size)
    if preset.output_blur:
        scores = gaussian_blur(scores, int(6 * preset.output_blur) | 1, preset.output_blur)
    scores_np = resize(scores, (height, width)).cpu().numpy().astype(np.float32)
    seconds["total"] = tick() - start
    meta = {
        "backbone": extractor.name,
        "backbone_info": backbone_info,
        "preset": preset.name,
        "params": preset.params(),
        "device": str(device),
        "feature_shape": tuple(feats.shape),
        "seconds": seconds,
    }
    return LocalizationResult(scores_np, float(scores_np.max()), fmap.float().cpu().numpy(), meta)


def _check_feature_size(extractor, preset: Preset, size) -> None:
    """Refuse images whose feature map would be smaller than the patch, before any work."""
    h, w = extractor.output_size(*size)
    t = preset.patch_size
    if min(h, w) < t:
        need = t * extractor.stride
        raise ValueError(
            f"image too small: at {size[0]}x{size[1]} pixels the {extractor.name} features are {h}x{w}, "
            f"smaller than the {t}x{t} patch of preset {preset.name!r}; use an image of at least "
            f"{need}x{need} pixels or a smaller patch_size"
        )
