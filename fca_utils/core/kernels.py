"""Fast CPU kernels for SWW (Eq. 4) and FCA (Eq. 5): the same numbers, without the T^2 blow-up.

The straightforward version (:func:`fca_utils.core.statistics.fca` with ``backend="torch"``)
unfolds every T x T window of every channel, sorts it with ``torch.sort``, scatters
the rank-wise errors back to pixels and folds them into the map. At 128 x 128 x 512
and T = 9 that is 8.4 million sorts of 81 values and intermediate tensors T^2 = 81
times larger than the features. The numba kernels here compute the same result
without building any of those tensors (``benchmarks/bench_fca.py`` measures both).

Algorithm
---------
Both statistics need one quantity per window ``w`` and position ``i`` in it, the
non-compliance ``M`` of Eqs. (4) and (5) summed over channels and references::

    E_w[i] = sum_c sum_r |v_{w,c}[i] - ref_r[c, rank_{w,c}(i)]|

where ``rank_{w,c}(i)`` is the rank of the value at position ``i`` among the
window's T^2 values of channel ``c``. Sorting is only a way to get these ranks.

1. *Ranks counted from each sample's neighbours, not sorted.* The rank of a
   sample in a window is the number of the window's samples below it. A sample
   lies in T^2 windows, all within the (2T - 1) x (2T - 1) neighbourhood centred
   on it. For each neighbour column ``dx`` the kernel counts the neighbours below
   the sample over the T rows of a window, and moves those T rows up by one row at
   a time (one row in, one out) through the T window rows that contain the sample;
   the rank in each of the T windows of such a row is then a sum of T of these
   column counts, again moved by one column at a time. That is about 3 (2T - 1) T
   comparisons per sample and channel, where re-sorting would take T^2 log T^2
   per window. On the padded band of values laid out row after row
   (:func:`_fill_band`), the neighbour ``(dy, dx)`` of every sample is the same
   ``dy * (W + T - 1) + dx`` values away, so each loop runs branch-free over the
   samples of ``BLOCK_ROWS`` rows at once and the compiler vectorizes it; counts
   are uint8 (T <= 15). The errors are added to ``E_w`` straight away; nothing
   per window and channel is stored.
2. *Ties ranked like the stable sort.* Equal values are ranked by their
   row-major position ``(padded row, padded column)`` in the window, exactly as
   the straightforward version's ``torch.sort(stable=True)`` does: a neighbour
   that comes before the sample in that order counts as below it when it is
   ``<=`` the sample, one after it when it is ``<`` (-0.0 equals 0.0). This
   matters because reflect padding repeats values at the borders and ReLU
   features are often exactly 0.
3. *Linear steps once per window.* Averaging over channels and references, the
   5 x 5 smoothing ``G_{sigma_s}`` (reflect-padded within the window), the
   weights ``G_{sigma_p}`` and the accumulation into the map are linear, so they
   are applied once per window to ``E_w``, not per channel. The smoothing is
   separable: ``G_{sigma_p} * (A E_w A^T)`` with a T x T matrix ``A``
   (:func:`smoothing_matrix`). SWW needs only ``sum_i G_sigma[i] E_w[i]``.
4. *Parallel over parts of a tile's window rows* (numba ``prange``), one part
   per thread; a part recounts the T - 1 sample rows it shares with the next.
   Within a part, the samples of ``BLOCK_ROWS`` rows are taken through all
   channels before the next rows, so the errors of the T + ``BLOCK_ROWS`` - 1
   window rows they reach stay in cache while the channels are added, in order.
5. *Per-window references* (:class:`~fca_utils.core.reference.NearestReference`, k-NN,
   section 3.3): every window has its own k reference windows. A second way to
   rank gives every window's sorted values first: the window slides right one
   column at a time, and every remaining sample's rank changes by the number of
   new samples below it minus the number of leaving ones below it (:func:`_slide`),
   compared on band keys (:func:`band_keys`: each padded sample's rank in the band
   of rows, value first and position second, from one stable radix sort per
   channel; int16 when the band has at most 32767 samples), distinct keys that
   order ties as step 2 does. The sorted values come as ``(c, H*W, T^2)`` for a chunk of
   ``c`` channels at a time (:func:`sorted_windows` of all channels would take
   ``4 N C T^2`` bytes in float32, 2.7 GB at 128 x 128 x 512 with T = 9; a chunk
   takes at most ``SORTED_BYTES``). A window's sorted values are those of its own
   row there, so the error of rank ``j`` summed over the k references,
   ``sum_r |sw[w, j] - sw[idx_r, j]|``, is computed on contiguous rows and then sent
   to the position of rank ``j``: one gather per sample, not k. Each chunk adds its
   channels, in order, into one ``(H, W, T^2)`` float64 buffer, so the sums are the
   same bits whatever the chunk size.
   :func:`pair_costs` and :func:`run_sums` serve the approximate k-NN search
   (:func:`fca_utils.core.reference.knn_approx`).

Memory
------
Rows of windows are processed in tiles (with per-window references, the sorted
windows of step 5 come on top). A tile of ``r`` rows holds an error buffer
of ``r * W * T^2`` float64 values (at most ``TILE_BYTES`` by default), and FCA
accumulates into one ``(H + T - 1, W + T - 1)`` float64 canvas. A tile reads the
feature rows its windows cover, T // 2 beyond its own rows on each side (a halo
of 2 * (T // 2) rows between neighbouring tiles' contributions), reflecting only
at the map's borders, so tiled and untiled results are the same. Scaling works on
chunks of channels and the median reference (Eq. 7) on one channel per thread.
Beyond the features and their [0, 1]-scaled copy, memory is therefore a few tens
of MiB at any map size, plus the tile's padded band of values (4 or 8 bytes per
channel and padded sample, with T rows of zeros above and below: 41 MiB at
128 x 128 x 512, 129 MiB at 512 x 512 x 512), and with per-window references the
band keys of step 5 (2 or 4 bytes per channel and padded sample of a chunk), a
chunk of sorted windows, at most ``SORTED_BYTES``, and the ``8 N T^2``-byte error
buffer of step 5.

Quantized FCA (:func:`qfca`, see :func:`fca_utils.core.statistics.qfca`) replaces the
ranks by level histograms that slide along each row of windows, and shares step 3.

Accuracy
--------
Ranks come from the input values themselves (float32 or float64; other float
dtypes are computed in float32), so they are exactly those of the sort.
Differences, sums and the smoothing are accumulated in float64; the result
differs from the float32 straightforward version by that version's rounding
(about 1e-7 relative) and from its float64 run by about 1e-15.

The first call in a process compiles the kernels (a few seconds per dtype);
``cache=True`` stores them on disk, so later processes load them in well under
a second.
"""
from __future__ import annotations

import numba
import numpy as np
import torch
from numba import njit, prange

from .ops import SMOOTH_KERNEL, gaussian_kernel1d, gaussian_kernel2d, prepare_features

__all__ = [
    "fca",
    "qfca",
    "quantize",
    "sww",
    "use_numba",
    "kernel_input",
    "order_keys",
    "band_keys",
    "median_reference",
    "smoothing_matrix",
    "sorted_windows",
    "pair_costs",
    "pair_costs_chunked",
    "sorted_channels",
    "channels_per_chunk",
    "SORTED_BYTES",
    "run_sums",
    "BACKENDS",
    "TILE_BYTES",
]

#: Values accepted by the ``backend`` keyword of :func:`fca_utils.core.statistics.fca` / ``sww``.
BACKENDS = ("auto", "torch", "numba")

#: Upper bound on the error buffer of one tile of window rows, in bytes.
TILE_BYTES = 32 * 1024 * 1024

#: Upper bound on the sorted windows held at once by the k-NN reference's FCA / SWW and by
#: :func:`pair_costs_chunked`: about 256 MiB, so that k-NN at 1024^2 (128 x 128 x 512, T = 9,
#: 2.7 GB of sorted windows) stays within 1 GiB.
SORTED_BYTES = 256 * 1024 * 1024

#: Chunks of channels :func:`pair_costs` splits its work into (each with its own (Q, P) sums).
PAIR_PARTS = 8

#: Padded rows of samples the FCA / SWW kernel (:func:`_part_errors`) takes at once.
BLOCK_ROWS = 4

#: Bits per digit of the radix sort of :func:`_band_ranks`.
_RADIX_BITS = 11


def use_numba(backend: str, feats) -> bool:
    """Whether ``backend`` selects the numba kernels of this module for ``feats``.

    ``"auto"`` picks numba for CPU tensors and the straightforward PyTorch version
    for CUDA (or other non-CPU) tensors; ``"torch"`` always picks PyTorch;
    ``"numba"`` always picks numba and refuses tensors that are not on the CPU.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    on_cpu = not isinstance(feats, torch.Tensor) or feats.device.type == "cpu"
    if backend == "numba" and not on_cpu:
        raise ValueError(
            f"backend='numba' runs on the CPU but the features are on {feats.device}; "
            f"use backend='auto' or 'torch' for GPU tensors, or move the features with .cpu()"
        )
    return backend == "numba" or (backend == "auto" and on_cpu)


# --------------------------------------------------------------------------- numba kernels


@njit(cache=True)
def _order_key(bits):
    """Order-preserving int64 of a float32 bit pattern (-0.0 and +0.0 map to 0).

    Non-negative inputs (the dense ranks used for float64 maps) are returned unchanged.
    """
    k = np.int64(bits)
    return k if k >= 0 else (k ^ 0x7FFFFFFF) + 1


@njit(parallel=True, cache=True)
def _band_ranks(keys, ry, rx, out):
    """``out[c, i, j]``: rank of padded sample ``(i, j)`` among channel ``c``'s padded samples of the band.

    The band is the padded rows ``ry`` (source rows) by the padded columns ``rx``. Samples
    are ordered by value (order key of :func:`_order_key`), equal values by row-major
    position in the band, with a stable least-significant-digit radix sort (11-bit
    digits), written here because numba has no stable sort and a radix sort of 32-bit
    keys takes time linear in the samples, in parallel over channels. A window's samples keep this order among themselves,
    so these ranks stand in for the values when the window's samples are compared.
    """
    n_ch = keys.shape[0]
    hp = ry.shape[0]
    wp = rx.shape[0]
    n = hp * wp
    n_bins = 1 << _RADIX_BITS
    for c in prange(n_ch):
        k = np.empty(n, np.int64)
        k_next = np.empty(n, np.int64)
        pos = np.empty(n, np.int64)
        pos_next = np.empty(n, np.int64)
        count = np.empty(n_bins + 1, np.int64)
        for i in range(hp):
            for j in range(wp):
                k[i * wp + j] = _order_key(keys[c, ry[i], rx[j]]) + 2147483648  # in [0, 2^32)
                pos[i * wp + j] = i * wp + j
        for shift in range(0, 32, _RADIX_BITS):
            count[:] = 0
            for e in range(n):
                count[((k[e] >> shift) & (n_bins - 1)) + 1] += 1
            if count[((k[0] >> shift) & (n_bins - 1)) + 1] == n:
                continue  # one digit value only: the pass would not move anything
            for d in range(n_bins):
                count[d + 1] += count[d]
            for e in range(n):
                d = (k[e] >> shift) & (n_bins - 1)
                q = count[d]
                count[d] = q + 1
                k_next[q] = k[e]
                pos_next[q] = pos[e]
            k, k_next = k_next, k
            pos, pos_next = pos_next, pos
        for r in range(n):
            out[c, pos[r] // wp, pos[r] % wp] = r


@njit(cache=True, inline="always")  # inlined at numba IR level: called per column in the hot loops
def _slide(bkeys, x, c, wrow, rows, col, j, key, rank, vals, leaving, above):
    """Enter padded column ``j`` (source column ``col``) of channel ``c`` into the sliding window.

    The window's T^2 samples live in T column slots (column ``j`` in slot ``j % T``)
    with a key each, their rank in the band (:func:`_band_ranks`; the window's first
    row is band row ``wrow``), so keys are distinct and sort like the stable sort.
    The column's T samples replace those of column ``j - T``; every other sample's
    rank changes by (new keys below it) - (leaving keys below it), and the new
    samples' ranks follow from how many keys lie above them. ``key`` is padded to a
    multiple of 32 with the key dtype's maximum (above every key) so the comparison
    loops vectorize; ``vals`` receives the samples' values.
    """
    t = rows.shape[0]
    npad = key.shape[0]
    base = (j % t) * t
    one = rank[0] - rank[0] + 1  # 1 and 0 of the key dtype: keeps the loops in narrow lanes
    zero = one - one
    for a in range(t):
        leaving[a] = key[base + a]
        key[base + a] = bkeys[c, wrow + a, j]
        vals[base + a] = x[c, rows[a], col]
    for a in range(t):
        new_key = key[base + a]
        old_key = leaving[a]
        count = zero
        for e in range(npad):
            ke = key[e]
            new_below = one if new_key < ke else zero
            rank[e] += new_below - (one if old_key < ke else zero)
            count += new_below
        above[a] = count
    for a in range(t):
        rank[base + a] = npad - 1 - above[a]


@njit(cache=True)
def _window_buffers(bkeys, t):
    """Keys, ranks and the leaving / above scratch of one sliding window, in the band keys' dtype.

    Key and rank arrays are padded from T^2 to a multiple of 32 entries (whole SIMD
    registers); :func:`_start_channel` fills the keys with a value above every band rank.
    """
    npad = (t * t + 31) // 32 * 32
    key = np.empty(npad, bkeys.dtype)
    rank = np.empty(npad, bkeys.dtype)
    leaving = np.empty(t, bkeys.dtype)
    above = np.empty(t, bkeys.dtype)
    return key, rank, leaving, above


@njit(cache=True, inline="always")
def _start_channel(bkeys, key, rank):
    """Empty the sliding window before a channel's first column: every key above the band's ranks."""
    key[:] = bkeys.shape[1] * bkeys.shape[2]
    rank[:] = 0


@njit(cache=True)
def _kth_smallest(values, k):
    """The ``k``-th smallest of ``values`` (0-based) by quickselect; reorders ``values`` in place."""
    lo = 0
    hi = values.shape[0] - 1
    while lo < hi:
        pivot = values[k]
        i = lo
        j = hi
        while i <= j:
            while values[i] < pivot:
                i += 1
            while pivot < values[j]:
                j -= 1
            if i <= j:
                values[i], values[j] = values[j], values[i]
                i += 1
                j -= 1
        if j < k:
            lo = i
        if k < i:
            hi = j
    return values[k]


@njit(parallel=True, cache=True, fastmath=False)
def _median_reference(x, t):
    """Median reference, Eq. (7): per channel and rank, the lower median over the
    non-overlapping T x T tiles of the unpadded map (edge remainders dropped), (C, T*T).

    The same values as :func:`fca_utils.core.reference.median` with ``scale=False``,
    without building and ``torch.sort``-ing a tensor of every tile. The tiles of a
    channel are sorted together: with the values laid out by position in the tile
    (``vals[p, tile]``), each position is compared with every other one across all
    tiles at once, and a value's rank in its tile is how many lie below it plus how
    many equal ones come before it (the stable sort's order; only the sorted values
    are kept).
    """
    n_ch, h, w = x.shape
    ty, tx = h // t, w // t
    n_tiles = ty * tx
    n = t * t
    out = np.empty((n_ch, n), x.dtype)
    for c in prange(n_ch):
        vals = np.empty((n, n_tiles), x.dtype)
        for i in range(ty):
            for k in range(tx):
                for a in range(t):
                    for b in range(t):
                        vals[a * t + b, i * tx + k] = x[c, i * t + a, k * t + b]
        below = np.zeros((n, n_tiles), np.int32)
        for p in range(n):
            mine = vals[p]
            count = below[p]
            for q in range(n):
                other = vals[q]
                if q < p:
                    for j in range(n_tiles):
                        count[j] += 1 if other[j] <= mine[j] else 0
                elif q > p:
                    for j in range(n_tiles):
                        count[j] += 1 if other[j] < mine[j] else 0
        by_rank = np.empty((n, n_tiles), x.dtype)
        for p in range(n):
            for j in range(n_tiles):
                by_rank[below[p, j], j] = vals[p, j]
        for r in range(n):
            out[c, r] = _kth_smallest(by_rank[r], (n_tiles - 1) // 2)
    return out


@njit(parallel=True, cache=True)
def _fill_band(x, ry, rx, t, band):
    """Copy the padded rows ``ry`` x columns ``rx`` of every channel into ``band`` (C, L), row after row.

    Padded sample ``(i, j)`` goes to ``band[c, t + (t + i) * Wp + j]`` (``Wp = len(rx)``);
    the ``t`` rows plus ``t`` values before and after the samples are zeros, so that a
    sample's neighbours up to ``T - 1`` rows and columns away (:func:`_part_errors`) are
    always inside the array.
    """
    hb = ry.shape[0]
    wp = rx.shape[0]
    for c in prange(x.shape[0]):
        out = band[c]
        out[: t + t * wp] = 0
        out[t + (t + hb) * wp :] = 0
        for i in range(hb):
            src = x[c, ry[i]]
            o = t + (t + i) * wp
            for j in range(wp):
                out[o + j] = src[rx[j]]


@njit(cache=True)
def _part_errors(band, wp, refs, t, a, b, block, counts, err):
    """Channel- and reference-summed errors ``E_w`` of the window rows ``a .. b - 1`` of a tile.

    Steps 1 and 2 of the module docstring. Window ``(wy, wx)`` covers the band's
    padded rows ``wy .. wy + T - 1`` and columns ``wx .. wx + T - 1``. Samples are
    taken ``block`` padded rows at a time, all channels of those rows before the next
    rows, so that the lanes of every loop run over ``block * Wp`` samples at once:
    on the band's flat layout (:func:`_fill_band`) the neighbour ``(dy, dx)`` of every
    sample lies the same ``dy * Wp + dx`` values away. A count can include samples
    of the next or previous row (or the zero margins) only for windows that would
    reach past the band's edge: those windows do not exist and their counts are
    never read.

    Parameters
    ----------
    band : (C, L) padded band of values (:func:`_fill_band`).
    wp : padded width ``W + T - 1``.
    refs : (K, C, T*T) float64 sorted references.
    t : window side T.
    a, b : the window rows to compute, as rows of ``err``.
    block : padded rows of samples taken at once.
    counts : empty array whose dtype holds a count up to T^2 - 1 (uint8 for T <= 15).
    err : (tile rows, W, T*T) float64 output, position index ``oy * T + ox`` (row-major).
    """
    n_ch = band.shape[0]
    width = err.shape[1]
    m = 2 * t - 1
    n = t * t
    n_ref = refs.shape[0]
    below = np.zeros((m, block * wp), counts.dtype)  # below[dx + T - 1]: neighbours in column dx below the sample
    rank = np.zeros(block * wp, counts.dtype)
    ring = t + block - 1  # window rows a block of samples reaches
    acc = np.zeros((ring, n, width))
    vals = np.empty(block * wp)
    for py0 in range(a, b + t - 1, block):
        rows = min(block, b + t - 1 - py0)
        lanes = rows * wp
        start = t + (py0 + t) * wp
        for c in range(n_ch):
            flat = band[c]
            own = flat[start : start + lanes]
            for f in range(lanes):
                vals[f] = own[f]
            for oy in range(t):
                # below[dx + T - 1]: how many of the samples at (dy, dx), dy = -oy .. T - 1 - oy, lie below
                # each sample; a neighbour before the sample in row-major order counts when <= (ties rank
                # by position, like the stable sort), one after it when <.
                for k in range(m):
                    dx = k - (t - 1)
                    count = below[k, :lanes]
                    if oy == 0:
                        count[:] = 0
                        for dy in range(t):
                            o = start + dy * wp + dx
                            nb = flat[o : o + lanes]
                            if dy > 0 or dx >= 0:
                                for f in range(lanes):
                                    count[f] += 1 if nb[f] < own[f] else 0
                            else:
                                for f in range(lanes):
                                    count[f] += 1 if nb[f] <= own[f] else 0
                    else:  # the rows move up by one: row -oy comes in (before), row T - oy leaves (after)
                        o_in = start - oy * wp + dx
                        o_out = start + (t - oy) * wp + dx
                        come = flat[o_in : o_in + lanes]
                        leave = flat[o_out : o_out + lanes]
                        for f in range(lanes):
                            count[f] += (1 if come[f] <= own[f] else 0) - (1 if leave[f] < own[f] else 0)
                for ox in range(t):
                    # rank in the window whose first row and column are oy rows and ox columns before
                    # the sample's: the sum of ``below`` over the columns dx = -ox .. T - 1 - ox
                    if ox == 0:
                        rank[:lanes] = 0
                        for k in range(t - 1, m):
                            col = below[k, :lanes]
                            for f in range(lanes):
                                rank[f] += col[f]
                    else:
                        col_in = below[t - 1 - ox, :lanes]
                        col_out = below[m - ox, :lanes]
                        for f in range(lanes):
                            rank[f] += col_in[f] - col_out[f]
                    for i in range(rows):
                        wy = py0 + i - oy
                        if wy < a or wy >= b:
                            continue
                        out = acc[wy % ring, oy * t + ox]
                        v = vals[i * wp + ox : i * wp + ox + width]
                        r = rank[i * wp + ox : i * wp + ox + width]
                        for k in range(n_ref):
                            ref = refs[k, c]
                            for f in range(width):
                                out[f] += abs(v[f] - ref[r[f]])
        for wy in range(max(a, py0 - t + 1), min(b, py0 + rows - t + 1)):  # rows no later sample reaches
            done = acc[wy % ring]
            for e in range(n):
                for x0 in range(width):
                    err[wy, x0, e] = done[e, x0]
            done[:] = 0.0


@njit(parallel=True, cache=True)
def _tile_errors(band, wp, refs, t, bounds, block, counts, err):
    """:func:`_part_errors` of the window rows ``bounds[i] .. bounds[i + 1] - 1`` of a tile, in parallel over ``i``."""
    for i in prange(bounds.shape[0] - 1):
        _part_errors(band, wp, refs, t, bounds[i], bounds[i + 1], block, counts, err)


@njit(parallel=True, cache=True, fastmath=False)
def _smooth_and_weigh(err, smooth, weight, norm):
    """In place: ``E_w <- norm * weight * (smooth @ E_w @ smooth.T)`` for every window (Eq. 5)."""
    t = smooth.shape[0]
    for i in prange(err.shape[0]):
        tmp = np.empty((t, t))
        for x in range(err.shape[1]):
            e = err[i, x].reshape((t, t))
            for a in range(t):
                for b in range(t):
                    s = 0.0
                    for k in range(t):
                        s += smooth[a, k] * e[k, b]
                    tmp[a, b] = s
            for a in range(t):
                for b in range(t):
                    s = 0.0
                    for k in range(t):
                        s += tmp[a, k] * smooth[b, k]
                    e[a, b] = norm * weight[a, b] * s


@njit(parallel=True, cache=True, fastmath=False)
def _fold(contrib, t, y0, canvas):
    """Add every window's T x T contribution into the padded canvas at its own place.

    Parallel over canvas rows, each summing the T rows of windows that reach it, so
    no two threads write the same row.
    """
    n, width, _ = contrib.shape
    for yy in prange(y0, y0 + n + t - 1):
        for a in range(t):
            i = yy - a - y0
            if i < 0 or i >= n:
                continue
            for x in range(width):
                for b in range(t):
                    canvas[yy, x + b] += contrib[i, x, a * t + b]


@njit(parallel=True, cache=True, fastmath=False)
def _weigh_centres(err, weight, norm, out):
    """SWW, Eq. (4): ``out[i, x] = norm * sum_k weight[k] E_w[k]`` for every window."""
    for i in prange(err.shape[0]):
        for x in range(err.shape[1]):
            s = 0.0
            for k in range(err.shape[2]):
                s += weight[k] * err[i, x, k]
            out[i, x] = norm * s


# --------------------------------------------------------------------------- per-window references (k-NN)


@njit(cache=True)
def _row_sorted(x, bkeys, rows, wrow, rx, out):
    """Sorted values of one row of windows: ``out[c, x0, :]`` for every channel and window.

    Ranks come from the sliding update of :func:`_slide` (step 5 of the module
    docstring). ``x`` (C, H, W) values; ``bkeys`` (C, rows of the band, W + T - 1)
    band keys (:func:`band_keys`); ``rows`` (T,) source rows of the windows' padded
    rows, the first being band row ``wrow``; ``rx`` the source column of every
    padded column; ``out`` is (C, W, T*T).
    """
    n_ch = x.shape[0]
    width = out.shape[1]
    t = rows.shape[0]
    n = t * t
    key, rank, leaving, above = _window_buffers(bkeys, t)
    vals = np.empty(n, x.dtype)
    for c in range(n_ch):
        _start_channel(bkeys, key, rank)
        for j in range(width + t - 1):
            _slide(bkeys, x, c, wrow, rows, rx[j], j, key, rank, vals, leaving, above)
            x0 = j - t + 1
            if x0 >= 0:
                for e in range(n):
                    out[c, x0, rank[e]] = vals[e]


@njit(parallel=True, cache=True, fastmath=False)
def _sorted_windows(x, bkeys, ry, rx, out):
    """Sorted values of every window, ``out`` (C, H*W, T*T), windows row-major; parallel over rows.

    ``bkeys`` are the band keys of the whole padded map.
    """
    t = ry.shape[0] - x.shape[1] + 1
    width = rx.shape[0] - t + 1
    for y in prange(x.shape[1]):
        _row_sorted(x, bkeys, ry[y : y + t], y, rx, out[:, y * width : (y + 1) * width])


@njit(cache=True)
def _row_knn_accumulate(x, bkeys, ry, rx, sw, idx, y, acc):
    """Add the k-NN errors of window row ``y`` of the channels of ``x`` into ``acc`` (W, T*T), by slot.

    Window ``w = y * W + x0`` is compared with the sorted windows ``sw[:, idx[w, r]]``
    (``sw`` is (C, H*W, T*T) from :func:`_sorted_windows`, for the same channels as
    ``x``; ``idx`` (H*W, k)). The window's own sorted values are ``sw[c, w]``, so the
    error of rank ``j``, ``sum_r |sw[c, w, j] - sw[c, idx[w, r], j]|``, is summed over
    the references on contiguous rows first, then sent to the position holding rank
    ``j`` (the ranks of the sliding update): one gather per sample instead of k.
    Positions are stored by slot ``s * T + a`` (column slot of the sliding window,
    row); :func:`_knn_slots_to_positions` reorders them. Channels are added in order,
    so calling this on consecutive chunks of channels gives the same sums as one call.
    """
    n_ch = x.shape[0]
    width = acc.shape[0]
    t = ry.shape[0] - x.shape[1] + 1
    n = t * t
    rows = ry[y : y + t]
    n_ref = idx.shape[1]
    first = y * width
    key, rank, leaving, above = _window_buffers(bkeys, t)
    vals = np.empty(n)
    by_rank = np.empty(n)
    for c in range(n_ch):
        _start_channel(bkeys, key, rank)
        for j in range(width + t - 1):
            _slide(bkeys, x, c, y, rows, rx[j], j, key, rank, vals, leaving, above)
            x0 = j - t + 1
            if x0 >= 0:
                own = sw[c, first + x0]
                by_rank[:] = 0.0
                for r in range(n_ref):
                    ref = sw[c, idx[first + x0, r]]
                    for e in range(n):
                        by_rank[e] += abs(np.float64(own[e]) - np.float64(ref[e]))
                for e in range(n):
                    acc[x0, e] += by_rank[rank[e]]


@njit(parallel=True, cache=True, fastmath=False)
def _knn_accumulate(x, bkeys, ry, rx, sw, idx, acc):
    """``_row_knn_accumulate`` for every window row, ``acc`` (H, W, T*T); parallel over rows.

    ``bkeys`` are the band keys of the whole padded map.
    """
    for y in prange(acc.shape[0]):
        _row_knn_accumulate(x, bkeys, ry, rx, sw, idx, y, acc[y])


@njit(parallel=True, cache=True)
def _knn_slots_to_positions(acc, t, err):
    """``err[i, x0, a * T + b] = acc[i, x0, s * T + a]`` with ``s = (x0 + b) % T``: slots to window positions."""
    for i in prange(acc.shape[0]):
        for x0 in range(acc.shape[1]):
            for b in range(t):
                s = (x0 + b) % t
                for a in range(t):
                    err[i, x0, a * t + b] = acc[i, x0, s * t + a]


@njit(parallel=True, cache=True, fastmath=True)
def _pair_costs(sw, queries, cand, bounds, parts):
    """``parts[p, q, j] += sum_{c in bounds[p] .. bounds[p+1]-1} sum_i |sw[c, queries[q], i] - sw[c, cand[q, j], i]|``.

    L1 distances of sorted windows, split over ``len(parts)`` chunks of channels
    that run in parallel; the caller sums ``parts`` over its first axis. ``sw`` is
    (C, N, T*T), ``queries`` (Q,), ``cand`` (Q, P), ``bounds`` (n_parts + 1,) channel
    starts, ``parts`` (n_parts, Q, P) float64, added to (not overwritten): calling this
    on consecutive chunks of each part's channels gives the same sums as one call.
    Within a part, channels are the outer loop, so all pairs read one channel's
    N * T*T values (a few MiB) while they are in cache, and the parts need no
    synchronization. Each pair's T*T terms of one channel are summed in the
    values' dtype, then added in float64.
    """
    n_parts = parts.shape[0]
    n_q, n_c = cand.shape
    m = sw.shape[2]
    for p in prange(n_parts):
        out = parts[p]
        for c in range(bounds[p], bounds[p + 1]):
            slab = sw[c]
            for q in range(n_q):
                a = slab[queries[q]]
                j = 0
                while j + 4 <= n_c:  # four candidates per pass over the query's values
                    v0 = slab[cand[q, j]]
                    v1 = slab[cand[q, j + 1]]
                    v2 = slab[cand[q, j + 2]]
                    v3 = slab[cand[q, j + 3]]
                    s0 = a[0] - a[0]
                    s1 = s0
                    s2 = s0
                    s3 = s0
                    for i in range(m):
                        ai = a[i]
                        s0 += abs(ai - v0[i])
                        s1 += abs(ai - v1[i])
                        s2 += abs(ai - v2[i])
                        s3 += abs(ai - v3[i])
                    out[q, j] += s0
                    out[q, j + 1] += s1
                    out[q, j + 2] += s2
                    out[q, j + 3] += s3
                    j += 4
                while j < n_c:
                    v0 = slab[cand[q, j]]
                    s0 = a[0] - a[0]
                    for i in range(m):
                        s0 += abs(a[i] - v0[i])
                    out[q, j] += s0
                    j += 1


@njit(parallel=True, cache=True)
def _run_sums(sw, starts, out):
    """``out[c, w, r] = sum(sw[c, w, starts[r] : starts[r + 1]])`` (the last run ends at T*T)."""
    n_runs = starts.shape[0]
    m = sw.shape[2]
    for c in prange(sw.shape[0]):
        for w in range(sw.shape[1]):
            for r in range(n_runs):
                end = starts[r + 1] if r + 1 < n_runs else m
                s = sw[c, w, starts[r]] - sw[c, w, starts[r]]
                for i in range(starts[r], end):
                    s += sw[c, w, i]
                out[c, w, r] = s


# --------------------------------------------------------------------------- host side


def _reflect_indices(n: int, pad: int) -> np.ndarray:
    """Source index of every position of a reflect-padded axis (edge not repeated)."""
    idx = np.abs(np.arange(-pad, n + pad))
    return np.where(idx > n - 1, 2 * (n - 1) - idx, idx).astype(np.int64)


def smoothing_matrix(t: int, sigma_s: float | None, kernel_size: int = SMOOTH_KERNEL) -> np.ndarray:
    """The T x T matrix ``A`` of the 1-D ``kernel_size``-tap Gaussian blur with reflect padding.

    Blurring a T x T map ``E`` as :func:`fca_utils.core.ops.gaussian_blur` does equals
    ``A @ E @ A.T``; ``sigma_s=None`` (no smoothing) gives the identity.
    """
    if sigma_s is None:
        return np.eye(t)
    g = gaussian_kernel1d(kernel_size, sigma_s, dtype=torch.float64).numpy()
    src = _reflect_indices(t, kernel_size // 2)
    a = np.zeros((t, t))
    for row in range(t):
        for k in range(kernel_size):
            a[row, src[row + k]] += g[k]
    return a


def kernel_input(feats: torch.Tensor) -> np.ndarray:
    """Contiguous NumPy view (float32/float64) of a CPU feature map for the kernels."""
    if feats.dtype not in (torch.float32, torch.float64):
        feats = feats.float()
    return feats.detach().contiguous().numpy()


def order_keys(x: np.ndarray) -> np.ndarray:
    """int32 keys that order every channel's values like the values themselves.

    float32: the bit patterns (a view; :func:`_order_key` makes them monotone).
    float64: the rank of each value among its channel's distinct values.
    """
    if x.dtype == np.float32:
        return x.view(np.int32)
    keys = np.empty(x.shape, np.int32)
    for c in range(x.shape[0]):
        keys[c] = np.unique(x[c], return_inverse=True)[1].reshape(x.shape[1:])
    return keys


def band_keys(keys: np.ndarray, ry: np.ndarray, rx: np.ndarray) -> np.ndarray:
    """Ranks of a band of padded samples, the keys the sliding windows compare.

    ``keys`` are :func:`order_keys` (C, H, W); the band is the padded rows whose source
    rows are ``ry`` by the padded columns ``rx``. ``out[c, i, j]`` is the rank of sample
    ``(i, j)`` among the band's samples of channel ``c``, ordered by value and equal
    values by row-major position, so within any window they order the samples as the
    straightforward version's stable sort does. int16 when the band has at most 32767
    samples (1024^2 images: 136 x 136), else int32: narrow keys fill more SIMD lanes.
    """
    n = ry.shape[0] * rx.shape[0]
    out = np.empty((keys.shape[0], ry.shape[0], rx.shape[0]), np.int16 if n <= np.iinfo(np.int16).max else np.int32)
    _band_ranks(keys, np.ascontiguousarray(ry), np.ascontiguousarray(rx), out)
    return out


def median_reference(x: np.ndarray, t: int) -> np.ndarray:
    """The median reference of Eq. (7), (C, T*T), of a :func:`kernel_input` array ``x``.

    The same values as :func:`fca_utils.core.reference.median` with ``scale=False``:
    per channel, the median over the non-overlapping T x T tiles of each order statistic.
    """
    return _median_reference(x, t)


def _inputs(feats: torch.Tensor, t: int, windows, neighbours, sorted_bytes: int | None = None):
    """The kernels' NumPy inputs: values, references and reflect indices.

    ``refs`` is the (K, C, T*T) float64 array of shared sorted references (the median
    of Eq. (7) when ``windows`` is None), or with ``neighbours`` the pair
    ``(every window's k-NN errors by slot (H, W, T*T), (H*W, k) int64 indices)``, the
    errors summed over channels from the sorted windows of at most ``sorted_bytes``
    (default :data:`SORTED_BYTES`) of channels at a time.
    """
    x = kernel_input(feats)
    _, h, w = x.shape
    p = t // 2
    ry, rx = _reflect_indices(h, p), _reflect_indices(w, p)
    if neighbours is not None:
        idx = np.ascontiguousarray(torch.as_tensor(neighbours).detach().cpu().numpy().astype(np.int64))
        if idx.ndim != 2 or idx.shape[0] != h * w or idx.shape[1] < 1:
            raise ValueError(f"neighbours must be (H*W, k) = ({h * w}, k) window indices, got {idx.shape}")
        if idx.min() < 0 or idx.max() >= h * w:
            raise ValueError(f"neighbours must lie in [0, {h * w}), got [{idx.min()}, {idx.max()}]")
        acc = np.zeros((h, w, t * t))
        step = channels_per_chunk(h * w, t, x.dtype.itemsize, sorted_bytes)
        keys = order_keys(x)
        for c0 in range(0, x.shape[0], step):
            part, part_keys = x[c0 : c0 + step], keys[c0 : c0 + step]
            sw = np.empty((part.shape[0], h * w, t * t), x.dtype)
            part_bkeys = band_keys(part_keys, ry, rx)
            _sorted_windows(part, part_bkeys, ry, rx, sw)
            _knn_accumulate(part, part_bkeys, ry, rx, sw, idx, acc)
            del sw
        refs = (acc, idx)
    elif windows is None:
        refs = _median_reference(x, t)[None].astype(np.float64)
    else:
        refs = windows.to(torch.float64).contiguous().numpy()
    return x, refs, ry, rx


def _errors(x, ry, rx, refs, y0: int, err: np.ndarray) -> float:
    """Fill ``err`` with the summed errors ``E_w`` of a tile of window rows; returns 1 / (C * K)."""
    if isinstance(refs, tuple):
        acc, idx = refs
        _knn_slots_to_positions(acc[y0 : y0 + err.shape[0]], ry.shape[0] - x.shape[1] + 1, err)
        return 1.0 / (x.shape[0] * idx.shape[1])
    t = ry.shape[0] - x.shape[1] + 1
    rows = err.shape[0]
    ry = ry[y0 : y0 + rows + t - 1]
    band = np.empty((x.shape[0], (ry.shape[0] + 2 * t) * rx.shape[0] + 2 * t), x.dtype)
    _fill_band(x, ry, rx, t, band)
    # One part of window rows per thread, each at least T rows: a part recounts the T - 1 sample
    # rows it shares with the next one.
    parts = max(1, min(numba.get_num_threads(), rows // t))
    bounds = np.array([i * rows // parts for i in range(parts + 1)], np.int64)
    counts = np.empty(0, np.uint8 if t * t <= 256 else np.uint16 if t * t <= 65536 else np.uint32)
    _tile_errors(band, rx.shape[0], refs, t, bounds, BLOCK_ROWS, counts, err)
    return 1.0 / (x.shape[0] * refs.shape[0])


def sorted_windows(feats, patch_size: int, *, scale: bool = True) -> np.ndarray:
    """Per-channel sorted values of every T x T window, as a (C, H*W, T*T) NumPy array.

    The same values as ``torch.sort`` of :func:`fca_utils.core.windows.iter_window_rows`'s
    windows (windows row-major, reflect padding), computed with the sliding ranks of
    step 5 of the module docstring; float32 or float64 like the input (other dtypes: float32).
    """
    feats, t = prepare_features(feats, patch_size, scale)
    return _sorted_of(kernel_input(feats), t)


def _sorted_of(x: np.ndarray, t: int) -> np.ndarray:
    """Sorted windows ``(C, H*W, T*T)`` of a :func:`kernel_input` array, reflect-padded."""
    _, h, w = x.shape
    p = t // 2
    out = np.empty((x.shape[0], h * w, t * t), x.dtype)
    ry, rx = _reflect_indices(h, p), _reflect_indices(w, p)
    _sorted_windows(x, band_keys(order_keys(x), ry, rx), ry, rx, out)
    return out


def run_sums(sw: np.ndarray, starts) -> np.ndarray:
    """Sums of runs of consecutive ranks: (C, N, R) from sorted windows (C, N, T*T).

    Run ``r`` covers ranks ``starts[r] .. starts[r + 1] - 1`` (the last one up to T*T - 1);
    the L1 distance of two windows' run sums is a lower bound of their exact L1 cost.
    """
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    m = sw.shape[2]
    if starts.ndim != 1 or starts.size < 1 or starts[0] != 0 or np.any(np.diff(starts) < 1) or starts[-1] >= m:
        raise ValueError(f"starts must rise strictly from 0 and stay below {m}, got {starts.tolist()}")
    out = np.empty((sw.shape[0], sw.shape[1], starts.size), sw.dtype)
    _run_sums(sw, starts, out)
    return out


def pair_costs(sw: np.ndarray, queries: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """L1 distances between sorted windows: ``out[q, j] = sum |sw[:, queries[q]] - sw[:, cand[q, j]]|``.

    ``sw`` (C, N, T*T) from :func:`sorted_windows`, ``queries`` (Q,), ``cand`` (Q, P)
    window indices; returns (Q, P) float64. Divide by ``C * T*T`` for the mean cost.
    """
    queries, cand = _check_pairs(queries, cand, sw.shape[1])
    n_parts = max(1, min(PAIR_PARTS, sw.shape[0]))
    parts = np.zeros((n_parts, *cand.shape))
    _pair_costs(sw, queries, cand, _part_bounds(sw.shape[0], n_parts), parts)
    return parts.sum(axis=0)


def _part_bounds(n_ch: int, n_parts: int) -> np.ndarray:
    """First channel of each of ``n_parts`` parts of ``n_ch`` channels, and ``n_ch``."""
    return np.array([p * n_ch // n_parts for p in range(n_parts + 1)], np.int64)


def _check_pairs(queries, cand, n: int) -> tuple[np.ndarray, np.ndarray]:
    queries = np.ascontiguousarray(queries, dtype=np.int64)
    cand = np.ascontiguousarray(cand, dtype=np.int64)
    if cand.ndim != 2 or queries.shape != cand.shape[:1]:
        raise ValueError(f"queries must be (Q,) and cand (Q, P); got {queries.shape} and {cand.shape}")
    for name, a in (("queries", queries), ("cand", cand)):
        if a.size and (a.min() < 0 or a.max() >= n):
            raise ValueError(f"{name} must be window indices in [0, {n}), got [{a.min()}, {a.max()}]")
    return queries, cand


def channels_per_chunk(n_windows: int, t: int, itemsize: int, sorted_bytes: int | None = None) -> int:
    """Channels whose sorted windows ``(c, N, T*T)`` fit in ``sorted_bytes`` (default :data:`SORTED_BYTES`), at least 1."""
    budget = SORTED_BYTES if sorted_bytes is None else sorted_bytes
    if isinstance(budget, bool) or int(budget) != budget or budget < 1:
        raise ValueError(f"sorted_bytes must be a positive number of bytes, got {sorted_bytes!r}")
    return max(1, int(budget) // (n_windows * t * t * itemsize))


def sorted_channels(feats: torch.Tensor, t: int, channels) -> np.ndarray:
    """Sorted windows ``(len(channels), H*W, T*T)`` of some channels of an already scaled map."""
    return _sorted_of(np.ascontiguousarray(kernel_input(feats)[np.asarray(channels, np.int64)]), t)


def pair_costs_chunked(feats: torch.Tensor, t: int, queries, cand, *, sorted_bytes: int | None = None) -> np.ndarray:
    """:func:`pair_costs` of the sorted windows of an already scaled map, built a few channels at a time.

    The same numbers as ``pair_costs(sorted_windows(feats, t, scale=False), queries, cand)``
    (each part of channels adds its channels in the same order), holding at most about
    ``sorted_bytes`` of sorted windows at a time: chunk ``i`` holds the ``i``-th run of
    channels of every part, so the parts still run in parallel.
    """
    n_ch, h, w = feats.shape
    queries, cand = _check_pairs(queries, cand, h * w)
    n_parts = max(1, min(PAIR_PARTS, n_ch))
    bounds = _part_bounds(n_ch, n_parts)
    itemsize = 8 if feats.dtype == torch.float64 else 4
    step = max(1, channels_per_chunk(h * w, t, itemsize, sorted_bytes) // n_parts)
    parts = np.zeros((n_parts, *cand.shape))
    for i in range(0, int(np.diff(bounds).max()), step):
        runs = [np.arange(min(bounds[p] + i, bounds[p + 1]), min(bounds[p] + i + step, bounds[p + 1]))
                for p in range(n_parts)]
        sw = sorted_channels(feats, t, np.concatenate(runs))
        chunk_bounds = np.concatenate([[0], np.cumsum([len(r) for r in runs])]).astype(np.int64)
        _pair_costs(sw, queries, cand, chunk_bounds, parts)
    return parts.sum(axis=0)


def _tile_rows(width: int, t: int, tile_rows: int | None) -> int:
    """Rows of windows per tile: ``tile_rows`` checked, or as many as ``TILE_BYTES`` allows."""
    if tile_rows is None:
        return max(1, TILE_BYTES // (8 * width * t * t))
    if int(tile_rows) != tile_rows or tile_rows < 1:
        raise ValueError(f"tile_rows must be a positive integer, got {tile_rows!r}")
    return int(tile_rows)


def sww(feats: torch.Tensor, t: int, sigma: float, windows: torch.Tensor | None = None,
        neighbours: torch.Tensor | None = None, *, tile_rows: int | None = None,
        sorted_bytes: int | None = None) -> torch.Tensor:
    """Sample-weighted Wasserstein, Eq. (4), with the numba kernels.

    ``S(x, y) = sum_{(x',y') in P_xy} M(x', y'; P_xy) G_sigma(x'-x, y'-y)``, computed as
    described in the module docstring: ``S = sum_i G_sigma[i] E_w[i] / (C K)``.
    :func:`fca_utils.core.statistics.sww` checks its arguments, scales the features
    and turns its ``reference`` into ``windows`` or ``neighbours`` before calling this.

    Parameters
    ----------
    feats : (C, H, W) CPU tensor, already scaled (:func:`fca_utils.core.ops.prepare_features`)
    t : odd window side T, at most ``min(H, W)``
    sigma : sigma of the spatial weights ``G_sigma``
    windows : (K, C, T*T) sorted reference windows, shared by every window;
        None: the median reference of Eq. (7)
    neighbours : (H*W, k) indices of each window's own k reference windows (k-NN,
        step 5 of the module docstring); replaces ``windows``
    tile_rows : rows of windows per tile (default: as many as fit in ``TILE_BYTES``);
        the result does not depend on it.
    sorted_bytes : with ``neighbours``, the sorted windows are built for as many channels
        at a time as fit in this many bytes (default ``SORTED_BYTES``); the result does
        not depend on it.

    Returns
    -------
    (H, W) tensor of the input's dtype, on the CPU.
    """
    x, refs, ry, rx = _inputs(feats, t, windows, neighbours, sorted_bytes)
    n_ch, h, w = x.shape
    weight = gaussian_kernel2d(t, sigma, dtype=torch.float64).reshape(-1).numpy()
    out = np.empty((h, w))
    rows = _tile_rows(w, t, tile_rows)
    for y0 in range(0, h, rows):
        err = np.empty((min(rows, h - y0), w, t * t))
        norm = _errors(x, ry, rx, refs, y0, err)
        _weigh_centres(err, weight, norm, out[y0 : y0 + err.shape[0]])
    return torch.from_numpy(out).to(feats.dtype)


def fca(feats: torch.Tensor, t: int, sigma_p: float, sigma_s: float | None, windows: torch.Tensor | None = None,
        neighbours: torch.Tensor | None = None, *, tile_rows: int | None = None,
        sorted_bytes: int | None = None) -> torch.Tensor:
    """Feature Correspondence Analysis, Eq. (5) with the smoothing G_{sigma_s}, with the numba kernels.

    ``S(x, y) = sum_{(x',y') in P_xy} G_{sigma_s}(M(., .; P_x'y'))(x, y) G_{sigma_p}(x'-x, y'-y)``,
    computed as described in the module docstring: every window adds
    ``G_{sigma_p} * (A E_w A^T) / (C K)`` to the pixels it covers.
    :func:`fca_utils.core.statistics.fca` checks its arguments, scales the features
    and turns its ``reference`` into ``windows`` or ``neighbours`` before calling this.

    Parameters
    ----------
    feats : (C, H, W) CPU tensor, already scaled (:func:`fca_utils.core.ops.prepare_features`)
    t : odd window side T >= 3, at most ``min(H, W)``
    sigma_p : sigma of the window weights ``G_{sigma_p}``
    sigma_s : sigma of the 5 x 5 per-window smoothing; None skips it (Eq. (5) exactly)
    windows, neighbours, tile_rows, sorted_bytes : as in :func:`sww`

    Returns
    -------
    (H, W) tensor of the input's dtype, on the CPU.
    """
    x, refs, ry, rx = _inputs(feats, t, windows, neighbours, sorted_bytes)
    n_ch, h, w = x.shape
    p = t // 2
    smooth = smoothing_matrix(t, sigma_s)
    weight = gaussian_kernel2d(t, sigma_p, dtype=torch.float64).numpy()
    canvas = np.zeros((h + 2 * p, w + 2 * p))
    rows = _tile_rows(w, t, tile_rows)
    for y0 in range(0, h, rows):
        err = np.empty((min(rows, h - y0), w, t * t))
        norm = _errors(x, ry, rx, refs, y0, err)
        _smooth_and_weigh(err, smooth, weight, norm)
        _fold(err, t, y0, canvas)
    return torch.from_numpy(canvas[p : p + h, p : p + w].copy()).to(feats.dtype)


# --------------------------------------------------------------------------- quantized FCA


def quantize(values: torch.Tensor, levels: int) -> torch.Tensor:
    """Level ``min(floor(levels * v), levels - 1)`` of every [0, 1]-scaled value, as int64.

    The quantization of :func:`fca_utils.core.statistics.qfca`: ``levels`` equal bins
    on [0, 1], the value 1 falling in the last one. Monotone, so it keeps sorted
    windows sorted and commutes with the median of Eq. (7).
    """
    return torch.floor(values * levels).clamp_(0, levels - 1).long()


def quantized_reference_tables(ref_levels: np.ndarray, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """``(at_most, prefix)`` of sorted reference levels ``(K, C, T*T)`` for :func:`_qfca_tile_errors`.

    ``at_most[k, c, l]``: how many ranks of reference ``k`` have a level <= ``l``;
    ``prefix[k, c, r]``: the sum of the levels of its ranks below ``r``.
    """
    k, c, n = ref_levels.shape
    at_most = np.stack([(ref_levels <= lvl).sum(axis=2) for lvl in range(levels)], axis=2).astype(np.int64)
    prefix = np.zeros((k, c, n + 1), np.int64)
    prefix[:, :, 1:] = np.cumsum(ref_levels, axis=2)
    return at_most, prefix


@njit(parallel=True, cache=True, fastmath=False)
def _qfca_tile_errors(qp, t, at_most, prefix, y0, err):
    """Quantized errors ``E_w`` (in units of one level) of window rows ``y0 ..``, summed over channels and references.

    ``qp`` is the reflect-padded level map, channels last: ``(H + T - 1, W + T - 1, C)``.
    For each window the level histograms of all channels slide along the row (one
    column out, one in). A level ``l`` with ``n_l`` samples occupies ranks
    ``[A, A + n_l)`` of the sorted window; the mean of ``|l - ref_level[r]|`` over those
    ranks is read in O(1) from the reference's ``at_most`` / ``prefix`` tables (the
    reference levels are sorted, so they are <= ``l`` exactly below rank ``at_most[l]``)
    into a (C, L) table; every position of the window then sums its channels' entries.
    """
    n_ch = qp.shape[2]
    n_ref, _, levels = at_most.shape
    rows, w, tt = err.shape
    for i in prange(rows):
        y = y0 + i
        hist = np.zeros((n_ch, levels), np.int64)
        table = np.zeros((n_ch, levels))
        for a in range(t):
            for b in range(t):
                for c in range(n_ch):
                    hist[c, qp[y + a, b, c]] += 1
        for x in range(w):
            if x > 0:
                for a in range(t):
                    for c in range(n_ch):
                        hist[c, qp[y + a, x - 1, c]] -= 1
                        hist[c, qp[y + a, x + t - 1, c]] += 1
            for c in range(n_ch):
                start = 0
                for lvl in range(levels):
                    n = hist[c, lvl]
                    if n == 0:
                        continue
                    lo, hi = start, start + n
                    start = hi
                    total = 0
                    for k in range(n_ref):
                        s = min(max(at_most[k, c, lvl], lo), hi)
                        total += (lvl * (2 * s - lo - hi) - 2 * prefix[k, c, s] + prefix[k, c, lo]
                                  + prefix[k, c, hi])
                    table[c, lvl] = total / n
            for a in range(t):
                for b in range(t):
                    px = qp[y + a, x + b]
                    acc = 0.0
                    for c in range(n_ch):
                        acc += table[c, px[c]]
                    err[i, x, a * t + b] = acc


def qfca(feats: torch.Tensor, t: int, sigma_p: float, sigma_s: float | None, levels: int,
         ref_levels: torch.Tensor, *, tile_rows: int | None = None) -> torch.Tensor:
    """Quantized FCA with the numba kernels: see :func:`fca_utils.core.statistics.qfca`.

    The histogram of every window replaces the sort of :func:`fca`; the smoothing,
    weights and accumulation are the same as FCA's (steps 3 and 4 of the module
    docstring).

    Parameters
    ----------
    feats : (C, H, W) CPU tensor, already scaled to [0, 1]
    t : odd window side T >= 3, at most ``min(H, W)``
    sigma_p, sigma_s : as in :func:`fca`
    levels : number of quantization levels L (2 to 256)
    ref_levels : (K, C, T*T) sorted reference levels (:func:`quantize` of sorted reference windows)
    tile_rows : as in :func:`fca`

    Returns
    -------
    (H, W) tensor of the input's dtype, on the CPU.
    """
    n_ch, h, w = feats.shape
    p = t // 2
    q = quantize(feats.detach(), levels).to(torch.uint8).numpy()
    ry, rx = _reflect_indices(h, p), _reflect_indices(w, p)
    qp = np.ascontiguousarray(q[:, ry][:, :, rx].transpose(1, 2, 0))  # (H + 2p, W + 2p, C)
    at_most, prefix = quantized_reference_tables(ref_levels.detach().cpu().numpy().astype(np.int64), levels)
    smooth = smoothing_matrix(t, sigma_s)
    weight = gaussian_kernel2d(t, sigma_p, dtype=torch.float64).numpy()
    canvas = np.zeros((h + 2 * p, w + 2 * p))
    rows = _tile_rows(w, t, tile_rows)
    norm = 1.0 / (n_ch * at_most.shape[0] * levels)
    for y0 in range(0, h, rows):
        err = np.empty((min(rows, h - y0), w, t * t))
        _qfca_tile_errors(qp, t, at_most, prefix, y0, err)
        _smooth_and_weigh(err, smooth, weight, norm)
        _fold(err, t, y0, canvas)
    return torch.from_numpy(canvas[p : p + h, p : p + w].copy()).to(feats.dtype)
