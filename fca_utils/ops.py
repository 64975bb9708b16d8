"""Small tensor operations shared by the statistics, references and baselines.

Everything here works on a single feature map ``feats`` of shape ``(C, H, W)``;
a leading batch dimension of 1 is accepted and removed by :func:`as_feature_map`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "as_feature_map",
    "check_patch_size",
    "scale_features",
    "gaussian_kernel1d",
    "gaussian_kernel2d",
    "gaussian_blur",
    "reflect_pad",
]


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
    if not torch.isfinite(feats).all():
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


def scale_features(feats: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Min-max scale every channel of a ``(C, H, W)`` map to [0, 1] (paper, Appendix E).

    A constant channel becomes all zeros instead of dividing by zero.
    """
    flat = feats.flatten(1)
    lo = flat.min(dim=1).values[:, None, None]
    hi = flat.max(dim=1).values[:, None, None]
    return (feats - lo) / (hi - lo + eps)


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
    """Separable Gaussian blur of the last two dims with reflect padding.

    Same convention as ``torchvision.transforms.functional.gaussian_blur``: a
    normalized ``kernel_size``-tap kernel and reflect padding by ``kernel_size // 2``.
    Works on ``(..., H, W)`` tensors of any leading shape.
    """
    shape = x.shape
    h, w = shape[-2:]
    flat = x.reshape(-1, 1, h, w)
    k = gaussian_kernel1d(kernel_size, sigma, dtype=x.dtype, device=x.device)
    p = kernel_size // 2
    flat = F.pad(flat, (p, p, p, p), mode="reflect")
    flat = F.conv2d(flat, k.view(1, 1, 1, -1))
    flat = F.conv2d(flat, k.view(1, 1, -1, 1))
    return flat.reshape(shape)
