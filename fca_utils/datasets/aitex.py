"""Aitex (AFID) fabric images prepared as in the paper (Sec. 4.1).

Raw layout (AITEX's archives, extracted)::

    Defect_images/nnnn_ddd_ff.png          4096 x 256 gray; nnnn image, ddd defect, ff fabric code
    Mask_images/nnnn_ddd_ff_mask.png       white defect on black; a few images have _mask1, _mask2
    NODefect_images/<roll>/nnnn_000_ff.png optional, unused: the paper keeps only frames with an anomaly

Preparation, following the paper ("we split the images into square pieces ... discard
all frames that are not completely covered by the texture and images that do not
contain any anomaly ... resize the images to 320 x 320"):

1. cut each image into 256 x 256 frames from the left (16 per 4096-wide image; a
   narrower image's last partial frame is dropped);
2. drop a frame not fully covered by fabric. Rule: a column of a frame is *uncovered*
   when 90 % of its pixels are near-black (<= ``DARK_MAX``, no fabric under the
   camera) or 90 % are near-white (>= ``BRIGHT_MIN``, padding); a frame is kept only
   if at most ``MAX_UNCOVERED_COLUMNS`` of its 256 columns are uncovered (a thin dark
   defect line must not drop its frame);
3. drop a frame whose mask (union of the image's masks, pixels > 127) is empty;
4. resize to 320 x 320, bilinear for images, nearest for masks;
5. write MVTec layout: class ``t_ff`` (fabric ff, as in the paper's Table 6), defect
   folder named after the AFID defect code, stem ``nnnn_kk`` (kk = frame index).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

from .layout import DatasetLayoutError, write_image, write_mask

__all__ = [
    "FRAME", "OUT_SIZE", "FABRICS", "DARK_MAX", "BRIGHT_MIN", "MAX_UNCOVERED_COLUMNS", "DEFECT_NAMES",
    "KNOWN_EXCEPTIONS", "RawImage", "Frame", "scan_raw", "uncovered_columns", "frame_is_covered", "cut",
    "prepare_aitex",
]

FRAME = 256
OUT_SIZE = 320
FABRICS = tuple(f"{k:02d}" for k in range(7))
DARK_MAX = 30
BRIGHT_MIN = 245
MAX_UNCOVERED_COLUMNS = 2
_MASK_THRESHOLD = 127

# AFID defect codes and names (Silvestre-Blanes et al. 2019).
DEFECT_NAMES = {
    "002": "broken_end", "006": "broken_yarn", "010": "broken_pick", "016": "weft_curling",
    "019": "fuzzyball", "022": "cut_selvage", "023": "crease", "025": "warp_ball",
    "027": "knots", "029": "contamination", "030": "nep", "036": "weft_crack",
}
# Images of the official archive that cannot be used, as reported by public AFID loaders.
KNOWN_EXCEPTIONS = {
    "0100_025_08": "no mask in the official archive, and fabric code 08 is not one of the 7 fabrics",
}

_IMAGE_RE = re.compile(r"^(\d{4})_(\d{3})_(\d{2})\.png$", re.IGNORECASE)
_MASK_RE = re.compile(r"^(\d{4}_\d{3}_\d{2})_mask\d*\.png$", re.IGNORECASE)
_GOOD_RE = re.compile(r"^\d{4}_000_\d{2}\.png$", re.IGNORECASE)


class RawImage(NamedTuple):
    """A defective Aitex image and its mask files."""

    number: str
    defect_code: str
    fabric: str
    image_path: Path
    mask_paths: tuple[Path, ...]


class Frame(NamedTuple):
    """A kept 256 x 256 frame: its index along the image, uint8 image and bool mask."""

    index: int
    image: np.ndarray
    mask: np.ndarray


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def scan_raw(source: Path) -> tuple[list[RawImage], list[str]]:
    """Check the raw Aitex layout under ``source``; list the usable defective images.

    Returns
    -------
    images : list of RawImage
    skipped : list of str
        Notes on the :data:`KNOWN_EXCEPTIONS` that were left out.

    Raises
    ------
    DatasetLayoutError
        Naming the first missing folder or mask, or unexpected file.
    """
    source = Path(source)
    defect_dir, mask_dir = source / "Defect_images", source / "Mask_images"
    for folder in (defect_dir, mask_dir):
        if not folder.is_dir():
            raise DatasetLayoutError(f"missing Aitex folder: {folder}")
    masks: dict[str, list[Path]] = {}
    for path in _visible(mask_dir):
        match = _MASK_RE.match(path.name)
        if not match or not path.is_file():
            raise DatasetLayoutError(f"unexpected file in Mask_images: {path} (expected nnnn_ddd_ff_mask.png)")
        masks.setdefault(match.group(1), []).append(path)
    images, skipped = [], []
    for path in _visible(defect_dir):
        match = _IMAGE_RE.match(path.name)
        if not match or not path.is_file():
            raise DatasetLayoutError(f"unexpected file in Defect_images: {path} (expected nnnn_ddd_ff.png)")
        number, code, fabric = match.groups()
        stem = path.stem
        if stem in KNOWN_EXCEPTIONS:
            skipped.append(f"{path.name}: {KNOWN_EXCEPTIONS[stem]}")
            masks.pop(stem, None)
            continue
        if fabric not in FABRICS:
            raise DatasetLayoutError(f"unexpected fabric code {fabric} in {path} (expected 00-06)")
        if stem not in masks:
            raise DatasetLayoutError(f"missing Aitex mask for {path}: expected {mask_dir / (stem + '_mask.png')}")
        images.append(RawImage(number, code, fabric, path, tuple(masks.pop(stem))))
    if masks:
        first = sorted(masks.values())[0][0]
        raise DatasetLayoutError(f"unexpected file in Mask_images: {first} (no image {first.name.split('_mask')[0]}.png "
                                 f"in {defect_dir})")
    if not images:
        raise DatasetLayoutError(f"no defective images in {defect_dir}")
    good_dir = source / "NODefect_images"
    if good_dir.is_dir():
        for roll in _visible(good_dir):
            if not roll.is_dir():
                raise DatasetLayoutError(f"unexpected file in NODefect_images: {roll} (expected one folder per roll)")
            for path in _visible(roll):
                if not _GOOD_RE.match(path.name):
                    raise DatasetLayoutError(f"unexpected file in NODefect_images: {path} (expected nnnn_000_ff.png)")
    return images, skipped


def uncovered_columns(frame: np.ndarray) -> np.ndarray:
    """Bool per column of a uint8 gray frame: near-black or near-white in 90 % of its pixels."""
    low, high = np.percentile(frame, [10, 90], axis=0)
    return (high <= DARK_MAX) | (low >= BRIGHT_MIN)


def frame_is_covered(frame: np.ndarray) -> bool:
    """Whether a frame is fully covered by fabric (see the module rule, step 2)."""
    return int(uncovered_columns(frame).sum()) <= MAX_UNCOVERED_COLUMNS


def cut(image: np.ndarray, mask: np.ndarray) -> list[Frame]:
    """The frames of one Aitex image kept by the paper's rules (steps 1-3), at 256 x 256.

    Parameters
    ----------
    image : numpy.ndarray
        uint8 ``(256, W)``.
    mask : numpy.ndarray
        bool ``(256, W)``.
    """
    if image.ndim != 2 or image.shape[0] != FRAME or image.shape[1] < FRAME:
        raise ValueError(f"an Aitex image must be 256 pixels tall and at least 256 wide, got {image.shape}")
    if mask.shape != image.shape:
        raise ValueError(f"mask shape {mask.shape} differs from image shape {image.shape}")
    frames = []
    for k in range(image.shape[1] // FRAME):
        window = np.s_[:, k * FRAME:(k + 1) * FRAME]
        if mask[window].any() and frame_is_covered(image[window]):
            frames.append(Frame(k, image[window], mask[window]))
    return frames


def _read_gray(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("L"))
    except (OSError, SyntaxError) as err:
        raise DatasetLayoutError(f"unreadable image: {path} ({err})") from err


def prepare_aitex(source: Path, root: Path) -> dict:
    """Cut, filter and resize the raw Aitex images in ``source`` into MVTec layout under ``root``.

    Returns
    -------
    dict
        ``{"frames": {class: count}, "images": n, "skipped": [notes]}``.
    """
    images, skipped = scan_raw(source)
    counts: dict[str, int] = {}
    for raw in images:
        image = _read_gray(raw.image_path)
        if image.shape[0] != FRAME or image.shape[1] < FRAME:
            raise DatasetLayoutError(f"wrong image size: {raw.image_path} is {image.shape[1]}x{image.shape[0]}, "
                                     f"expected 256 pixels tall (4096 x 256)")
        mask = np.zeros(image.shape, bool)
        for mask_path in raw.mask_paths:
            part = _read_gray(mask_path)
            if part.shape != image.shape:
                raise DatasetLayoutError(f"wrong mask size: {mask_path} is {part.shape[1]}x{part.shape[0]}, "
                                         f"its image is {image.shape[1]}x{image.shape[0]}")
            mask |= part > _MASK_THRESHOLD
        cls = f"t_{raw.fabric}"
        defect = DEFECT_NAMES.get(raw.defect_code, f"defect_{raw.defect_code}")
        for frame in cut(image, mask):
            stem = f"{raw.number}_{frame.index:02d}"
            big = Image.fromarray(frame.image).resize((OUT_SIZE, OUT_SIZE), Image.BILINEAR)
            big_mask = Image.fromarray(frame.mask.astype(np.uint8) * 255).resize((OUT_SIZE, OUT_SIZE), Image.NEAREST)
            write_image(root / cls / "test" / defect / f"{stem}.png", np.asarray(big))
            write_mask(root / cls / "ground_truth" / defect / f"{stem}_mask.png", np.asarray(big_mask) > 0)
            counts[cls] = counts.get(cls, 0) + 1
    return {"frames": dict(sorted(counts.items())), "images": len(images), "skipped": skipped}
