"""Images in, tensors out: every image type the package accepts, as one ``(1, 3, H, W)`` tensor.

:func:`to_image_tensor` is what :func:`fca_utils.localize`, the experiments and the
demos call on a user's image; :func:`resize_image` adds the resampling to a square.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .ops import resize

__all__ = ["ImageReadError", "ImageNotFoundError", "load_image", "to_image_tensor", "resize_image", "resize_mask"]


class ImageReadError(ValueError):
    """A file that is not a readable image: not an image format, truncated, corrupt or missing.

    The message is one line naming the file and the reason, e.g.
    ``cannot read image bad.png: image file is truncated``.
    """

    def __init__(self, path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"cannot read image {self.path}: {reason}")


class ImageNotFoundError(ImageReadError, FileNotFoundError):
    """The image file does not exist (also a ``FileNotFoundError``)."""


def load_image(path) -> np.ndarray:
    """Read an image file into a numpy array (8-bit, 16-bit, gray, RGB or RGBA).

    The whole file is decoded here, so a truncated or corrupt file fails now, as
    :class:`ImageReadError`, and never with a PIL exception later.

    Raises
    ------
    ImageNotFoundError
        No file at ``path``.
    ImageReadError
        The file is not an image PIL can decode (wrong format, truncated, corrupt).
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        reason = "is a directory, not an image file" if path.is_dir() else "file not found"
        raise (ImageReadError if path.is_dir() else ImageNotFoundError)(path, reason)
    try:
        with Image.open(path) as im:
            im.load()
            return _pil_to_numpy(im)
    except PermissionError:
        raise ImageReadError(path, "permission denied") from None
    except UnidentifiedImageError:
        raise ImageReadError(path, "not an image file in a format PIL can read (PNG, JPEG, TIFF, BMP, ...)") from None
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as err:
        # PIL reports truncated or corrupt data as OSError ("image file is truncated"),
        # SyntaxError ("broken PNG file") or EOFError; decompression bombs as their own error
        reason = " ".join(str(err).split()) or type(err).__name__
        raise ImageReadError(path, f"corrupt or truncated image ({reason})") from None


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


def resize_image(image, size: int, device=None, *, antialias: bool = False) -> torch.Tensor:
    """Any image :func:`to_image_tensor` accepts, as a ``(1, 3, size, size)`` float tensor in [0, 1].

    Bilinear resampling (:func:`fca_utils.core.ops.resize`), clamped back to [0, 1];
    an image already at ``size x size`` is returned as it is.

    Parameters
    ----------
    image : path, PIL image, numpy array or tensor
    size : side of the square result
    device : where the result lives (``None``: CPU)
    antialias : low-pass filter when shrinking. False (default): plain bilinear
        interpolation, as the authors' ``op_utils.py`` (``load_image_tensor``) resizes and
        as every preset of :func:`fca_utils.localize` does by default
    """
    img = to_image_tensor(image).to("cpu" if device is None else device)
    if tuple(img.shape[-2:]) == (size, size):
        return img
    return resize(img, size, antialias=antialias).clamp(0, 1)


def resize_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """A boolean mask resized to ``size x size``: a pixel is anomalous if at least half of its area is.

    >>> m = np.zeros((4, 4), bool); m[:2, :2] = True
    >>> resize_mask(m, 2).astype(int).tolist()
    [[1, 0], [0, 0]]
    """
    mask = np.asarray(mask) > 0
    if mask.shape == (size, size):
        return mask
    area = torch.nn.functional.interpolate(torch.from_numpy(mask.astype(np.float32))[None, None], size=(size, size),
                                           mode="area")
    return (area[0, 0] >= 0.5).numpy()
