"""Eq. (1) end to end on one image: image -> features F -> statistic S against reference R -> map.

>>> from fca_utils import localize                         # doctest: +SKIP
>>> r = localize("my_texture.png", preset="paper")         # doctest: +SKIP
>>> r.scores.shape, r.image_score, r.meta["backbone"]      # doctest: +SKIP

The presets are those of :mod:`fca_utils.core.methods` (:data:`PRESETS`); the feature
extractor comes from :mod:`fca_utils.features`. :func:`localize_many` runs
:func:`localize` on files, folders and glob patterns with a progress bar, as
``fca-localize`` does.
"""
from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from . import features
from .core.images import ImageReadError, load_image, to_image_tensor
from .core.io import progress_bar
from .core.methods import PRESETS, Preset, preset_map
from .core.ops import clock, gaussian_blur, resize
from .core.padding import periodic_pad

__all__ = ["LocalizationResult", "localize", "padded_features", "PAD_MODES", "ImageOutcome",
           "IMAGE_SUFFIXES", "find_images", "localize_many"]

#: File name endings that :func:`find_images` takes for images when it walks a folder.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


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
    preset="own",
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
    weights=None,
    precision: str = "auto",
) -> LocalizationResult:
    """Zero-shot anomaly map of one texture image (Eq. (1) with the paper's choices).

    Parameters
    ----------
    image : path, PIL.Image, numpy (H, W) / (H, W, 3|4) uint8, uint16 or float in [0, 1],
        or torch (3, H, W) float in [0, 1]
    preset : "own" (default: "paper" with the image padded with its own texture before the backbone, so
        that the network's zero padding is not scored as a defect along the border), "paper"
        (full resolution, T=9, exactly as the authors run it), "paper320", "paper320_knn", "aota" or a Preset
    backbone : feature extractor name or object, or "auto" (WideResNet-50-2 if its
        ImageNet weights are available, else the offline EfficientNet-Lite0; ``meta`` says which)
    device : None (CPU) or a torch device such as "cuda"
    patch_size, sigma_p, sigma_s, statistic, reference, image_size : override the preset
    weights : path of WideResNet-50-2's ImageNet weights file from anywhere (torchvision's
        ``wide_resnet50_2-95faca4d.pth``, checked by its SHA-256); with ``backbone="auto"``
        or ``"wide_resnet50_2"`` only
    antialias : override the preset's resizing: False (every preset's default) is plain
        bilinear interpolation, as the authors' ``op_utils.py`` (``load_image_tensor``)
        resizes; True low-pass filters the image when shrinking it
    precision : the backbone's arithmetic (:mod:`fca_utils.features.precision`): "auto"
        (default) is bfloat16 for WideResNet-50-2 and EfficientNet-Lite0 on a CPU with
        native bfloat16 (``avx512_bf16`` or ``amx_bf16``), float32 otherwise; "float32"
        gives the paper's arithmetic on any CPU; "bfloat16" forces it (CPU only).
        ``meta["precision"]`` says which ran; the statistic gets float32 features either way.

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

    extractor, backbone_info = features.resolve_backbone(backbone, device=device, weights_file=weights)
    precision = features.resolve_precision(precision, extractor, device)
    _check_feature_size(extractor, preset, img.shape[-2:])
    t0 = tick()
    margin = preset.patch_size // 2 if preset.pad_mode == "periodic" else 0
    runner = features.Bfloat16Extractor(extractor) if precision == "bfloat16" else extractor
    feats = padded_features(runner, img, preset.pad, preset.pad_mode, margin=margin)
    seconds["features"] = tick() - t0

    t0 = tick()
    fmap = preset_map(feats, preset)
    h, w = extractor.output_size(*img.shape[-2:])
    kept = (feats.shape[-2] - h) // 2  # frame cells the statistic saw (padded_features' margin)
    fmap, feats = fmap[kept : kept + h, kept : kept + w], feats[:, kept : kept + h, kept : kept + w]
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
        "precision": precision,
        "feature_shape": tuple(feats.shape),
        "pad": _pad_pixels(preset.pad, extractor, img.shape[-2:], margin),
        "statistic_margin": kept,
        "seconds": seconds,
    }
    return LocalizationResult(scores_np, float(scores_np.max()), fmap.float().cpu().numpy(), meta)


def _pad_pixels(pad, extractor, size, margin: int = 0) -> int:
    """The padding actually applied for ``Preset.pad``: ``"auto"`` is half the extractor's
    receptive field plus ``margin`` feature cells (so that no output cell of the image, nor
    of the margin, sees the network's zero padding), a number is taken as given; either is
    rounded up to a multiple of :data:`ALIGN`, then down to stay below the smaller image
    side (reflection cannot reach further, and a circular frame wider than the image would
    repeat it). A multiple of :data:`ALIGN` keeps every stage's grid where it is on the unpadded image: a padding that is a
    multiple of the output stride only would shift the grids of the deeper, coarser
    stages (and the "same" padding of EfficientNet, which depends on each stage's size)
    against the output cells, so the cropped features would not be those of the image."""
    if pad == "auto":
        pad = (getattr(extractor, "receptive_field", None) or 1) // 2 + margin * extractor.stride
    pad = -(-int(pad) // ALIGN) * ALIGN
    return max(0, min(pad, (min(size) - 1) // ALIGN * ALIGN))


#: Images with more pixels than this go through the backbone in tiles (:func:`tiled_features`).
TILE_PIXELS = 2048 * 2048
#: Side of a tile's core in pixels (its margins come on top).
TILE_SIDE = 1024


#: Pixels that paddings and tiles are multiples of: a multiple of the stride of every
#: stage of the backbones here (32 at most).
ALIGN = 32
#: Values of ``Preset.pad_mode``: the texture's own period (:func:`fca_utils.core.padding.periodic_pad`),
#: and two modes of ``torch.nn.functional.pad``.
PAD_MODES = ("periodic", "circular", "reflect")


def padded_features(extractor, img: torch.Tensor, pad=0, mode: str = "reflect", margin: int = 0,
                    shifts: tuple[int, int] | None = None) -> torch.Tensor:
    """``(C, h, w)`` features of a ``(1, 3, H, W)`` image; with ``pad`` (``Preset.pad``),
    of the image padded in ``mode`` (:data:`PAD_MODES`, ``Preset.pad_mode``) by
    :func:`_pad_pixels` pixels, cropped back to the ``h x w`` cells of the image itself.
    Images above :data:`TILE_PIXELS` are computed in tiles (:func:`tiled_features`).

    With ``mode="circular"`` and a padding of at least half the receptive field, these
    are the features of the image tiled in every direction on the image's own cells;
    ``mode="periodic"`` tiles it with the texture's own period where it has one. There,
    when :func:`fca_utils.core.padding.periodic_pad` found a period along both axes (the
    frame continues the texture without a seam), ``margin`` cells of the frame are kept on
    every side, ``(C, h + 2 margin, w + 2 margin)``: the windows of the statistic at the
    image's edge then hold the texture's continuation instead of the statistic's own
    mirror of the features, which breaks a regular pattern as a mirror does (preset
    ``own``, ``Preset.pad_mode``). Otherwise, and in the other modes, no margin is kept;
    the caller reads it from the shape. ``shifts`` fixes the periodic frame's translations
    (``periodic_pad``'s argument of that name), to compare frames."""
    size = img.shape[-2:]
    pad = _pad_pixels(pad, extractor, size, margin if mode == "periodic" else 0)
    kept = 0
    if pad:
        if mode not in PAD_MODES:
            raise ValueError(f"unknown pad_mode {mode!r}; expected one of {list(PAD_MODES)}")
        if mode == "periodic":
            img, shifts = periodic_pad(img, pad, shifts=shifts)
            if shifts[0] < size[0] and shifts[1] < size[1]:
                kept = min(int(margin), pad // extractor.stride)
        else:
            img = torch.nn.functional.pad(img, (pad, pad, pad, pad), mode=mode)
    if img.shape[-2] * img.shape[-1] > TILE_PIXELS:
        feats = tiled_features(extractor, img)
    else:
        feats = extractor(img)[0]
    if not pad:
        return feats
    h, w = extractor.output_size(*size)
    cells = pad // extractor.stride - kept
    return feats[:, cells : cells + h + 2 * kept, cells : cells + w + 2 * kept]


def _tile_end(start: int, end: int, size: int, align: int) -> int:
    """``end`` moved on (within ``size``) until ``end - start`` equals ``size - start`` modulo ``align``."""
    end = min(end, size)
    return end + (size - end) % align


def tiled_features(extractor, img: torch.Tensor, tile: int = TILE_SIDE) -> torch.Tensor:
    """The ``(C, h, w)`` features of a ``(1, 3, H, W)`` image computed on overlapping tiles.

    Each tile is a ``tile x tile`` core (its last one shorter) plus, on every side that is
    inside the image, a margin of half the extractor's receptive field rounded up to 32
    pixels; only the core's feature cells are kept. Cores start at multiples of 32 pixels,
    a multiple of every stride of the backbones here, so each tile's cells sit on the
    whole image's grid, and every tile is as long as the image modulo 32, so that
    "same" padding (EfficientNet's, which pads by one on the left only at odd sizes)
    pads each stage of a tile as it pads the whole image's. A kept cell's receptive field
    lies in its tile, and where the tile ends at the image's edge the backbone zero-pads
    as it does for the whole image.
    The features are the untiled ones up to float rounding, and the peak memory is that
    of one tile's activations plus the ``(C, h, w)`` result. Written here because the
    backbones have no tiled mode.
    """
    align = ALIGN
    if extractor.receptive_field is None or extractor.stride > align or tile % align:
        return extractor(img)[0]  # no finite receptive field (FFT features): run whole
    margin = -(-(extractor.receptive_field // 2) // align) * align
    height, width = img.shape[-2:]
    h, w = extractor.output_size(height, width)
    out = None
    for y0 in range(0, height, tile):
        for x0 in range(0, width, tile):
            y1, x1 = min(y0 + tile, height), min(x0 + tile, width)
            top, left = max(0, y0 - margin), max(0, x0 - margin)
            bottom, right = _tile_end(top, y1 + margin, height, align), _tile_end(left, x1 + margin, width, align)
            part = extractor(img[..., top:bottom, left:right])[0]
            s = extractor.stride
            cy, cx = (y0 - top) // s, (x0 - left) // s
            ny, nx = -(-y1 // s) - y0 // s, -(-x1 // s) - x0 // s
            if out is None:
                out = part.new_empty((part.shape[0], h, w))
            out[:, y0 // s : y0 // s + ny, x0 // s : x0 // s + nx] = part[:, cy : cy + ny, cx : cx + nx]
    return out


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


@dataclass
class ImageOutcome:
    """One image of :func:`localize_many`: its ``path`` (None for an in-memory image), its
    position ``index`` in the input, and either ``result`` or the ``error`` that stopped it
    (:class:`~fca_utils.core.images.ImageReadError` for an unreadable file, ``ValueError``
    for an image :func:`localize` refuses, e.g. too small)."""

    index: int
    path: Path | None
    result: LocalizationResult | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def find_images(inputs, exclude=None) -> list[Path]:
    """The image files named by ``inputs``: files, folders and glob patterns, in that order, once each.

    A folder contributes every file below it (recursively, hidden files and folders
    skipped) whose name ends in one of :data:`IMAGE_SUFFIXES` (any case); a pattern
    (``*``, ``?``, ``[``; ``**`` recurses) contributes its matching files; a file is taken
    as it is, whatever its name (a missing one too: reading it reports it). Files below
    ``exclude`` (e.g. the output folder) are left out.

    Raises
    ------
    ValueError
        A pattern or folder that yields no image file.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    skip = Path(exclude).resolve() if exclude is not None else None
    found: dict[Path, None] = {}
    for item in inputs:
        item = str(item)
        if Path(item).is_dir():
            root = Path(item)
            files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                           and not any(part.startswith(".") for part in p.relative_to(root).parts))
            what = f"folder {item} holds no image file (expected names ending in {', '.join(IMAGE_SUFFIXES)})"
        elif glob.has_magic(item):
            files = sorted(Path(p) for p in glob.glob(item, recursive=True) if Path(p).is_file())
            what = f"no file matches the pattern {item!r}"
        else:
            files, what = [Path(item)], ""
        if skip is not None:
            files = [p for p in files if not p.resolve().is_relative_to(skip)]
        if not files:
            raise ValueError(what or f"no image in {item}")
        found.update(dict.fromkeys(files))
    return list(found)


def localize_many(
    images,
    preset="own",
    backbone: str = "auto",
    device=None,
    *,
    progress: bool = True,
    errors: str = "raise",
    **overrides,
) -> Iterator[ImageOutcome]:
    """:func:`localize` on many images, one at a time, with a progress bar; what ``fca-localize`` runs.

    Parameters
    ----------
    images : a folder, a file, a glob pattern, or a list of them (expanded by
        :func:`find_images`), or a list of in-memory images (anything :func:`localize` accepts)
    preset, backbone, device, **overrides : as :func:`localize`; the backbone is resolved
        once (``"auto"`` included) and used for every image
    progress : show a tqdm progress bar (on stderr; ``FCA_PROGRESS=0`` silences it, see :func:`fca_utils.core.io.progress_bar`)
    errors : ``"raise"``: the first unreadable or refused image raises its error;
        ``"collect"``: it is yielded as an :class:`ImageOutcome` with ``error`` set and the
        run goes on

    Yields
    ------
    ImageOutcome, in input order, as each image is done; ``outcome.result.meta["path"]`` is the file.

    >>> for out in localize_many("my_textures/", errors="collect"):   # doctest: +SKIP
    ...     print(out.path, out.result.image_score if out.ok else out.error)
    """
    if errors not in ("raise", "collect"):
        raise ValueError(f"errors must be 'raise' or 'collect', got {errors!r}")
    if isinstance(images, (str, os.PathLike)) or not isinstance(images, Iterable) or isinstance(
            images, (np.ndarray, torch.Tensor)):
        images = [images]
    images = list(images)
    if all(isinstance(i, (str, os.PathLike)) for i in images):
        images = find_images(images)
    extractor, info = features.resolve_backbone(backbone, device=device, weights_file=overrides.pop("weights", None))
    with progress_bar(total=len(images), enabled=progress, unit="image", desc="fca-localize") as bar:
        for index, image in enumerate(images):
            path = Path(image) if isinstance(image, (str, os.PathLike)) else None
            if path is not None:
                bar.set_postfix_str(path.name, refresh=False)
            try:
                result = localize(load_image(path) if path is not None else image, preset=preset,
                                  backbone=extractor, device=device, **overrides)
            except (ImageReadError, ValueError, TypeError) as err:
                if errors == "raise":
                    raise
                outcome = ImageOutcome(index, path, error=err)
            else:
                result.meta.update(backbone_info=info, path=path)
                outcome = ImageOutcome(index, path, result)
            bar.update(1)
            yield outcome
