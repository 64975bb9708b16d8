"""Padding an image with its own texture, for preset ``own`` (not in the paper).

The paper runs the backbone on the image as it is, so the features of cells near the image's
edge see the network's zero padding and the map lights up along the border (preset
``paper``). Padding the image first by half the receptive field and cropping the features
back removes the zeros, but what fills the frame matters: wrapping the image around
(circular padding) continues a stochastic texture well, yet breaks a regular one whose period
does not divide the image's side, because the copy that meets the edge is then out of phase,
a seam that the features near the edge see as a defect (the phase defects of notebook 08).

:func:`periodic_pad` fills the frame with the image translated by the shift at which it best
matches itself (the normalized cross-correlation :func:`shift_correlation`): for a regular
texture, a whole number of its periods, so the copy meets the image in phase. When no shift
long enough to fill the frame is a period (:func:`best_shift`: a stochastic texture, one that
varies slowly along the axis, or a period too long for the image) the shift is the image's
side, which is circular padding. Written here because no image library pads by a
texture's period; the correlations use :mod:`torch.fft`.
"""
from __future__ import annotations

import math

import torch

__all__ = ["MIN_CORRELATION", "MIN_OVERLAP", "shift_correlation", "continuation_shift", "best_shift",
           "periodic_pad"]

#: Smallest correlation of the image with its shifted self at which the texture counts as
#: periodic at that lag; below it :func:`continuation_shift` falls back to the side (circular).
MIN_CORRELATION = 0.5
#: Lines transformed at once by :func:`shift_correlation`.
LINES_PER_FFT = 256
#: Shortest overlap of the image with its shifted self, as a share of the side, on which a
#: shift's correlation is measured.
MIN_OVERLAP = 1 / 8


def shift_correlation(gray: torch.Tensor, axis: int) -> torch.Tensor:
    """Normalized cross-correlation of a ``(H, W)`` image with itself shifted along ``axis``.

    Entry ``s`` (0 to the side minus 1) is Pearson's correlation between the pixels
    ``gray[..., x]`` and ``gray[..., x + s]`` over the ``x`` where both exist (rows instead of
    columns for ``axis=0``); 0 where either part is constant. Computed for every lag at once:
    the sums of products by an FFT of each line padded to twice its length, the sums and
    sums of squares over the overlap from cumulative sums, in float64.
    """
    g = gray.to(torch.float64)
    g = g - g.mean()  # the correlation does not change; the sums below lose less to cancellation
    if axis == 0:
        g = g.T
    lines, n = g.shape
    products = g.new_zeros(n)
    for start in range(0, lines, LINES_PER_FFT):  # bounded memory on large images
        spectrum = torch.fft.rfft(g[start : start + LINES_PER_FFT], n=2 * n, dim=1)
        products += torch.fft.irfft(spectrum * spectrum.conj(), n=2 * n, dim=1)[:, :n].sum(dim=0)
    zero = g.new_zeros(1)
    sums = torch.cat([zero, torch.cumsum(g.sum(dim=0), 0)])  # sums[k]: columns 0 .. k-1
    squares = torch.cat([zero, torch.cumsum((g * g).sum(dim=0), 0)])
    lag = torch.arange(n, device=g.device)
    count = lines * (n - lag).to(torch.float64)
    sa, sb = sums[n - lag], sums[n] - sums[lag]
    qa, qb = squares[n - lag], squares[n] - squares[lag]
    cov = products - sa * sb / count
    va, vb = (qa - sa * sa / count).clamp(min=0), (qb - sb * sb / count).clamp(min=0)
    denom = torch.sqrt(va * vb)
    return torch.where(denom > 1e-12 * count, cov / denom.clamp(min=1e-300), torch.zeros_like(cov))


def continuation_shift(gray: torch.Tensor, axis: int, pad: int, min_correlation: float = MIN_CORRELATION) -> int:
    """The translation, in pixels along ``axis``, whose copy continues the texture across the edge.

    :func:`best_shift` of the image's :func:`shift_correlation` among the shifts that can fill
    a frame of ``pad`` pixels from inside the image (``s >= pad``) and leave an overlap of at
    least :data:`MIN_OVERLAP` of the side ``n`` to measure it on; ``n`` (circular padding)
    when there is none.
    """
    n = gray.shape[axis]
    lo, hi = max(int(pad), 1), n - max(1, math.ceil(n * MIN_OVERLAP))
    if hi < lo:
        return n
    return best_shift(shift_correlation(gray, axis), lo, hi, min_correlation)


def best_shift(correlation: torch.Tensor, lo: int, hi: int, min_correlation: float = MIN_CORRELATION) -> int:
    """The shift from ``lo`` to ``hi`` with the largest ``correlation`` if it is a period, else the side.

    ``correlation[s]`` for every shift ``s`` of a side ``n = len(correlation)``. A periodic
    texture correlates fully at every multiple of its period, and the best of them is the one
    whose rounding to whole pixels is closest. The best counts as a period when its
    correlation reaches ``min_correlation`` and it is a peak: no larger than its neighbours,
    the shifts one pixel shorter and longer. A correlation still rising at the end of the
    range is no period but a texture that varies slowly along the axis (wood's grain, a
    gradient), and gives ``n``, circular padding.
    """
    n = len(correlation)
    best = lo + int(torch.argmax(correlation[lo : hi + 1]))
    value = float(correlation[best])
    neighbours = [float(correlation[s]) for s in (best - 1, best + 1) if 0 <= s < n]
    return best if value >= min_correlation and all(value >= v for v in neighbours) else n


def periodic_pad(img: torch.Tensor, pad: int, min_correlation: float = MIN_CORRELATION,
                 shifts: tuple[int, int] | None = None) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad a ``(1, 3, H, W)`` image by ``pad`` pixels on every side with its own translated copy.

    Columns first: the frame at the left is the image shifted right by ``tx``
    (:func:`continuation_shift` along the width), the frame at the right the image shifted
    left by ``tx``; then rows of that result likewise by ``ty``, which fills the corners.
    ``tx = W`` and ``ty = H`` give circular padding exactly. ``shifts=(ty, tx)`` frames the
    image with those translations instead of searching them (each from ``pad`` to the side),
    to compare frames.

    Returns the ``(1, 3, H + 2 pad, W + 2 pad)`` image and ``(ty, tx)``.
    """
    height, width = img.shape[-2:]
    if not 0 <= pad <= min(height, width):
        raise ValueError(f"pad must be from 0 to the smaller image side ({min(height, width)}), got {pad}")
    if shifts is not None and not (pad <= shifts[0] <= height and pad <= shifts[1] <= width):
        raise ValueError(f"shifts (ty, tx) must lie from pad ({pad}) to the image's sides "
                         f"({height}, {width}), got {tuple(shifts)}")
    if not pad:
        return img, (height, width)
    if shifts is None:
        gray = img[0].mean(dim=0)
        ty, tx = continuation_shift(gray, 0, pad, min_correlation), continuation_shift(gray, 1, pad, min_correlation)
    else:
        ty, tx = (int(s) for s in shifts)
    wide = torch.cat([img[..., tx - pad : tx], img, img[..., width - tx : width - tx + pad]], dim=-1)
    out = torch.cat([wide[..., ty - pad : ty, :], wide, wide[..., height - ty : height - ty + pad, :]], dim=-2)
    return out, (ty, tx)
