"""Texture sources of the embedded benchmark: real photographs and procedural textures.

Every source is a function ``source(rng, shape) -> image`` returning a float32
``(H, W, 3)`` array in ``[0, 1]``; a new call with a new generator gives a new sample
of the same material, the way a camera sees a new piece of the same fabric.

Real photographs ship inside scikit-image (``skimage.data``), so nothing is
downloaded:

- ``brick``: a brick wall (CC0, from CC0Textures "Bricks25"), regular;
- ``grass``: a lawn (CC0, from DeviantArt "Grass-01"), stochastic;
- ``gravel``: gravel (CC0, from CC0Textures "Gravel04"), stochastic.

They are 512 x 512 grayscale; a sample is a random crop, flipped (and for the
isotropic ones rotated by a multiple of 90 degrees), with a small brightness and
contrast jitter and a fixed colour tint.

Procedural textures cover the remaining texture families of the paper's datasets:

- ``woven``: a twill weave of jittered threads, regular (MVTec carpet, WFT, Aitex);
- ``marble``: turbulent veins in filtered noise, stochastic (DTD Marbled, Blotchy);
- ``wood``: anisotropic grain and growth rings (MVTec wood, DTD Stratified);
- ``tiles``: a checkerboard of two different materials with a period larger than the
  FCA patch, bimodal and large-period (the failure case of the paper's Figure 7).

Examples
--------
>>> import numpy as np
>>> from fca_utils.datasets import textures
>>> img = textures.render("wood", np.random.default_rng(0), (64, 96))
>>> img.shape, img.dtype
((64, 96, 3), dtype('float32'))
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

import numpy as np
from scipy import fft as sp_fft

__all__ = ["SOURCES", "period", "render", "photo", "fft_noise", "woven", "marble", "wood", "tiles"]

Shape = tuple[int, int]

# Tint of each photograph: RGB gains with mean 1, applied to the gray levels.
_TINTS = {
    "brick": (1.32, 0.86, 0.82),
    "grass": (0.86, 1.26, 0.88),
    "gravel": (1.06, 1.0, 0.94),
}
# Photographs without a dominant orientation may be rotated by multiples of 90 degrees.
_ISOTROPIC = {"grass", "gravel"}

_WOVEN_PERIOD = 12.0  # thread spacing in pixels, whatever the image size
_TILE_CELLS = 8  # checkerboard cells per image side


def fft_noise(rng: np.random.Generator, shape: Shape, sigma: float | tuple[float, float]) -> np.ndarray:
    """Gaussian-filtered white noise with zero mean and unit standard deviation.

    The filter is applied in the Fourier domain (periodic boundary), so its cost does
    not grow with ``sigma``. A pair ``(sigma_y, sigma_x)`` gives anisotropic noise,
    elongated along the axis with the larger sigma.

    Parameters
    ----------
    rng : numpy.random.Generator
    shape : (H, W)
    sigma : float or (float, float)
        Standard deviation of the spatial Gaussian, in pixels.

    Returns
    -------
    numpy.ndarray
        float32 ``(H, W)``.
    """
    sy, sx = (sigma, sigma) if np.isscalar(sigma) else sigma
    h, w = shape
    white = rng.standard_normal((h, w), dtype=np.float32)
    gy = np.exp(-2.0 * np.pi**2 * (np.fft.fftfreq(h) * sy) ** 2).astype(np.float32)
    gx = np.exp(-2.0 * np.pi**2 * (np.fft.rfftfreq(w) * sx) ** 2).astype(np.float32)
    field = sp_fft.irfft2(sp_fft.rfft2(white) * gy[:, None] * gx[None, :], s=(h, w))
    field -= field.mean()
    std = field.std()
    return (field / std if std > 0 else field).astype(np.float32)


def _lerp_colors(t: np.ndarray, low, high) -> np.ndarray:
    """Map ``t`` in [0, 1] to RGB linearly between two colours."""
    low = np.asarray(low, np.float32)
    high = np.asarray(high, np.float32)
    return low + t[..., None] * (high - low)


def _finish(rgb: np.ndarray) -> np.ndarray:
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)


@lru_cache(maxsize=None)
def _gray_photo(name: str) -> np.ndarray:
    from skimage import data

    gray = getattr(data, name)().astype(np.float32) / 255.0
    gray.setflags(write=False)
    return gray


def photo(name: str, rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """A random RGB crop of one of scikit-image's texture photographs.

    Parameters
    ----------
    name : {"brick", "grass", "gravel"}
    rng : numpy.random.Generator
    shape : (H, W)
        At most the photograph's 512 x 512.
    """
    if name not in _TINTS:
        raise ValueError(f"unknown photograph {name!r}; expected one of {sorted(_TINTS)}")
    gray = _gray_photo(name)
    h, w = shape
    if name in _ISOTROPIC and rng.random() < 0.5:
        gray = np.rot90(gray)
    if h > gray.shape[0] or w > gray.shape[1]:
        raise ValueError(f"a {name} crop of {h}x{w} does not fit the {gray.shape[0]}x{gray.shape[1]} photograph")
    y = int(rng.integers(0, gray.shape[0] - h + 1))
    x = int(rng.integers(0, gray.shape[1] - w + 1))
    crop = gray[y:y + h, x:x + w]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    if rng.random() < 0.5:
        crop = crop[::-1, :]
    gain, offset = rng.uniform(0.93, 1.07), rng.uniform(-0.03, 0.03)
    crop = (crop - crop.mean()) * gain + crop.mean() + offset
    return _finish(crop[..., None] * np.asarray(_TINTS[name], np.float32))


def woven(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """A 2/1 twill weave: vertical warp and horizontal weft threads of period ~12 px.

    Threads have random brightness, slowly wandering positions and fibre streaks; at
    each crossing the thread on top (warp on 2 of every 3 crossings, shifted by one
    each row) hides the other, which gives the diagonal twill lines.
    """
    h, w = shape
    p = _WOVEN_PERIOD
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    # threads wander by up to ~1 px
    xw = x + 0.8 * fft_noise(rng, shape, (40.0, 6.0))
    yw = y + 0.8 * fft_noise(rng, shape, (6.0, 40.0))
    ix, iy = np.floor(xw / p), np.floor(yw / p)
    u, v = xw / p - ix, yw / p - iy  # position across the warp / weft thread, in [0, 1)
    warp_on_top = ((ix + iy) % 3) != 0
    n_threads = int(max(h, w) / p) + 3
    warp_gain = 1.0 + 0.07 * rng.standard_normal(n_threads)
    weft_gain = 1.0 + 0.07 * rng.standard_normal(n_threads)
    warp_profile = np.sin(np.pi * u) ** 0.6 * (0.75 + 0.25 * np.sin(np.pi * v))
    weft_profile = np.sin(np.pi * v) ** 0.6 * (0.75 + 0.25 * np.sin(np.pi * u))
    warp = warp_profile * warp_gain[(ix.astype(int) + 1) % n_threads]
    weft = weft_profile * weft_gain[(iy.astype(int) + 1) % n_threads]
    fibres_v = 0.06 * fft_noise(rng, shape, (5.0, 0.6))
    fibres_h = 0.06 * fft_noise(rng, shape, (0.6, 5.0))
    shade = np.where(warp_on_top, warp + fibres_v, 0.92 * weft + fibres_h)
    shade = 0.18 + 0.72 * np.clip(shade, 0.0, 1.1)
    warp_color = np.asarray((0.30, 0.38, 0.62), np.float32)
    weft_color = np.asarray((0.62, 0.66, 0.78), np.float32)
    color = np.where(warp_on_top[..., None], warp_color, weft_color)
    return _finish(shade[..., None] * color * 1.25)


def marble(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Marble: sinusoidal veins displaced by multi-octave turbulence (stochastic)."""
    h, w = shape
    side = max(h, w)
    turbulence = sum(np.abs(fft_noise(rng, shape, side / 12 / 2**k)) / 2**k for k in range(4))
    theta = rng.uniform(0, np.pi)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    phase = 2 * np.pi * (x * np.cos(theta) + y * np.sin(theta)) / (side / 3.0) + 4.0 * turbulence
    veins = ((1.0 + np.sin(phase)) / 2.0) ** 4
    cloud = 0.5 + 0.12 * fft_noise(rng, shape, side / 20)
    grain = 0.025 * fft_noise(rng, shape, 0.7)
    t = np.clip(0.85 * veins + 0.3 * (cloud - 0.5) + grain, 0.0, 1.0)
    return _finish(_lerp_colors(t, (0.90, 0.88, 0.84), (0.40, 0.42, 0.46)))


def wood(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Wood: growth rings and fibre streaks running along the image's y axis (anisotropic)."""
    h, w = shape
    side = max(h, w)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    period = side / rng.uniform(12.0, 16.0)
    bend = period * 0.6 * fft_noise(rng, shape, (side / 3.0, side / 10.0))
    rings = np.mod((x + bend) / period, 1.0)
    ring_profile = np.clip((rings - 0.55) / 0.12, 0.0, 1.0) * np.clip((0.98 - rings) / 0.3, 0.0, 1.0)
    streaks = 0.5 * fft_noise(rng, shape, (side / 10.0, 0.8))
    pores = np.clip(fft_noise(rng, shape, (3.0, 0.5)) - 2.0, 0.0, None)
    t = np.clip(0.35 + 0.4 * ring_profile + 0.1 * streaks + 0.3 * pores, 0.0, 1.0)
    return _finish(_lerp_colors(t, (0.80, 0.60, 0.40), (0.42, 0.26, 0.14)))


def tiles(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Large-period bimodal texture: a checkerboard of two materials with grout lines.

    Cells of one kind carry fine diagonal stripes, cells of the other kind a speckle;
    the period (two cells, a quarter of the image side) is larger than the patch FCA
    compares, so a single median reference sees a mixture of two distributions.
    """
    h, w = shape
    cell = max(h, w) / _TILE_CELLS
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = np.floor(y / cell), np.floor(x / cell)
    kind = ((cy + cx) % 2).astype(bool)
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * (x + y) / 7.0 + 0.4 * fft_noise(rng, shape, 3.0))
    speckle = 0.5 + 0.25 * fft_noise(rng, shape, 1.2)
    stripe_rgb = _lerp_colors(np.clip(stripes, 0, 1), (0.55, 0.30, 0.22), (0.80, 0.52, 0.40))
    speckle_rgb = _lerp_colors(np.clip(speckle, 0, 1), (0.60, 0.58, 0.50), (0.88, 0.86, 0.78))
    rgb = np.where(kind[..., None], stripe_rgb, speckle_rgb)
    dy = np.minimum(y - cy * cell, (cy + 1) * cell - y)
    dx = np.minimum(x - cx * cell, (cx + 1) * cell - x)
    grout = np.clip(1.5 - np.minimum(dy, dx), 0.0, 1.0)[..., None]
    rgb = rgb * (1 - grout) + grout * np.asarray((0.35, 0.34, 0.33), np.float32)
    return _finish(rgb + 0.02 * fft_noise(rng, shape, 0.8)[..., None])


def _photo_source(name: str) -> Callable[[np.random.Generator, Shape], np.ndarray]:
    def source(rng: np.random.Generator, shape: Shape) -> np.ndarray:
        return photo(name, rng, shape)

    source.__name__ = name
    source.__doc__ = f"Random crop of scikit-image's {name!r} photograph (see :func:`photo`)."
    return source


SOURCES: dict[str, Callable[[np.random.Generator, Shape], np.ndarray]] = {
    "brick": _photo_source("brick"),
    "grass": _photo_source("grass"),
    "gravel": _photo_source("gravel"),
    "woven": woven,
    "marble": marble,
    "wood": wood,
    "tiles": tiles,
}


def period(name: str, shape: Shape) -> tuple[float, float] | None:
    """Pattern period ``(along y, along x)`` in pixels of a regular texture, else ``None``.

    ``brick`` is a photograph: its period is measured from the image by the caller.
    """
    if name == "woven":
        return _WOVEN_PERIOD * 3, _WOVEN_PERIOD * 3  # the twill repeats every 3 threads
    if name == "tiles":
        cell = max(shape) / _TILE_CELLS
        return 2 * cell, 2 * cell
    return None


def render(name: str, rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Render a sample of texture ``name`` (a key of :data:`SOURCES`) of size ``shape``."""
    if name not in SOURCES:
        raise ValueError(f"unknown texture {name!r}; expected one of {sorted(SOURCES)}")
    h, w = int(shape[0]), int(shape[1])
    if h < 8 or w < 8:
        raise ValueError(f"texture shape must be at least 8x8, got {h}x{w}")
    return SOURCES[name](rng, (h, w))
