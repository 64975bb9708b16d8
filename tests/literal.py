"""Slow, literal implementations of the paper's equations, written loop by loop.

They share no code with ``fca_utils`` on purpose: every index, weight and sort is
spelled out here so the vectorized versions can be checked against the equations
on tiny inputs.
"""
from __future__ import annotations

import math

import numpy as np


def reflect(i: int, n: int) -> int:
    """Index of a reflect-padded coordinate (edge pixel not repeated)."""
    if i < 0:
        return -i
    if i > n - 1:
        return 2 * (n - 1) - i
    return i


def gauss1d(size: int, sigma: float) -> list[float]:
    half = (size - 1) / 2
    w = [math.exp(-0.5 * ((i - half) / sigma) ** 2) for i in range(size)]
    s = sum(w)
    return [v / s for v in w]


def gauss2d(size: int, sigma: float) -> np.ndarray:
    g = gauss1d(size, sigma)
    return np.array([[g[a] * g[b] for b in range(size)] for a in range(size)])


def scale(feats: np.ndarray) -> np.ndarray:
    out = np.empty_like(feats, dtype=np.float64)
    for c in range(feats.shape[0]):
        lo, hi = feats[c].min(), feats[c].max()
        out[c] = (feats[c] - lo) / (hi - lo + 1e-8)
    return out


def window(feats: np.ndarray, y: int, x: int, t: int) -> np.ndarray:
    """(C, T, T) window centred on (y, x) with reflection."""
    c, h, w = feats.shape
    p = t // 2
    out = np.empty((c, t, t))
    for a in range(t):
        for b in range(t):
            out[:, a, b] = feats[:, reflect(y + a - p, h), reflect(x + b - p, w)]
    return out


def sorted_windows(feats: np.ndarray, t: int) -> np.ndarray:
    """Every window's values sorted per channel, (H*W, C, T*T), windows row-major."""
    c, h, w = feats.shape
    return np.stack([np.sort(window(feats, y, x, t).reshape(c, t * t), axis=-1) for y in range(h) for x in range(w)])


def median_reference(feats: np.ndarray, t: int) -> np.ndarray:
    """Eq. (7): per channel, lower median over non-overlapping tiles of each order statistic."""
    c, h, w = feats.shape
    tiles = []
    for y0 in range(0, h - t + 1, t):
        for x0 in range(0, w - t + 1, t):
            tiles.append(np.sort(feats[:, y0 : y0 + t, x0 : x0 + t].reshape(c, -1), axis=1))
    ref = np.empty((c, t * t))
    n = len(tiles)
    for ch in range(c):
        for j in range(t * t):
            col = sorted(tile[ch, j] for tile in tiles)
            ref[ch, j] = col[(n - 1) // 2]
    return ref


def pixel_errors(win: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """M(., .; P): each pixel's |sorted - reference| at its rank, averaged over channels. (T, T)."""
    c, t, _ = win.shape
    m = np.zeros((t, t))
    for ch in range(c):
        flat = win[ch].reshape(-1)
        order = sorted(range(t * t), key=lambda i: flat[i])
        for rank, pos in enumerate(order):
            m[pos // t, pos % t] += abs(flat[pos] - ref[ch, rank]) / c
    return m


def smooth_window(m: np.ndarray, sigma: float, size: int = 5) -> np.ndarray:
    """5x5 Gaussian smoothing of a T x T map, reflect-padded inside the window."""
    t = m.shape[0]
    g = gauss1d(size, sigma)
    half = size // 2
    out = np.zeros_like(m)
    for a in range(t):
        for b in range(t):
            out[a, b] = sum(
                g[u] * g[v] * m[reflect(a + u - half, t), reflect(b + v - half, t)]
                for u in range(size)
                for v in range(size)
            )
    return out


def fca(feats, t, sigma_p, sigma_s, ref=None):
    """Eq. (5) with smoothing: add each window's weighted, smoothed errors into its pixels."""
    feats = scale(np.asarray(feats, dtype=np.float64))
    _, h, w = feats.shape
    ref = median_reference(feats, t) if ref is None else ref
    return window_sum(h, w, t, sigma_p, sigma_s, lambda y, x: pixel_errors(window(feats, y, x, t), ref))


def window_sum(h, w, t, sigma_p, sigma_s, errors_of_window):
    """Eq. (5)'s outer sum: the window centred on every (y, x) gives its (T, T) error map
    ``errors_of_window(y, x)``, smoothed by G_sigma_s (unless None), weighted by G_sigma_p
    and added into the pixels it covers."""
    gp = gauss2d(t, sigma_p)
    p = t // 2
    out = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            m = errors_of_window(y, x)
            if sigma_s is not None:
                m = smooth_window(m, sigma_s)
            for a in range(t):
                for b in range(t):
                    yy, xx = y + a - p, x + b - p
                    if 0 <= yy < h and 0 <= xx < w:
                        out[yy, xx] += m[a, b] * gp[a, b]
    return out


def quantize(v: float, levels: int) -> int:
    """QFCA's level of a [0, 1] value: floor(levels * v), the value 1 in the last level."""
    return min(int(math.floor(v * levels)), levels - 1)


def quantized_pixel_errors(win: np.ndarray, ref: np.ndarray, levels: int) -> np.ndarray:
    """QFCA's M(., .; P): each channel's window sorted by level; the rank-wise errors
    |level - reference level| / levels of the ranks a level occupies averaged, and that mean
    given to every pixel of the level; averaged over channels. win (C, T, T) of levels, ref (C, T*T) of levels."""
    c, t, _ = win.shape
    m = np.zeros((t, t))
    for ch in range(c):
        flat = [int(v) for v in win[ch].reshape(-1)]
        ranked = sorted(flat)
        errors_of_level = {}
        for rank, lvl in enumerate(ranked):
            errors_of_level.setdefault(lvl, []).append(abs(lvl - int(ref[ch, rank])) / levels)
        for pos, lvl in enumerate(flat):
            m[pos // t, pos % t] += sum(errors_of_level[lvl]) / len(errors_of_level[lvl]) / c
    return m


def qfca(feats, t, sigma_p, sigma_s, levels, ref=None):
    """Quantized FCA: Eq. (5) with quantized values and tie-shared errors (see statistics.qfca)."""
    feats = scale(np.asarray(feats, dtype=np.float64))
    c, h, w = feats.shape
    ref = median_reference(feats, t) if ref is None else ref
    qref = np.array([[quantize(v, levels) for v in row] for row in ref])
    q = np.empty(feats.shape, dtype=np.int64)
    for ch in range(c):
        for y in range(h):
            for x in range(w):
                q[ch, y, x] = quantize(feats[ch, y, x], levels)
    return window_sum(h, w, t, sigma_p, sigma_s,
                      lambda y, x: quantized_pixel_errors(window(q, y, x, t), qref, levels))


def sww(feats, t, sigma, ref=None):
    """Eq. (4): the window's own errors, Gaussian-weighted by position, summed into its centre."""
    feats = scale(np.asarray(feats, dtype=np.float64))
    c, h, w = feats.shape
    ref = median_reference(feats, t) if ref is None else ref
    g = gauss2d(t, sigma)
    out = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            out[y, x] = (pixel_errors(window(feats, y, x, t), ref) * g).sum()
    return out


def histogram(feats, t, bins, sigma, centers=None):
    """Eq. (3) with Gaussian-weighted local histograms; reference = mean of all local histograms,
    or, with ``centers`` [(y, x), ...], the local histograms there (distances averaged over them)."""
    feats = scale(np.asarray(feats, dtype=np.float64))
    c, h, w = feats.shape
    g = gauss2d(t, sigma)
    hists = np.zeros((h, w, c, bins))
    for y in range(h):
        for x in range(w):
            win = window(feats, y, x, t)
            for ch in range(c):
                for a in range(t):
                    for b in range(t):
                        k = int(math.floor(0.999 * bins * win[ch, a, b]))
                        hists[y, x, ch, k] += g[a, b]
    refs = [hists.mean(axis=(0, 1))] if centers is None else [hists[ry, rx] for ry, rx in centers]
    out = np.zeros((h, w))
    for ref in refs:
        for y in range(h):
            for x in range(w):
                total = 0.0
                for ch in range(c):
                    cdf_a = cdf_b = 0.0
                    emd = 0.0
                    for k in range(bins):
                        cdf_a += hists[y, x, ch, k]
                        cdf_b += ref[ch, k]
                        emd += abs(cdf_a - cdf_b) / bins
                    total += emd
                out[y, x] += total / c / len(refs)
    return out


def moments(feats, t, powers, sigma, centers=None):
    """Eq. (2) generalized: Gaussian-weighted local moments vs. their global average, or, with
    ``centers`` [(y, x), ...], vs. the local moments there (distances averaged over them)."""
    feats = scale(np.asarray(feats, dtype=np.float64))
    c, h, w = feats.shape
    g = gauss2d(t, sigma)
    local = np.zeros((h, w, c, len(powers)))
    for y in range(h):
        for x in range(w):
            win = window(feats, y, x, t)
            for ch in range(c):
                for i, pw in enumerate(powers):
                    local[y, x, ch, i] = (g * win[ch] ** pw).sum()
    refs = [local.mean(axis=(0, 1))] if centers is None else [local[ry, rx] for ry, rx in centers]
    return np.mean([((local - ref) ** 2).mean(axis=(2, 3)) for ref in refs], axis=0)
