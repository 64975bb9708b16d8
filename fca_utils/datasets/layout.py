"""Reading, checking and writing the MVTec AD folder layout.

::

    <root>/<class>/test/<defect>/<stem>.png             test images ("good" = defect-free)
    <root>/<class>/ground_truth/<defect>/<stem>_mask.png  masks, 0 / 255, for every non-good image
    <root>/<class>/train/good/<stem>.png                 defect-free images (not used zero-shot)

A mask may also be named ``<stem>.png`` (DTD-Synthetic, WFT copies in the wild).
Checks stop at the first problem and name the file or folder in a
:class:`DatasetLayoutError`; hidden files (``.DS_Store``, ``._*``) are ignored.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

from ..core.io import atomic_path

__all__ = [
    "DatasetLayoutError", "Entry", "IMAGE_SUFFIXES", "GOOD",
    "scan_class", "check_sizes", "read_image", "read_mask", "write_image", "write_mask", "image_size",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
GOOD = "good"
_CLASS_ENTRIES = {"train", "test", "ground_truth"}
_PNG_LEVEL = 1  # fast zlib level: 4x faster than the default 6 for ~10 % larger files


class DatasetLayoutError(ValueError):
    """A dataset folder is missing something, has something unexpected, or has a wrong size."""


class Entry(NamedTuple):
    """One test image of an MVTec-layout class."""

    cls: str
    defect_type: str
    image_path: Path
    mask_path: Path | None  # None for "good" images

    @property
    def stem(self) -> str:
        return self.image_path.stem


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def _mask_candidates(gt_dir: Path, stem: str) -> list[Path]:
    return [gt_dir / f"{stem}_mask{suffix}" for suffix in IMAGE_SUFFIXES] + \
           [gt_dir / f"{stem}{suffix}" for suffix in IMAGE_SUFFIXES]


def scan_class(root: Path, cls: str) -> list[Entry]:
    """List the test images of class ``cls`` with their masks, checking the layout.

    Parameters
    ----------
    root : Path
        Dataset root holding one folder per class.
    cls : str
        Class folder name.

    Returns
    -------
    list of Entry
        Sorted by defect type, then file name.

    Raises
    ------
    DatasetLayoutError
        Naming the first missing folder or mask, or the first unexpected file.
    """
    cls_dir = Path(root) / cls
    if not cls_dir.is_dir():
        raise DatasetLayoutError(f"missing class folder: {cls_dir}")
    for item in _visible(cls_dir):
        if item.name not in _CLASS_ENTRIES or not item.is_dir():
            raise DatasetLayoutError(f"unexpected {'folder' if item.is_dir() else 'file'} in a class folder: {item} "
                                     f"(expected only {sorted(_CLASS_ENTRIES)})")
    test_dir, gt_root = cls_dir / "test", cls_dir / "ground_truth"
    if not test_dir.is_dir():
        raise DatasetLayoutError(f"missing test folder: {test_dir}")
    entries: list[Entry] = []
    defect_dirs = _visible(test_dir)
    if not defect_dirs:
        raise DatasetLayoutError(f"empty test folder: {test_dir}")
    for defect_dir in defect_dirs:
        if not defect_dir.is_dir():
            raise DatasetLayoutError(f"unexpected file in a test folder: {defect_dir} (expected one folder per defect type)")
        images = _visible(defect_dir)
        if not images:
            raise DatasetLayoutError(f"empty defect folder: {defect_dir}")
        for image in images:
            if image.is_dir() or image.suffix.lower() not in IMAGE_SUFFIXES:
                raise DatasetLayoutError(f"unexpected {'folder' if image.is_dir() else 'file'}: {image} "
                                         f"(expected images {IMAGE_SUFFIXES})")
        defect = defect_dir.name
        if defect == GOOD:
            entries.extend(Entry(cls, defect, image, None) for image in images)
            continue
        gt_dir = gt_root / defect
        if not gt_dir.is_dir():
            raise DatasetLayoutError(f"missing ground-truth folder for {defect_dir}: {gt_dir}")
        used: set[Path] = set()
        for image in images:
            mask = next((p for p in _mask_candidates(gt_dir, image.stem) if p.is_file()), None)
            if mask is None:
                raise DatasetLayoutError(f"missing ground-truth mask for {image}: expected {gt_dir / (image.stem + '_mask.png')}")
            used.add(mask)
            entries.append(Entry(cls, defect, image, mask))
        extra = [p for p in _visible(gt_dir) if p not in used]
        if extra:
            raise DatasetLayoutError(f"unexpected file in a ground-truth folder: {extra[0]} (no test image of that name)")
    if gt_root.is_dir():
        for gt_dir in _visible(gt_root):
            if not (test_dir / gt_dir.name).is_dir() or gt_dir.name == GOOD:
                raise DatasetLayoutError(f"unexpected ground-truth {'folder' if gt_dir.is_dir() else 'file'}: {gt_dir} "
                                         f"(no defect folder {test_dir / gt_dir.name})")
    return entries


def image_size(path: Path) -> tuple[int, int]:
    """``(height, width)`` of an image file, reading only its header."""
    try:
        with Image.open(path) as img:
            width, height = img.size
    except (OSError, SyntaxError) as err:
        raise DatasetLayoutError(f"unreadable image: {path} ({err})") from err
    return height, width


def check_sizes(entries: list[Entry], expected: tuple[int, int] | None = None) -> None:
    """Check image sizes (against ``expected`` ``(H, W)`` if given) and that masks match them."""
    for entry in entries:
        size = image_size(entry.image_path)
        if expected is not None and size != tuple(expected):
            raise DatasetLayoutError(f"wrong image size: {entry.image_path} is {size[1]}x{size[0]}, "
                                     f"expected {expected[1]}x{expected[0]}")
        if entry.mask_path is not None and image_size(entry.mask_path) != size:
            mh, mw = image_size(entry.mask_path)
            raise DatasetLayoutError(f"wrong mask size: {entry.mask_path} is {mw}x{mh}, "
                                     f"its image {entry.image_path.name} is {size[1]}x{size[0]}")


def read_image(path: Path) -> np.ndarray:
    """An image file as uint8 ``(H, W, 3)`` RGB (gray images are replicated)."""
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except (OSError, SyntaxError) as err:
        raise DatasetLayoutError(f"unreadable image: {path} ({err})") from err


def read_mask(path: Path) -> np.ndarray:
    """A mask file as bool ``(H, W)``: every non-zero pixel is anomalous (as MVTec's evaluation)."""
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("L")) > 0
    except (OSError, SyntaxError) as err:
        raise DatasetLayoutError(f"unreadable mask: {path} ({err})") from err


def _save(array: np.ndarray, path: Path) -> None:
    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format="PNG", compress_level=_PNG_LEVEL)


def write_image(path: Path, image: np.ndarray) -> None:
    """Write a uint8 ``(H, W)`` or ``(H, W, 3)`` image as PNG (via a temporary file)."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(f"expected a uint8 (H, W) or (H, W, 3) image, got {image.dtype} {image.shape}")
    _save(image, Path(path))


def write_mask(path: Path, mask: np.ndarray) -> None:
    """Write a bool ``(H, W)`` mask as an 8-bit PNG with values 0 and 255."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"expected a (H, W) mask, got shape {mask.shape}")
    _save(np.where(mask, 255, 0).astype(np.uint8), Path(path))
