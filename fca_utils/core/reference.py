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
  (section 3.3, "Ours + k-NN"): an exact search, quadratic in the number of
  windows, or :func:`knn_approx`, a candidate search on compressed windows whose
  shortlist is re-ranked by the exact cost, usable at full resolution (1024^2).

The statistics in :mod:`fca_utils.core.statistics` accept any of these (:data:`Reference`). Features are
min-max scaled per channel first (Appendix E) unless ``scale=False``, so a
reference built here matches the features the statistic compares it with.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Union

import numpy as np
import torch
import torch.nn.functional as F

from . import kernels
from .ops import as_feature_map, check_patch_size, one_torch_thread, prepare_features
from .windows import iter_window_rows, sorted_windows_at

__all__ = [
    "PatchReference",
    "NearestReference",
    "excluded_mask",
    "SortedReference",
    "Reference",
    "check_reference_patch",
    "kernel_reference",
    "median",
    "mean",
    "random",
    "all_patches",
    "knn",
    "knn_approx",
    "knn_method",
    "KNN_METHODS",
    "DEFAULT_MAX_PATCHES",
    "KNN_EXACT_BUDGET",
]

#: Largest number of windows :func:`all_patches` accepts (cost grows with its square).
DEFAULT_MAX_PATCHES = 4096

#: Values of the ``method`` keyword of :func:`knn`.
KNN_METHODS = ("exact", "approx", "auto")

#: ``method="auto"`` searches exactly while ``N^2 * C * T^2`` (the exact search's
#: absolute differences, N windows) is at most this: 40 x 40 windows of 152 or 512
#: channels with T = 3 (3.5e9 / 1.2e10) are exact, 64 x 64 with T = 5 (6.4e10 with
#: 152 channels) and larger are approximate (times in ``benchmarks/README.md``).
KNN_EXACT_BUDGET = 2 * 10**10


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
    distances : (H*W, k) distances of the selected neighbours (for inspection), ascending.
    method : how the neighbours were found: ``"exact"`` (:func:`knn`) or
        ``"approx"`` (:func:`knn_approx`; the distances are still exact costs).
    """

    indices: torch.Tensor
    patch_size: int
    shape: tuple[int, int]
    distances: torch.Tensor | None = None
    method: str = "exact"

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])


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
    feats, t = prepare_features(feats, patch_size, scale)
    tiles = torch.sort(_tiles(feats, t), dim=-1).values
    return torch.median(tiles, dim=0).values


def mean(feats, patch_size: int = 9, *, scale: bool = True) -> torch.Tensor:
    """The average patch (Table 7, ablating R): mean over tiles at each position, then sorted.

    Returns a (C, T*T) sorted reference like :func:`median`.
    """
    feats, t = prepare_features(feats, patch_size, scale)
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


def _check_k(k) -> int:
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return int(k)


def _candidate_count(n: int, t: int, exclude_overlapping: bool) -> int:
    """Candidates every window has for sure: all windows but those overlapping it (or but itself)."""
    return n - ((2 * t - 1) ** 2 if exclude_overlapping else 1)


def _excluded(q: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor, t: int, exclude_overlapping: bool) -> torch.Tensor:
    """(len(q), N) mask of the candidates window ``q`` may not take: overlapping ones, or itself."""
    if exclude_overlapping:
        return ((ys[q, None] - ys[None]).abs() < t) & ((xs[q, None] - xs[None]).abs() < t)
    return q[:, None] == torch.arange(ys.shape[0], device=q.device)[None]


def _excluded_indices(q, ys, xs, h: int, w: int, t: int, exclude_overlapping: bool) -> torch.Tensor:
    """(len(q), (2T-1)^2) indices covering the candidates window ``q`` may not take (repeats allowed).

    Offsets up to T - 1 in each axis, clamped to the map: a clamped position is still
    closer than T to the query, so these are exactly the windows of :func:`_excluded`.
    """
    if not exclude_overlapping:
        return q[:, None]
    off = torch.arange(-(t - 1), t, device=q.device)
    yy = (ys[q, None] + off[None]).clamp_(0, h - 1)  # (Q, 2T-1)
    xx = (xs[q, None] + off[None]).clamp_(0, w - 1)
    return (yy[:, :, None] * w + xx[:, None, :]).flatten(1)


def _centres(h: int, w: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
    return ys.reshape(-1), xs.reshape(-1)


def excluded_mask(queries, height: int, width: int, patch_size: int, exclude_overlapping: bool = True) -> torch.Tensor:
    """``(len(queries), H*W)`` mask of the windows that window ``queries[i]`` may not take as a neighbour.

    The exclusion rule of :func:`knn` and :func:`knn_approx`: windows sharing pixels with
    the query (centres closer than T in both axes), or with ``exclude_overlapping=False``
    the query itself. Windows are numbered row-major.

    >>> excluded_mask([0], 3, 3, 3)[0].view(3, 3).int().tolist()
    [[1, 1, 1], [1, 1, 1], [1, 1, 1]]
    """
    q = torch.as_tensor(queries, dtype=torch.int64)
    ys, xs = _centres(int(height), int(width), q.device)
    return _excluded(q, ys, xs, int(patch_size), exclude_overlapping)


def knn_method(shape, patch_size: int, method: str = "auto", *, budget: int | None = None) -> str:
    """The search :func:`knn` runs for a ``(C, H, W)`` map: ``"exact"`` or ``"approx"``.

    ``"exact"`` and ``"approx"`` are returned as given; ``"auto"`` is ``"exact"`` while
    the exact search's cost ``(H W)^2 C T^2`` is at most ``budget`` (default
    :data:`KNN_EXACT_BUDGET`), else ``"approx"``.

    >>> knn_method((152, 40, 40), 3), knn_method((512, 128, 128), 9)
    ('exact', 'approx')
    """
    if method not in KNN_METHODS:
        raise ValueError(f"method must be one of {KNN_METHODS}, got {method!r}")
    if method != "auto":
        return method
    c, h, w = (int(s) for s in shape[-3:])
    budget = KNN_EXACT_BUDGET if budget is None else budget
    return "exact" if (h * w) ** 2 * c * patch_size**2 <= budget else "approx"


def knn(
    feats,
    patch_size: int = 3,
    k: int = 10,
    *,
    scale: bool = True,
    exclude_overlapping: bool = True,
    method: str = "exact",
    max_patches: int = 16384,
    query_chunk: int = 256,
) -> NearestReference:
    """For every window, its ``k`` nearest windows under the Wasserstein cost (section 3.3).

    The cost between two windows is the 1-D Wasserstein distance of Eq. (4) without
    spatial weights: the mean over channels and ranks of ``|sorted_a - sorted_b|``.
    The exact search compares every pair of windows, ``O(N^2 C T^2)`` for N windows:
    3.5e9 absolute differences for a 320^2 image (40 x 40 x 152, T = 3), but 1.1e13
    at 1024^2 with T = 9 and 512 channels (the paper reports 392 s per image on a GPU,
    Table 5), where :func:`knn_approx` is the practical choice
    (``benchmarks/bench_knn.py`` measures both).

    Parameters
    ----------
    feats : (C, H, W) or (1, C, H, W) tensor
    patch_size : odd T
    k : neighbours per window
    scale : min-max scale each channel to [0, 1] first (Appendix E)
    exclude_overlapping : bool
        The paper does not say how a window's own neighbourhood is treated. By
        default, candidates that share pixels with the query window (centres closer
        than T in both axes) are excluded, so a defect cannot be its own reference;
        with False only the window itself is excluded.
    method : ``"exact"`` (default), ``"approx"`` (:func:`knn_approx` with its default
        settings) or ``"auto"`` (exact while ``N^2 C T^2 <= KNN_EXACT_BUDGET``,
        see :func:`knn_method`). The result's ``method`` says which ran.
    max_patches : refuse exact searches on maps with more windows than this
        (the search is quadratic); ``method="approx"`` has its own limit.
    query_chunk : windows compared with all others at a time (memory ``query_chunk * N``).

    Returns
    -------
    NearestReference
        ``indices[i]`` the neighbours of window ``i`` (row-major), nearest first;
        ``distances`` their costs.

    Examples
    --------
    >>> import torch
    >>> ref = knn(torch.rand(4, 12, 12), patch_size=3, k=2)
    >>> ref.indices.shape, ref.method
    (torch.Size([144, 2]), 'exact')
    """
    feats = as_feature_map(feats)
    check_patch_size(patch_size, feats.shape[1], feats.shape[2])
    if knn_method(feats.shape, patch_size, method) == "approx":
        return knn_approx(feats, patch_size, k, scale=scale, exclude_overlapping=exclude_overlapping)
    feats, t = prepare_features(feats, patch_size, scale)
    _, h, w = feats.shape
    n = h * w
    if n > max_patches:
        raise ValueError(
            f"knn: exact nearest-window search on {h}x{w} = {n} windows exceeds max_patches={max_patches} "
            f"(it is quadratic in the number of windows); use method='approx' (reference.knn_approx), "
            f"resize the image (e.g. preset 'paper320_knn') or raise max_patches explicitly."
        )
    k = _check_k(k)
    available = _candidate_count(n, t, exclude_overlapping)
    if k > available:
        raise ValueError(f"k={k} is larger than the {available} candidate windows of a {h}x{w} map")
    sw = _all_sorted_windows(feats, t)  # (N, D)
    d = sw.shape[1]
    ys, xs = _centres(h, w, sw.device)
    idx_parts, dist_parts = [], []
    for q0 in range(0, n, query_chunk):
        q = torch.arange(q0, min(n, q0 + query_chunk), device=sw.device)
        dist = torch.cdist(sw[q0 : q0 + len(q)], sw, p=1) / d  # (q, N)
        dist = dist.masked_fill(_excluded(q, ys, xs, t, exclude_overlapping), float("inf"))
        vals, idx = torch.topk(dist, k, dim=1, largest=False)
        idx_parts.append(idx)
        dist_parts.append(vals)
    return NearestReference(torch.cat(idx_parts), t, (h, w), torch.cat(dist_parts), "exact")


#: Largest number of windows :func:`knn_approx` accepts by default (its candidate search
#: is still quadratic: 16x the work at 256 x 256 as at 128 x 128).
APPROX_MAX_PATCHES = 65536

#: Values per window that :func:`knn_approx` projects on its principal components
#: (runs of ranks per channel: ``max(3, this // C)``, at most T^2).
_EMBED_INPUT = 1536

#: Values of the candidate search's distance matrix per block of queries (64 MiB in float32).
_SEARCH_BLOCK_VALUES = 16 * 1024 * 1024


def _bin_edges(n: int, bins: int) -> np.ndarray:
    """Start of each of ``bins`` runs of consecutive ranks of ``0 .. n-1`` (sizes differ by at most 1)."""
    return np.unique(np.round(np.linspace(0, n, bins + 1)).astype(np.int64))[:-1]


def _orthonormal(y: torch.Tensor) -> torch.Tensor:
    """An orthonormal basis of the columns of a tall ``y`` (N, l), from the eigenvectors of its Gram matrix.

    Much faster than a Householder QR of a tall matrix; directions with eigenvalues
    below ``1e-10`` of the largest (a rank-deficient ``y``) are dropped.
    """
    gram = (y.T @ y).double()
    with one_torch_thread():
        vals, vecs = torch.linalg.eigh(gram)
    keep = vals > vals[-1].clamp(min=1e-300) * 1e-10
    return y @ (vecs[:, keep] / vals[keep].sqrt()).to(y.dtype)


def _principal_directions(x: torch.Tensor, dims: int, seed: int, power_iterations: int = 2) -> torch.Tensor:
    """Top ``dims`` (at most) right singular vectors of ``x`` (N, D), by randomized SVD with its own generator.

    Range finder with ``power_iterations`` power iterations on ``dims + 8`` random
    probes; the small ``(l, D)`` projection ``B = Q^T x`` is decomposed through
    the eigenvectors of ``B B^T`` (l x l).
    """
    gen = torch.Generator().manual_seed(int(seed))
    probe = torch.randn(x.shape[1], min(dims + 8, x.shape[1]), generator=gen, dtype=x.dtype)
    y = x @ probe
    for _ in range(power_iterations):
        y = x @ (x.T @ _orthonormal(y))
    b = _orthonormal(y).T @ x  # (l, D)
    with one_torch_thread():
        vals, vecs = torch.linalg.eigh((b @ b.T).double())
    top = torch.flip(vals, [0])[:dims].clamp(min=1e-300).sqrt()
    u = torch.flip(vecs, [1])[:, :dims]
    return (b.T.double() @ u / top).to(x.dtype)  # (D, dims): unit right singular vectors


def knn_approx(
    feats,
    patch_size: int = 3,
    k: int = 10,
    *,
    scale: bool = True,
    exclude_overlapping: bool = True,
    dims: int = 128,
    pool: int | None = None,
    shortlist: int | None = None,
    bins: int | None = None,
    seed: int = 0,
    max_patches: int = APPROX_MAX_PATCHES,
    timings: dict | None = None,
    sorted_bytes: int | None = None,
) -> NearestReference:
    """Approximate :func:`knn`: the ``k`` nearest windows, found among a shortlist re-ranked exactly.

    Same cost, exclusion rule and output as :func:`knn`; which windows are found may
    differ where the compressed search misses a true neighbour. The distances
    returned are the exact costs of the windows returned.

    Algorithm (N windows, C channels, T x T windows, D = C T^2):

    1. *Sorted windows* ``(C, N, T^2)`` with the sliding ranks of the k-NN kernels
       (:func:`fca_utils.core.kernels.sorted_windows`), ``O(N C T^3)``.
    2. *Compressed windows.* (a) Each channel's sorted values are cut into ``bins``
       (default T) runs of consecutive ranks and summed; the L1 distance of these
       sums (C * bins values per window) is a lower bound of the exact cost, tight
       where two windows' order statistics do not cross inside a run. (b) For an L2
       embedding, each channel's sorted values are cut into ``max(3, 1536 // C)``
       runs (at most T^2; 3 for C = 512, 10 for C = 152) whose sums are divided by
       the square root of their length (an orthogonal projection of the sorted
       values), and projected on their first ``dims`` principal components
       (randomized SVD, seeded): ``dims`` values per window.
    3. *Candidate pool*: for every window, the ``pool`` (default 16 k) nearest
       windows in L2 on the embedding, by blocked matrix products with the
       overlapping windows masked out, ``O(N^2 dims)`` time and ``O(N * 4096)`` memory.
    4. *Shortlist*: the ``shortlist`` (default 4 k) candidates of the pool with the
       smallest lower bound of step 2, ``O(N pool C bins)``.
    5. *Exact re-ranking*: the exact cost of every shortlisted window, ``O(N
       shortlist D)``; the ``k`` smallest are returned.

    Measured with the defaults and k = 10 (``benchmarks/bench_knn.py``; recall is
    the share of each window's exact k nearest that are returned, over all windows,
    or 200 random ones at 128 x 128): 1.000 on embedded-benchmark features at
    40 x 40 (T = 3) and 64 x 64 (T = 5); 0.999 (EfficientNet-Lite0, 152 channels)
    and 0.996-0.997 (WideResNet-50-2 with random weights, 512 channels) at
    128 x 128 with T = 9. A missed neighbour is replaced by one nearly as close:
    the k-th distance exceeds the exact one by less than 0.01 % on average. On
    small random maps (``tests/test_knn.py``) recall is 0.95-1.0. At 320^2 the
    FCA maps of the embedded benchmark with approximate and exact neighbours are
    identical for 100 of 114 images, AU-PRO differs by about 1e-6.
    ``benchmarks/bench_knn.py`` compares its time with the exact search (2.7e8 window
    pairs of C T^2 values at 128 x 128, T = 9). Memory: the sorted windows would take
    ``4 N D`` bytes in float32 (2.7 GB at 128 x 128 x 512, T = 9); they are built a chunk
    of channels at a time within ``sorted_bytes``, and what stays is the run sums of step 2,
    ``4 N C (bins + 3)`` bytes (0.4 GB there).

    Parameters
    ----------
    feats : (C, H, W) or (1, C, H, W) tensor; a GPU tensor is searched on the CPU
        and the indices are returned on its device.
    patch_size, k, scale, exclude_overlapping : as in :func:`knn`
    dims : dimensions of the L2 embedding of step 2
    pool : candidates per window from the embedding (default ``16 * k``)
    shortlist : candidates per window re-ranked exactly (default ``4 * k``)
    bins : runs of ranks per channel of the lower bound (default T)
    seed : seed of the randomized SVD (the global RNG is untouched)
    max_patches : refuse maps with more windows than this (step 3 is quadratic)
    timings : if a dict, seconds of each step are stored in it (``sort``, ``embed``,
        ``pool``, ``shortlist``, ``rerank``)
    sorted_bytes : sorted windows held at once (default
        :data:`fca_utils.core.kernels.SORTED_BYTES`); when all channels do not fit, steps 1-2
        and 5 build them a chunk of channels at a time (step 5 sorts again). The result
        does not depend on it.

    Returns
    -------
    NearestReference with ``method="approx"``.

    Examples
    --------
    >>> import torch
    >>> ref = knn_approx(torch.rand(4, 16, 16), patch_size=3, k=2)
    >>> ref.indices.shape, ref.method
    (torch.Size([256, 2]), 'approx')
    """
    feats = as_feature_map(feats)
    device = feats.device
    _, h, w = feats.shape
    t = check_patch_size(patch_size, h, w)
    n = h * w
    k = _check_k(k)
    if n > max_patches:
        raise ValueError(
            f"knn_approx: {h}x{w} = {n} windows exceed max_patches={max_patches}; its candidate search is "
            f"still quadratic in the number of windows. Resize the image or raise max_patches explicitly."
        )
    pool = 16 * k if pool is None else pool
    shortlist = 4 * k if shortlist is None else shortlist
    bins = t if bins is None else bins
    for name, value in (("dims", dims), ("pool", pool), ("shortlist", shortlist), ("bins", bins)):
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if shortlist < k or pool < shortlist:
        raise ValueError(f"need k <= shortlist <= pool, got k={k}, shortlist={shortlist}, pool={pool}")
    available = _candidate_count(n, t, exclude_overlapping)
    if k > available:
        raise ValueError(f"k={k} is larger than the {available} candidate windows of a {h}x{w} map")
    pool, shortlist = min(int(pool), available), min(int(shortlist), available)

    timings = {} if timings is None else timings
    clock = time.perf_counter()

    def lap(step):
        nonlocal clock
        now = time.perf_counter()
        timings[step] = now - clock
        clock = now

    # 1-2. sorted windows (C, N, T^2), a chunk of channels at a time; from each chunk the run
    # sums per channel (lower bound) and the coarse runs of the L2 embedding
    scaled, _ = prepare_features(feats.detach().cpu(), t, scale)
    c = scaled.shape[0]
    m = t * t
    itemsize = 8 if scaled.dtype == torch.float64 else 4
    step = kernels.channels_per_chunk(n, t, itemsize, sorted_bytes)
    starts = _bin_edges(m, min(int(bins), m))
    groups = _bin_edges(m, min(m, max(3, _EMBED_INPUT // c)))
    sizes = np.diff(np.append(groups, m))
    # the run sums go straight into the layout of step 4: channels side by side, ~64 values
    # per window and slab (longer loops than `bins` values); zero channels add nothing
    group = max(1, min(c, 64 // starts.size))
    slabs = -(-c // group)
    grouped = coarse = sw = None
    for c0 in range(0, c, step):
        chans = np.arange(c0, min(c, c0 + step))
        part = kernels.sorted_channels(scaled, t, chans)
        if grouped is None:
            grouped = np.zeros((slabs, n, group, starts.size), part.dtype)
            coarse = np.empty((c, n, groups.size), part.dtype)
        grouped[chans // group, :, chans % group, :] = kernels.run_sums(part, starts)
        coarse[chans] = kernels.run_sums(part, groups)
        sw = part if step >= c else None  # kept for step 5 only when all channels fit at once
        del part
    lap("sort")
    coarse /= np.sqrt(sizes).astype(coarse.dtype)
    x = torch.from_numpy(coarse).float().permute(1, 0, 2).reshape(n, -1)
    del coarse
    x = x - x.mean(dim=0)
    z = x @ _principal_directions(x, min(int(dims), *x.shape), seed)
    del x
    lap("embed")
    # 3. candidate pool by L2 on the embedding
    ys, xs = _centres(h, w)
    sq = (z * z).sum(dim=1)
    block = max(1, _SEARCH_BLOCK_VALUES // n)
    cand = torch.empty((n, pool), dtype=torch.int64)
    for q0 in range(0, n, block):
        q = torch.arange(q0, min(n, q0 + block))
        d2 = torch.addmm(sq[None], z[q], z.T, alpha=-2).add_(sq[q, None])
        d2.scatter_(1, _excluded_indices(q, ys, xs, h, w, t, exclude_overlapping), float("inf"))
        cand[q] = torch.topk(d2, pool, dim=1, largest=False, sorted=False).indices
    queries = np.arange(n)
    lap("pool")
    # 4. shortlist by the lower bound
    if shortlist < pool:
        bound = torch.from_numpy(kernels.pair_costs(grouped.reshape(slabs, n, -1), queries, cand.numpy()))
        keep = torch.topk(bound, shortlist, dim=1, largest=False, sorted=False).indices
        cand = torch.gather(cand, 1, keep)
    del grouped
    lap("shortlist")
    # 5. exact re-ranking
    if sw is not None:
        pairs = kernels.pair_costs(sw, queries, cand.numpy())
    else:
        pairs = kernels.pair_costs_chunked(scaled, t, queries, cand.numpy(), sorted_bytes=sorted_bytes)
    cost = torch.from_numpy(pairs) / (c * m)
    dist, order = torch.topk(cost, k, dim=1, largest=False)
    idx = torch.gather(cand, 1, order)
    lap("rerank")
    dtype = feats.dtype if feats.dtype in (torch.float32, torch.float64) else torch.float32
    return NearestReference(idx.to(device), t, (h, w), dist.to(dtype=dtype, device=device), "approx")


#: Anything a statistic accepts as ``reference``: None (the median of Eq. (7)), a sorted
#: ``(C, T*T)`` or ``(K, C, T*T)`` tensor, a :class:`PatchReference` or a :class:`NearestReference`.
Reference = Union[None, torch.Tensor, PatchReference, NearestReference]


def check_reference_patch(reference: PatchReference | NearestReference, t: int) -> None:
    """Refuse a reference built for another window side than the statistic's ``t``."""
    if reference.patch_size != t:
        raise ValueError(
            f"the reference was built for patch_size={reference.patch_size} but the statistic uses {t}; "
            f"build the reference with the same patch size"
        )


def _check_nearest(reference: NearestReference, t: int, shape) -> None:
    check_reference_patch(reference, t)
    if tuple(reference.shape) != tuple(shape):
        raise ValueError(f"the k-NN reference was built for a {tuple(reference.shape)} map, the features are "
                         f"{tuple(shape)}")


class SortedReference:
    """Any accepted ``reference`` as sorted windows, and its mean absolute rank differences.

    ``windows`` is the ``(K, C, T*T)`` tensor of sorted reference windows shared by all
    windows, or with a :class:`NearestReference` the sorted values of every window,
    ``(H*W, C, T*T)``, of which ``per_window`` ``(H*W, k)`` picks each window's own.

    Parameters
    ----------
    feats : (C, H, W) tensor, already scaled
    t : window side T
    reference : :data:`Reference`
    """

    def __init__(self, feats: torch.Tensor, t: int, reference: Reference):
        c = feats.shape[0]
        self.per_window = None
        if reference is None:
            reference = median(feats, t, scale=False)
        if isinstance(reference, NearestReference):
            _check_nearest(reference, t, feats.shape[1:])
            self.per_window = reference.indices.to(feats.device)
            self.windows = _all_sorted_windows(feats, t).view(-1, c, t * t)
            return
        if isinstance(reference, PatchReference):
            check_reference_patch(reference, t)
            reference = sorted_windows_at(feats, t, reference.centers.to(feats.device))
        if not isinstance(reference, torch.Tensor):
            raise TypeError(
                "reference must be None (median), a (C, T*T) or (K, C, T*T) tensor of sorted values, "
                f"a reference.PatchReference or a reference.NearestReference; got {type(reference).__name__}"
            )
        if reference.dim() == 2:
            reference = reference[None]
        if reference.dim() != 3 or reference.shape[1:] != (c, t * t):
            raise ValueError(
                f"reference tensor must have shape (C, T*T) = ({c}, {t * t}) or (K, {c}, {t * t}), "
                f"got {tuple(reference.shape)}"
            )
        self.windows = reference.to(device=feats.device, dtype=feats.dtype)

    def mean_abs_diff(self, values: torch.Tensor, y0: int) -> torch.Tensor:
        """``mean_k |values - ref_k|`` for sorted windows ``values`` (r, W, C, T*T) starting at row y0."""
        if self.per_window is None:
            acc = torch.zeros_like(values)
            for ref in self.windows:
                acc += (values - ref).abs()
            return acc / self.windows.shape[0]
        r, w = values.shape[:2]
        idx = self.per_window[y0 * w : (y0 + r) * w]  # (r*W, k)
        flat = values.reshape(r * w, *values.shape[2:])
        acc = torch.zeros_like(flat)
        for j in range(idx.shape[1]):
            acc += (flat - self.windows[idx[:, j]]).abs()
        return (acc / idx.shape[1]).view_as(values)


def kernel_reference(feats: torch.Tensor, t: int, reference: Reference):
    """``(windows, neighbours)`` for :func:`fca_utils.core.kernels.fca` and ``sww``.

    None stays ``(None, None)``: the kernels compute the median of Eq. (7) themselves. A
    :class:`NearestReference` becomes its checked ``(H*W, k)`` indices; anything else the
    ``(K, C, T*T)`` sorted windows of :class:`SortedReference`.
    """
    if reference is None:
        return None, None
    if isinstance(reference, NearestReference):
        _check_nearest(reference, t, feats.shape[1:])
        return None, reference.indices
    return SortedReference(feats, t, reference).windows, None
