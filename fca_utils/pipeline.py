"""Eq. (1) end to end: image -> features F -> statistic S against reference R -> anomaly map.

>>> from fca_utils import localize                         # doctest: +SKIP
>>> r = localize("my_texture.png", preset="paper")         # doctest: +SKIP
>>> r.scores.shape, r.image_score, r.meta["backbone"]      # doctest: +SKIP

Presets (paper, sections 3.4 and 4.3):

============== ================ === ========= ===================================
preset          image size       T   reference statistic
============== ================ === ========= ===================================
paper           full resolution  9   median    FCA (sigma_p=3, sigma_s=1)
paper320        320 x 320        3   median    FCA
paper320_knn    320 x 320        3   k-NN      FCA
aota            320 x 320        3   k-NN      local mean (Aota et al.)
============== ================ === ========= ===================================
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from . import baselines, features, reference, statistics
from .ops import gaussian_blur

__all__ = ["Preset", "PRESETS", "LocalizationResult", "localize", "load_image", "to_image_tensor", "run_statistic"]


@dataclass(frozen=True)
class Preset:
    """A full configuration of the framework of Eq. (1)."""

    name: str
    image_size: int | None  # None: run at the input's own resolution
    patch_size: int
    statistic: str = "fca"  # fca | sww | histogram | moments | aota
    reference: str = "median"  # median | mean | knn | random
    sigma_p: float = 3.0
    sigma_s: float | None = 1.0
    knn_k: int = 10
    knn_method: str = "auto"  # exact | approx | auto (exact while affordable, see _make_reference)
    random_k: int = 1
    aota_k: int = 400
    output_blur: float | None = None  # sigma (pixels) of a final blur at image_size, as in Aota et al.

    def params(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "name"}


PRESETS: dict[str, Preset] = {
    "paper": Preset("paper", None, 9),
    "paper320": Preset("paper320", 320, 3),
    "paper320_knn": Preset("paper320_knn", 320, 3, reference="knn"),
    "aota": Preset("aota", 320, 3, statistic="aota", reference="knn", output_blur=4.0),
}


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


def load_image(path) -> np.ndarray:
    """Read an image file into a numpy array (8-bit, 16-bit, gray, RGB or RGBA)."""
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    with Image.open(path) as im:
        return _pil_to_numpy(im)


def _pil_to_numpy(im) -> np.ndarray:
    """PIL image -> numpy; 16-bit gray stays uint16, other modes become L, LA, RGB or RGBA."""
    if im.mode.startswith("I"):  # 16/32-bit integer gray (16-bit PNGs open as "I" or "I;16")
        arr = np.array(im)
        if arr.min() < 0 or arr.max() > 65535:
            raise ValueError(f"integer image values outside 0..65535 (mode {im.mode})")
        return arr.astype(np.uint16)
    if im.mode not in ("L", "LA", "RGB", "RGBA"):
        im = im.convert("RGB")
    return np.array(im)


def to_image_tensor(image) -> torch.Tensor:
    """Convert any accepted image to a float32 ``(1, 3, H, W)`` tensor in [0, 1].

    Accepts a path, a PIL image, a numpy array ``(H, W)``, ``(H, W, 1|3|4)`` of
    uint8 / uint16 / float in [0, 1], or a torch tensor ``(3, H, W)``, ``(1, 3, H, W)``
    or ``(H, W)`` of floats in [0, 1]. Gray images are repeated to 3 channels;
    an alpha channel is dropped.
    """
    if isinstance(image, (str, Path)):
        image = load_image(image)
    if not isinstance(image, (np.ndarray, torch.Tensor)):
        from PIL import Image

        if isinstance(image, Image.Image):
            image = _pil_to_numpy(image)
        else:
            raise TypeError(
                f"image must be a path, PIL.Image, numpy array or torch tensor, got {type(image).__name__}"
            )
    if isinstance(image, torch.Tensor):
        return _tensor_to_batch(image)
    return _numpy_to_batch(image)


def _numpy_to_batch(arr: np.ndarray) -> torch.Tensor:
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"numpy image must be (H, W) or (H, W, 1|3|4), got shape {arr.shape}")
    if arr.shape[2] in (2, 4):  # gray+alpha or RGBA: drop alpha
        arr = arr[:, :, :-1]
    if arr.dtype == np.uint8:
        data = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        data = arr.astype(np.float32) / 65535.0
    elif arr.dtype == bool:
        data = arr.astype(np.float32)
    elif np.issubdtype(arr.dtype, np.floating):
        data = arr.astype(np.float32)
        if not np.isfinite(data).all():
            raise ValueError("image contains NaN or infinite values")
        if data.min() < 0 or data.max() > 1:
            raise ValueError(
                f"float images must lie in [0, 1], got values in [{data.min():.3g}, {data.max():.3g}]; "
                f"divide by 255 (8-bit) or 65535 (16-bit) first"
            )
    else:
        raise ValueError(f"unsupported image dtype {arr.dtype}; expected uint8, uint16 or float in [0, 1]")
    t = torch.from_numpy(np.ascontiguousarray(data)).permute(2, 0, 1)
    return _gray_to_rgb(t)[None]


def _tensor_to_batch(t: torch.Tensor) -> torch.Tensor:
    if t.dim() == 2:
        t = t[None]
    if t.dim() == 4:
        if t.shape[0] != 1:
            raise ValueError(f"torch image batch must have size 1, got {tuple(t.shape)}")
        t = t[0]
    if t.dim() != 3 or t.shape[0] not in (1, 3, 4):
        raise ValueError(f"torch image must be (3, H, W), (1, 3, H, W) or (H, W), got {tuple(t.shape)}")
    if not t.is_floating_point():
        raise ValueError(f"torch images must be float in [0, 1], got dtype {t.dtype}")
    if t.shape[0] == 4:
        t = t[:3]
    t = t.float()
    if not torch.isfinite(t).all():
        raise ValueError("image contains NaN or infinite values")
    if t.min() < 0 or t.max() > 1:
        raise ValueError(f"torch images must lie in [0, 1], got [{t.min():.3g}, {t.max():.3g}]")
    return _gray_to_rgb(t)[None]


def _gray_to_rgb(t: torch.Tensor) -> torch.Tensor:
    return t.expand(3, -1, -1).contiguous() if t.shape[0] == 1 else t


def run_statistic(feats: torch.Tensor, preset: Preset) -> torch.Tensor:
    """Apply the preset's statistic S with its reference R to a (C, h, w) feature map."""
    t = preset.patch_size
    if preset.statistic == "aota":
        return baselines.aota(feats, t, k=min(preset.aota_k, feats.shape[1] * feats.shape[2]))
    ref = _make_reference(feats, preset)
    if preset.statistic == "fca":
        return statistics.fca(feats, t, preset.sigma_p, preset.sigma_s, reference=ref)
    if preset.statistic == "sww":
        return statistics.sww(feats, t, preset.sigma_p, reference=ref)
    if preset.statistic == "histogram":
        return statistics.histogram(feats, t, sigma=preset.sigma_p, reference=ref)
    if preset.statistic == "moments":
        return statistics.moments(feats, t, sigma=preset.sigma_p, reference=ref)
    raise ValueError(f"unknown statistic {preset.statistic!r}; expected fca, sww, histogram, moments or aota")


def _make_reference(feats: torch.Tensor, preset: Preset):
    """The reference R of the preset for a (C, h, w) feature map.

    ``reference="knn"`` searches the ``knn_k`` nearest windows with
    ``method=preset.knn_method``. With ``"auto"`` (the default) the search is exact
    while its cost ``(h w)^2 C T^2`` is at most ``reference.KNN_EXACT_BUDGET``
    (``paper320_knn``: 40 x 40 windows with T = 3, exact) and approximate beyond
    (:func:`fca_utils.reference.knn_approx`, e.g. 128 x 128 with T = 9 for a 1024^2
    image with preset ``paper``); ``reference.knn_method(feats.shape, T, "auto")``
    tells which, and the returned NearestReference's ``method`` says which ran.
    """
    kind, t = preset.reference, preset.patch_size
    if kind == "median":
        return None if preset.statistic in ("fca", "sww", "histogram", "moments") else reference.median(feats, t)
    if kind == "mean":
        return reference.mean(feats, t)
    if kind == "knn":
        return reference.knn(feats, t, k=preset.knn_k, method=preset.knn_method)
    if kind == "random":
        return reference.random(feats, t, k=preset.random_k)
    raise ValueError(f"unknown reference {kind!r}; expected median, mean, knn or random")


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

    Returns
    -------
    LocalizationResult with ``scores`` at the input resolution.
    """
    preset = _resolve_preset(
        preset,
        dict(patch_size=patch_size, sigma_p=sigma_p, sigma_s=sigma_s, statistic=statistic,
             reference=reference, image_size=image_size),
    )
    device = torch.device(device) if device is not None else torch.device("cpu")
    seconds: dict[str, float] = {}
    start = time.perf_counter()

    img = to_image_tensor(image).to(device)
    height, width = img.shape[-2:]
    if preset.image_size is not None:
        img = F.interpolate(img, size=(preset.image_size, preset.image_size), mode="bilinear",
                            align_corners=False, antialias=True).clamp(0, 1)

    extractor, backbone_info = features.resolve_backbone(backbone, device=device)
    _check_feature_size(extractor, preset, img.shape[-2:])
    t0 = time.perf_counter()
    feats = extractor(img)[0]
    seconds["features"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    fmap = run_statistic(feats, preset)
    seconds["statistic"] = time.perf_counter() - t0

    work_size = img.shape[-2:]
    scores = F.interpolate(fmap[None, None].float(), size=work_size, mode="bilinear", align_corners=False)
    if preset.output_blur:
        scores = gaussian_blur(scores, int(6 * preset.output_blur) | 1, preset.output_blur)
    if tuple(work_size) != (height, width):
        scores = F.interpolate(scores, size=(height, width), mode="bilinear", align_corners=False)
    scores_np = scores[0, 0].cpu().numpy().astype(np.float32)
    seconds["total"] = time.perf_counter() - start
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
