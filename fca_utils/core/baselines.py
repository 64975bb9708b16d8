"""Baseline of Aota et al. (WACV 2023), the previous zero-shot state of the art (paper, Table 3).

In the paper's framework (section 3.3) it is: WideResNet features, the first moment
as patch statistic (a local mean), and the k nearest neighbours as reference.
"""
from __future__ import annotations

import torch

from .ops import as_feature_map, check_patch_size, gaussian_blur

__all__ = ["aota"]


def aota(
    feats,
    patch_size: int = 3,
    sigma: float = 100.0,
    k: int = 400,
    *,
    query_chunk: int = 1024,
) -> torch.Tensor:
    """Anomaly score of Aota et al.: distance of each local mean to its k nearest local means.

    ``mu(x, y) = sum_{(x',y') in P_xy} G_sigma(x'-x, y'-y) F(x', y')`` (a T x T Gaussian
    window; with the default large sigma it is the plain local mean), and
    ``S(x, y) = mean of the k smallest ||mu(x, y) - mu(x', y')||_2^2`` over all pixels
    ``(x', y')`` of the same image (the pixel itself included, as in the public
    re-implementation used by the FCA authors). Features are not rescaled.

    Parameters
    ----------
    feats : (C, H, W) or (1, C, H, W) tensor
    patch_size : odd T of the local mean (3 at 320x320)
    sigma : Gaussian sigma of the local mean
    k : number of nearest local means (400 in the authors' setting at 320x320);
        must not exceed the number of pixels H*W
    query_chunk : pixels processed at once (bounds memory to query_chunk x H*W distances)

    Returns
    -------
    (H, W) tensor. Cost ``O(N^2 C)`` for N = H*W pixels (Table 5).
    """
    feats = as_feature_map(feats)
    c, h, w = feats.shape
    t = check_patch_size(patch_size, h, w)
    n = h * w
    if int(k) != k or not 1 <= k <= n:
        raise ValueError(f"k must be an integer between 1 and the number of pixels ({n}), got {k!r}")
    local = gaussian_blur(feats, t, sigma).reshape(c, n).T.contiguous()  # (N, C)
    sq_norm = (local**2).sum(dim=1)
    out = torch.empty(n, dtype=feats.dtype, device=feats.device)
    for q0 in range(0, n, query_chunk):
        q = local[q0 : q0 + query_chunk]
        dist = (sq_norm[q0 : q0 + query_chunk, None] + sq_norm[None] - 2 * q @ local.T).clamp_min(0)
        out[q0 : q0 + query_chunk] = torch.topk(dist, int(k), dim=1, largest=False).values.mean(dim=1)
    return out.view(h, w)
