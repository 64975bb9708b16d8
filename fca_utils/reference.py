"""Reference selection R of Eq. (1) (paper, section 3.3).

A reference is what each local patch is compared against:

* :func:`median` -- the Wasserstein barycenter of all T x T tiles, Eq. (7): the
  per-channel median of every order statistic. One ``(C, T*T)`` sorted set,
  shared by all windows (the paper's default).
* :func:`mean` -- the average patch (Table 7, "ablating R").
* :func:`random` -- ``k`` windows drawn at random (Table 2, "Random (k)").
* :func:`all_patches` -- every window of the map (Table 2, "All"); quadratic cost,
  so it refuses maps with more than ``max_patches`` windows.
* :func:`knn` -- for every window, its ``k`` nearest windows under the S cost
  (section 3.3, "Ours + k-NN").

The statistics in :mod:`fca_utils.statistics` accept any of these. Features are
min-max scaled per channel first (Appendix E) unless ``scale=False``, so a
reference built here matches the features the statistic compares it with.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .ops import as_feature_map, check_patch_size, scale_features
from .windows import iter_window_rows, sorted_windows_at

__all__ = [
    "PatchReference",
    "NearestReference",
    "median",
    "mean",
    "random",
    "all_patches",
    "knn",
    "DEFAULT_MAX_PATCHES",
]

#: Largest number of windows :func:`all_patches` accepts (cost grows with its square).
DEFAULT_MAX_PATCHES = 4096


@dataclass(frozen=True)
class PatchReference:
    """A set of reference windows, given by their centres, shared by every window.

    Attributes
    ----------
    centers : (K, 2) long tensor of ``(y, x)`` window centres in feature coordinates.
    patch_size : the window side T the centres refer to.
    """

    centers: torch.Tensor
    patch_size: int

    def __len__(self) -> int:
        return int(self.centers.shape[0])


@dataclass(frozen=True)
class NearestReference:
    """Per-window references: window ``i`` (row-major) is compared with windows ``indices[i]``.

    Attributes
    ----------
    indices : (H*W, k) long tensor of row-major window indices.
    patch_size : the window side T.
    shape : (H, W) of the feature map the indices refer to.
    distances : (H*W, k) distances of the selected neighbours (for inspection).
    """

    indices: torch.Tensor
    patch_size: int
    shape: tuple[int, int]
    distances: torch.Tensor | None = None

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])


def _prepare(feats, patch_size: int, scale: bool) -> tuple[torch.Tensor, int]:
    feats = as_feature_map(feats)
    t = check_patch_size(patch_size, feats.shape[1], feats.shape[2])
    return (scale_features(feats) if scale else feats), t


def _tiles(feats: torch.Tensor, t: int) -> torch.Tensor:
    """Non-overlapping T x T tiles of the unpadded map, (n_tiles, C, T*T); edge remainders dropped."""
    c = feats.shape[0]
    unf = F.unfold(feats[None], kernel_size=t, stride=t)[0]  # (C*T*T, n_tiles)
    return unf.view(c, t * t, -1).permute(2, 0, 1)


def median(feats, patch_size: int = 9, *, scale: bool = True) -> torch.Tensor:
    """Wasserstein-barycenter reference of Eq. (7): median of each order statistic.

    The (unpadded) map is cut into non-overlapping T x T tiles; each tile's values
    are sorted per channel; the reference is, for every channel and rank ``j``, the
    median over tiles of the ``j``-th smallest value (``torch.median``: the lower
    median when the number of tiles is even).

    Parameters
    ----------
    feats : (C, H, W) or (1, C, H, W) tensor
    patch_size : odd int T
    scale : min-max scale each channel to [0, 1] first (Appendix E)

    Returns
    -------
    (C, T*T) tensor, each row sorted ascending.

    Examples
    --------
    >>> import torch
    >>> median(torch.rand(4, 20, 20), patch_size=3).shape
    torch.Size([4, 9])
    """
    feats, t = _prepare(feats, patch_size, scale)
    tiles = torch.sort(_tiles(feats, t), dim=-1).values
    return torch.median(tiles, dim=0).values


def mean(feats, patch_size: int = 9, *, scale: bool = True) -> torch.Tensor:
    """The average patch (Table 7, ablating R): mean over tiles at each position, then sorted.

    Returns a (C, T*T) sorted reference like :func:`median`.
    """
    feats, t = _prepare(feats, patch_size, scale)
    return torch.sort(_tiles(feats, t).mean(dim=0), dim=-1).values


def random(feats, patch_size: int = 9, k: int = 1, *, seed: int = 0) -> PatchReference:
    """``k`` windows drawn uniformly at random, lying fully inside the map (Table 2).

    The draw uses its own generator seeded with ``seed``; the global RNG is untouched.
    """
    feats = as_feature_map(feats)
    _, h, w = feats.shape
    t = check_patch_size(patch_size, h, w)
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    gen = torch.Generator().manual_seed(int(seed))
    p = t // 2
    ys = torch.randint(p, h - p, (int(k),), generator=gen)
    xs = torch.randint(p, w - p, (int(k),), generator=gen)
    return PatchReference(torch.stack([ys, xs], dim=1).to(feats.device), t)


def all_patches(feats, patch_size: int = 9, *, max_patches: int = DEFAULT_MAX_PATCHES) -> PatchReference:
    """Every window of the map as a reference (Table 2, "All").

    Comparing every window with every other costs ``O(N^2 T^2 C)``; maps with more
    than ``max_patches`` windows are refused with an error instead of running for hours.
    """
    feats = as_feature_map(feats)
    _, h, w = feats.shape
    t = check_patch_size(patch_size, h, w)
    n = h * w
    if n > max_patches:
        raise ValueError(
            f"all_patches: the feature map has {h}x{w} = {n} windows, more than max_patches={max_patches}; "
            f"comparing all pairs would take {n}^2 window comparisons. Use a smaller image, "
            f"raise max_patches explicitly, or use reference.random/median instead."
        )
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    return PatchReference(torch.stack([ys.reshape(-1), xs.reshape(-1)], 1).to(feats.device), t)


def _all_sorted_windows(feats: torch.Tensor, t: int) -> torch.Tensor:
    """Sorted values of every window, (H*W, C*T*T), row-major over window centres."""
    parts = [torch.sort(win, dim=-1).values.flatten(2) for _, win in iter_window_rows(feats, t)]
    return torch.cat([p.reshape(-1, p.shape[-1]) for p in parts], dim=0)


def knn(
    feats,
    patch_size: int = 3,
    k: int = 10,
    *,
    scale: bool = True,
    exclude_overlapping: bool = True,
    max_patches: int = 16384,
    query_chunk: int = 256,
) -> NearestReference:
    """For every window, its ``k`` nearest windows under the Wasserstein cost (section 3.3).

    The cost between two windows is the 1-D Wasserstein distance of Eq. (4) without
    spatial weights: the mean over channels and ranks of ``|sorted_a - sorted_b|``.
    Exact search over all windows, ``O(N^2 C T^2)``.

    Parameters
    ----------
    exclude_overlapping : bool
        The paper does not say how a window's own neighbourhood is treated. By
        default, candidates that share pixels with the query window (centres closer
        than T in both axes) are excluded, so a defect cannot be its own reference.
    max_patches : refuse maps with more windows than this (the search is quadratic).

    Returns
    -------
    NearestReference
    """
    feats, t = _prepare(feats, patch_size, scale)
    _, h, w = feats.shape
    n = h * w
    if n > max_patches:
        raise ValueError(
            f"knn: exact nearest-window search on {h}x{w} = {n} windows exceeds max_patches={max_patches} "
            f"(it is quadratic in the number of windows); resize the image (e.g. preset 'paper320_knn') "
            f"or raise max_patches explicitly."
        )
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    k = int(k)
    sw = _all_sorted_windows(feats, t)  # (N, D)
    d = sw.shape[1]
    ys, xs = torch.meshgrid(
        torch.arange(h, device=sw.device), torch.arange(w, device=sw.device), indexing="ij"
    )
    ys, xs = ys.reshape(-1), xs.reshape(-1)
    available = n - ((2 * t - 1) ** 2 if exclude_overlapping else 1)
    if k > available:
        raise ValueError(f"k={k} is larger than the {available} candidate windows of a {h}x{w} map")
    idx_parts, dist_parts = [], []
    for q0 in range(0, n, query_chunk):
        q1 = min(n, q0 + query_chunk)
        dist = torch.cdist(sw[q0:q1], sw, p=1) / d  # (q, N)
        if exclude_overlapping:
            near = ((ys[q0:q1, None] - ys[None]).abs() < t) & ((xs[q0:q1, None] - xs[None]).abs() < t)
        else:
            near = torch.zeros_like(dist, dtype=torch.bool)
            near[torch.arange(q1 - q0), torch.arange(q0, q1)] = True
        dist = dist.masked_fill(near, float("inf"))
        vals, idx = torch.topk(dist, k, dim=1, largest=False)
        idx_parts.append(idx)
        dist_parts.append(vals)
    return NearestReference(torch.cat(idx_parts), t, (h, w), torch.cat(dist_parts))


def reference_windows(feats: torch.Tensor, ref: PatchReference) -> torch.Tensor:
    """Sorted (K, C, T*T) values of the windows a :class:`PatchReference` points to."""
    return sorted_windows_at(feats, ref.patch_size, ref.centers.to(feats.device))
