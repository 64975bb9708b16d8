"""Small tensor operations shared by the statistics, references, baselines and the layers above.

Feature maps are ``(C, H, W)``; a leading batch dimension of 1 is accepted and removed
by :func:`as_feature_map`. :func:`resize` is the one resampling function of the package
and :func:`clock` the one clock that waits for queued GPU work.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable

import torch
import torch.nn.functional as F
from torchvision.transforms.v2 import functional as TF

__all__ = [
    "one_torch_thread",
    "SMOOTH_KERNEL",
    "as_feature_map",
    "check_patch_size",
    "check_sigma",
    "scale_features",
    "prepare_features",
    "gaussian_kernel1d",
    "gaussian_kernel2d",
    "gaussian_blur",
    "reflect_pad",
    "resize",
    "clock",
]

#: Min-max scaling in :func:`prepare_features` handles about this many values at a time.
CHUNK_VALUES = 4 * 1024 * 1024

#: Side of the Gaussian kernel that smooths each window's error map in FCA (the authors' k_s = 5).
SMOOTH_KERNEL = 5


def as_feature_map(feats, name: str = "feats") -> torch.Tensor:
    """Validate a feature map and return it as a floating ``(C, H, W)`` tensor.

    Accepts ``(C, H, W)`` or ``(1, C, H, W)`` tensors. Integer tensors are
    converted to float32; floating tensors keep their dtype and device.
    """
    if not isinstance(feats, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (C, H, W), got {type(feats).__name__}")
    if feats.dim() == 4:
        if feats.shape[0] != 1:
            raise ValueError(f"{name} has a batch of {feats.shape[0]}; expected (C, H, W) or a batch of 1")
        feats = feats[0]
    if feats.dim() != 3:
        raise ValueError(f"{name} must have shape (C, H, W) or (1, C, H, W), got {tuple(feats.shape)}")
    if feats.shape[0] < 1 or feats.shape[1] < 1 or feats.shape[2] < 1:
        raise ValueError(f"{name} is empty: shape {tuple(feats.shape)}")
    if not feats.is_floating_point():
        feats = feats.float()
    lo, hi = torch.aminmax(feats)  # one pass; NaN propagates to both, infinities show as extremes
    if not bool(torch.isfinite(lo) & torch.isfinite(hi)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return feats


def check_patch_size(patch_size: int, height: int, width: int, *, odd: bool = True) -> int:
    """Check that a T x T patch fits the feature map; return ``T`` as an int.

    ``T`` must be odd (the window is centred on a pixel) and at most the smaller
    side of the map, because features are reflect-padded by ``T // 2``.
    """
    if isinstance(patch_size, bool) or int(patch_size) != patch_size or patch_size < 1:
        raise ValueError(f"patch_size must be a positive integer, got {patch_size!r}")
    patch_size = int(patch_size)
    if odd and patch_size % 2 == 0:
        raise ValueError(f"patch_size must be odd so the window is centred on a pixel, got {patch_size}")
    if patch_size > min(height, width):
        raise ValueError(
            f"patch_size {patch_size} is larger than the feature map ({height}x{width}); "
            f"use a smaller patch or a larger image (the feature map must be at least {patch_size}x{patch_size})"
        )
    return patch_size


def check_sigma(name: str, value) -> float:
    """``value`` as a positive float, else a ValueError naming the parameter ``name``."""
    if value is None or isinstance(value, bool) or not (float(value) > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def scale_features(feats: torch.Tensor, eps: float = 1e-8, *, out: torch.Tensor | None = None) -> torch.Tensor:
    """Min-max scale every channel of a ``(C, H, W)`` map to [0, 1] (paper, Appendix E):
    ``(feats - min) / (max - min + eps)``, into ``out`` when given.

    A constant channel becomes all zeros instead of dividing by zero.
    """
    lo, hi = torch.aminmax(feats.flatten(1), dim=1)
    lo, hi = lo[:, None, None], hi[:, None, None]
    return torch.sub(feats, lo, out=out).div_(hi - lo + eps)


def prepare_features(feats, patch_size: int, scale: bool = True) -> tuple[torch.Tensor, int]:
    """Checked ``(C, H, W)`` features and window side T, min-max scaled per channel (Appendix E).

    What every statistic and reference does first. Scaling works on chunks of channels
    (:data:`CHUNK_VALUES` values at a time), which gives the values of
    :func:`scale_features` on the whole map without its full-size temporaries.
    ``scale=False`` only checks.

    >>> f, t = prepare_features(torch.arange(8.0).view(2, 2, 2), 1)
    >>> f[0].tolist(), t
    ([[0.0, 0.333...], [0.666..., 1.0]], 1)
    """
    feats = as_feature_map(feats)
    t = check_patch_size(patch_size, feats.shape[1], feats.shape[2])
    if not scale:
        return feats, t
    out = torch.empty_like(feats)
    step = max(1, CHUNK_VALUES // (feats.shape[1] * feats.shape[2]))
    for c in range(0, feats.shape[0], step):
        scale_features(feats[c : c + step], out=out[c : c + step])
    return out, t


def gaussian_kernel1d(size: int, sigma: float, *, dtype=torch.float32, device=None) -> torch.Tensor:
    """Normalized 1-D Gaussian of ``size`` taps centred on the middle tap (sums to 1)."""
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    half = (size - 1) / 2.0
    x = torch.linspace(-half, half, size, dtype=torch.float64)
    k = torch.exp(-0.5 * (x / float(sigma)) ** 2)
    return (k / k.sum()).to(dtype=dtype, device=device)


def gaussian_kernel2d(size: int, sigma: float, *, dtype=torch.float32, device=None) -> torch.Tensor:
    """Normalized ``size x size`` Gaussian (outer product of two 1-D kernels; sums to 1).

    This is the spatial weight ``G_sigma`` of Eqs. (4) and (5).
    """
    k = gaussian_kernel1d(size, sigma, dtype=torch.float64)
    return torch.outer(k, k).to(dtype=dtype, device=device)


def reflect_pad(x: torch.Tensor, pad: int) -> torch.Tensor:
    """Reflect-pad the last two dimensions of ``x`` by ``pad`` on every side."""
    if pad == 0:
        return x
    shape = x.shape
    x4 = x.reshape(-1, 1, *shape[-2:]) if x.dim() != 4 else x
    out = F.pad(x4, (pad, pad, pad, pad), mode="reflect")
    return out.reshape(*shape[:-2], *out.shape[-2:])


def gaussian_blur(x: torch.Tensor, kernel_size: int, sigma: float) -> torch.Tensor:
    """Gaussian blur of the last two dims of a ``(..., H, W)`` tensor, reflect-padded.

    ``torchvision.transforms.v2.functional.gaussian_blur`` with a square
    ``kernel_size``-tap kernel of standard deviation ``sigma`` (the kernel of
    :func:`gaussian_kernel1d`, in the input's dtype).

    >>> x = torch.zeros(1, 5, 5); x[0, 2, 2] = 1
    >>> round(float(gaussian_blur(x, 3, 1.0).sum()), 6)
    1.0
    """
    flat = x.reshape(-1, 1, *x.shape[-2:])
    return TF.gaussian_blur(flat, [int(kernel_size)] * 2, [float(sigma)] * 2).reshape(x.shape)


def resize(x: torch.Tensor, size, *, antialias: bool = False) -> torch.Tensor:
    """Bilinear resampling of the last two dims of an ``(H, W)``, ``(C, H, W)`` or ``(N, C, H, W)`` tensor.

    ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)``: used for
    images, for feature maps and for anomaly maps brought to the mask's resolution.
    ``antialias=True`` low-pass filters when shrinking.

    Parameters
    ----------
    x : tensor with at least 2 dimensions (at most 4)
    size : int (square) or (H, W)
    antialias : bool

    Returns
    -------
    tensor of the same rank and dtype (float32 for integer inputs), ``size`` in the last two dims

    >>> resize(torch.tensor([[0.0, 1.0]]), (1, 4))
    tensor([[0.0000, 0.2500, 0.7500, 1.0000]])
    """
    size = (int(size), int(size)) if isinstance(size, int) else tuple(int(s) for s in size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"size must be a positive int or a pair (H, W), got {size!r}")
    if not 2 <= x.dim() <= 4:
        raise ValueError(f"resize takes (H, W), (C, H, W) or (N, C, H, W) tensors, got shape {tuple(x.shape)}")
    if tuple(x.shape[-2:]) == size:
        return x
    if not x.is_floating_point():
        x = x.float()
    batch = x.reshape(-1, 1, *x.shape[-2:]) if x.dim() != 4 else x
    out = F.interpolate(batch, size=size, mode="bilinear", align_corners=False, antialias=antialias)
    return out.reshape(*x.shape[:-2], *size)


def clock(device=None) -> Callable[[], float]:
    """``time.perf_counter``, that first waits for queued CUDA work when ``device`` is a GPU.

    >>> tick = clock("cpu"); t0 = tick(); tick() >= t0
    True
    """
    device = torch.device("cpu" if device is None else device)
    if device.type != "cuda":
        return time.perf_counter

    def tick() -> float:
        torch.cuda.synchronize(device)
        return time.perf_counter()

    return tick


@contextmanager
def one_torch_thread():
    """Run small LAPACK calls on one torch thread.

    Eigendecompositions of matrices of a few hundred rows are small; splitting each of
    their many small steps over torch's OpenMP workers costs more than it saves, most of
    all on a machine busy with other work.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
