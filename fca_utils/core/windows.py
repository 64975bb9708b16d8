"""Sliding T x T windows over a feature map, the common ground of Eqs. (4), (5) and (7).

A window ``P_xy`` is centred on every feature pixel ``(y, x)``; the map is
reflect-padded by ``T // 2`` so border pixels have full windows (paper's public
implementation). Windows are produced in chunks of rows so that the ``T^2``-times
larger tensor of all windows is never materialized at once.
"""
from __future__ import annotations

from typing import Iterator

import torch
import torch.nn.functional as F

from .ops import reflect_pad

__all__ = ["iter_window_rows", "rows_per_chunk", "windows_at", "sorted_windows_at"]

#: Upper bound on the number of elements of one chunk of windows (about 256 MB in float32).
CHUNK_ELEMENTS = 64 * 1024 * 1024


def rows_per_chunk(channels: int, width: int, patch_size: int, budget: int = CHUNK_ELEMENTS) -> int:
    """How many rows of windows fit in ``budget`` elements (at least one)."""
    per_row = channels * width * patch_size * patch_size
    return max(1, budget // max(per_row, 1))


def iter_window_rows(
    feats: torch.Tensor, patch_size: int, rows: int | None = None
) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield ``(y0, windows)`` for consecutive blocks of window rows.

    Parameters
    ----------
    feats : (C, H, W) tensor
    patch_size : odd int T
    rows : rows of windows per block (default: as many as fit in ``CHUNK_ELEMENTS``)

    Yields
    ------
    y0 : int
        First row of the block.
    windows : (r, W, C, T*T) tensor
        ``windows[i, x, c, a * T + b]`` is ``feats[c]`` at offset ``(a - T//2, b - T//2)``
        from the centre ``(y0 + i, x)``, with reflection at the borders.
    """
    c, h, w = feats.shape
    t = patch_size
    rows = rows or rows_per_chunk(c, w, t)
    padded = reflect_pad(feats, t // 2)  # (C, H + 2p, W + 2p)
    for y0 in range(0, h, rows):
        r = min(rows, h - y0)
        band = padded[:, y0 : y0 + r + t - 1]  # (C, r + T - 1, W + 2p)
        unf = F.unfold(band[None], kernel_size=t)  # (1, C*T*T, r*W)
        yield y0, unf[0].view(c, t * t, r, w).permute(2, 3, 0, 1)


def windows_at(feats: torch.Tensor, patch_size: int, centers: torch.Tensor) -> torch.Tensor:
    """The windows centred on ``centers`` (K, 2) of ``(y, x)``, as a (K, C, T*T) tensor."""
    t = patch_size
    p = t // 2
    padded = reflect_pad(feats, p)
    offs = torch.arange(t, device=feats.device)
    ys = (centers[:, 0:1] + offs[None]).repeat_interleave(t, dim=1)  # (K, T*T): row index a
    xs = (centers[:, 1:2] + offs[None]).repeat(1, t)  # (K, T*T): column index b
    return padded[:, ys, xs].permute(1, 0, 2)  # (K, C, T*T)


def sorted_windows_at(feats: torch.Tensor, patch_size: int, centers: torch.Tensor) -> torch.Tensor:
    """Per-channel sorted values of the windows centred on ``centers``: (K, C, T*T)."""
    return torch.sort(windows_at(feats, patch_size, centers), dim=-1).values
