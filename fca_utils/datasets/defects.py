"""Planting realistic defects into clean textures, with exact ground-truth masks.

A defect is an *effect* (the defective appearance of a region) and a soft *alpha*
(how much of it shows at each pixel). :func:`plant` composites them,

    defective = clean * (1 - alpha) + effect * alpha,

quantizes to uint8, and derives the mask from what actually changed:

- the mask is ``alpha > ALPHA_MIN`` minus the soft-edge pixels (``alpha < 0.5``)
  whose uint8 colour did not change;
- the mask is cleaned like a hand annotation: holes (4-connected unmasked regions
  enclosed by the mask) smaller than ``MIN_FRAGMENT`` pixels are filled, and
  4-connected mask fragments smaller than ``MIN_FRAGMENT`` pixels are dropped, so
  that the soft edge leaves no stray one-pixel islands or pinholes;
- every pixel outside the mask is reset to the clean image's value (a pixel of a
  dropped fragment is reset too; a filled hole takes the blended value),

so the changed pixels are a subset of the mask, and at least ``MIN_CHANGED`` of the
mask's pixels changed (a placement that fails this, say a blur over a flat area, is
drawn again). Defects are blended, not pasted: irregular shapes with soft edges,
foreign material matched to the host's mean and contrast, colour changes of 15-30 %,
so that a threshold on colour alone does not find them.

Defect types, modelled on the defects of MVTec AD, WFT, DTD-Synthetic and Aitex:

==============  ==============================================================
``foreign``     a patch of another material (MVTec carpet "metal_contamination")
``color``       a soft stain that shifts the colour (MVTec "color", "liquid")
``scratch``     a thin bright or dark curved line (MVTec "scratch", "thread")
``hole``        a darkened irregular blob (MVTec "hole", "poke")
``blur``        a smudge that blurs the structure (MVTec "glue", "oil")
``distortion``  a swirl or a rotated region (MVTec "fold", grid "bent")
``phase``       a band where a regular pattern is shifted by half a period:
                every value is normal, the arrangement is not (contextual)
==============  ==============================================================
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import ndimage

from .textures import fft_noise

__all__ = ["DEFECT_TYPES", "ALPHA_MIN", "MIN_CHANGED", "MIN_FRAGMENT", "Context", "Planted", "plant",
           "clean_mask", "estimate_period"]

ALPHA_MIN = 0.05
MIN_CHANGED = 0.85
MIN_FRAGMENT = 16  # pixels (a 4 x 4 square): the smallest mask component kept and the smallest hole left open
_MAX_ATTEMPTS = 12

Shape = tuple[int, int]
Box = tuple[int, int, int, int]  # y0, y1, x0, x1


@dataclass(frozen=True)
class Context:
    """What a defect may need to know about the texture it is planted in.

    Attributes
    ----------
    donor : callable or None
        ``donor(rng, shape) -> (H, W, 3)`` float image of another material (``foreign``).
    period : (float, float) or None
        Pattern period ``(along y, along x)`` in pixels of a regular texture (``phase``).
    anisotropic : bool
        Whether the texture has a dominant orientation (``distortion`` may rotate it).
    border : float
        Fraction of the side kept free of defect centres (evaluation crops the border).
    """

    donor: Callable[[np.random.Generator, Shape], np.ndarray] | None = None
    period: tuple[float, float] | None = None
    anisotropic: bool = False
    border: float = 0.12


@dataclass(frozen=True)
class Planted:
    """A defective uint8 ``(H, W, 3)`` image and its bool ``(H, W)`` mask."""

    image: np.ndarray
    mask: np.ndarray


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _center_box(rng: np.random.Generator, shape: Shape, radius: float, border: float) -> tuple[float, float, Box]:
    """A random centre away from the border, and the box of half-size ~2.3 radius around it."""
    h, w = shape
    lo_y, lo_x = border * h + 0.6 * radius, border * w + 0.6 * radius
    cy = rng.uniform(lo_y, max(lo_y, h - lo_y))
    cx = rng.uniform(lo_x, max(lo_x, w - lo_x))
    half = int(np.ceil(2.3 * radius)) + 2
    box = (max(0, int(cy) - half), min(h, int(cy) + half + 1), max(0, int(cx) - half), min(w, int(cx) + half + 1))
    return cy, cx, box


def _box_coords(box: Box, cy: float, cx: float) -> tuple[np.ndarray, np.ndarray]:
    y0, y1, x0, x1 = box
    v, u = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    return v - cy, u - cx


def _blob(rng: np.random.Generator, box: Box, cy: float, cx: float, radius: float,
          softness: float, irregularity: float = 0.35) -> np.ndarray:
    """Soft alpha of an irregular ellipse of mean radius ``radius`` inside ``box``."""
    v, u = _box_coords(box, cy, cx)
    ratio = rng.uniform(0.65, 1.0)
    a, b = radius / np.sqrt(ratio), radius * np.sqrt(ratio)
    angle = rng.uniform(0, np.pi)
    c, s = np.cos(angle), np.sin(angle)
    d = np.sqrt(((u * c + v * s) / a) ** 2 + ((-u * s + v * c) / b) ** 2)
    noise = fft_noise(rng, d.shape, max(radius / 3.0, 1.0))
    field = 1.0 - d + irregularity * noise * np.clip(2.0 - d, 0.0, 1.0)
    return _smoothstep((field + softness) / (2.0 * softness))


def _radius(rng: np.random.Generator, shape: Shape, low: float, high: float) -> float:
    return max(3.0, min(shape) * rng.uniform(low, high))


def _foreign(clean, rng, ctx):
    if ctx.donor is None:
        raise ValueError("the 'foreign' defect needs a donor texture (Context.donor)")
    r = _radius(rng, clean.shape[:2], 0.05, 0.11)
    cy, cx, box = _center_box(rng, clean.shape[:2], r, ctx.border)
    alpha = _blob(rng, box, cy, cx, r, softness=0.12)
    host = clean[box[0]:box[1], box[2]:box[3]]
    donor = ctx.donor(rng, host.shape[:2]).astype(np.float32)
    weight = alpha[..., None] / alpha.sum()
    h_mean, d_mean = (host * weight).sum((0, 1)), (donor * weight).sum((0, 1))
    h_std = np.sqrt(((host - h_mean) ** 2 * weight).sum((0, 1))) + 1e-3
    d_std = np.sqrt(((donor - d_mean) ** 2 * weight).sum((0, 1))) + 1e-3
    gain = rng.uniform(0.8, 1.25)
    effect = (donor - d_mean) / d_std * h_std * gain + h_mean * rng.uniform(0.95, 1.05)
    return box, effect, alpha


def _color(clean, rng, ctx):
    r = _radius(rng, clean.shape[:2], 0.06, 0.12)
    cy, cx, box = _center_box(rng, clean.shape[:2], r, ctx.border)
    alpha = _blob(rng, box, cy, cx, r, softness=0.3, irregularity=0.45)
    host = clean[box[0]:box[1], box[2]:box[3]]
    direction = rng.standard_normal(3)
    direction /= np.linalg.norm(direction)
    gains = 1.0 + rng.uniform(0.15, 0.3) * direction
    return box, host * gains.astype(np.float32), alpha


def _segment_distance(v: np.ndarray, u: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Distance of every (v, u) to the polyline through ``points`` (N, 2) as (y, x)."""
    dist = np.full(v.shape, np.inf, np.float32)
    for (py, px), (qy, qx) in zip(points[:-1], points[1:]):
        dy, dx = qy - py, qx - px
        t = np.clip(((v - py) * dy + (u - px) * dx) / max(dy * dy + dx * dx, 1e-9), 0.0, 1.0)
        dist = np.minimum(dist, np.hypot(v - (py + t * dy), u - (px + t * dx)))
    return dist


def _scratch(clean, rng, ctx):
    h, w = clean.shape[:2]
    side = min(h, w)
    length = side * rng.uniform(0.15, 0.35)
    width = max(0.9, side / 512 * rng.uniform(1.0, 2.2))
    n = 24
    heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.08, n))
    steps = np.stack([np.sin(heading), np.cos(heading)], 1) * (length / n)
    path = np.cumsum(steps, 0)
    path -= path.mean(0)
    cy, cx, _ = _center_box(rng, (h, w), length / 2, ctx.border)
    points = path + (cy, cx)
    pad = int(np.ceil(3 * width)) + 2
    box = (max(0, int(points[:, 0].min()) - pad), min(h, int(points[:, 0].max()) + pad + 1),
           max(0, int(points[:, 1].min()) - pad), min(w, int(points[:, 1].max()) + pad + 1))
    v, u = np.mgrid[box[0]:box[1], box[2]:box[3]].astype(np.float32)
    alpha = np.exp(-(_segment_distance(v, u, points) / width) ** 2)
    host = clean[box[0]:box[1], box[2]:box[3]]
    tone = rng.uniform(0.88, 1.0) if rng.random() < 0.6 else rng.uniform(0.0, 0.12)
    strength = rng.uniform(0.55, 0.85)
    return box, host * (1 - strength) + strength * tone, alpha


def _hole(clean, rng, ctx):
    r = _radius(rng, clean.shape[:2], 0.025, 0.06)
    cy, cx, box = _center_box(rng, clean.shape[:2], r, ctx.border)
    alpha = _blob(rng, box, cy, cx, r, softness=0.15)
    host = clean[box[0]:box[1], box[2]:box[3]]
    return box, host * rng.uniform(0.15, 0.35), alpha


def _blur(clean, rng, ctx):
    r = _radius(rng, clean.shape[:2], 0.06, 0.11)
    cy, cx, box = _center_box(rng, clean.shape[:2], r, ctx.border)
    alpha = _blob(rng, box, cy, cx, r, softness=0.2)
    sigma = max(1.5, min(clean.shape[:2]) / 512 * rng.uniform(2.5, 4.5))
    y0, y1, x0, x1 = box
    pad = int(3 * sigma) + 1
    ey0, ex0 = max(0, y0 - pad), max(0, x0 - pad)
    region = clean[ey0:min(clean.shape[0], y1 + pad), ex0:min(clean.shape[1], x1 + pad)]
    blurred = ndimage.gaussian_filter(region, (sigma, sigma, 0), mode="reflect")
    effect = blurred[y0 - ey0:y1 - ey0, x0 - ex0:x1 - ex0] * rng.uniform(0.94, 1.06)
    return box, effect, alpha


def _distortion(clean, rng, ctx):
    r = _radius(rng, clean.shape[:2], 0.06, 0.11)
    cy, cx, box = _center_box(rng, clean.shape[:2], r, ctx.border)
    v, u = _box_coords(box, cy, cx)
    if ctx.anisotropic and rng.random() < 0.5:
        theta = np.full(v.shape, np.deg2rad(rng.uniform(35, 90)) * rng.choice([-1, 1]), np.float32)
        alpha = _blob(rng, box, cy, cx, r, softness=0.1)
    else:
        reach = 1.3 * r
        rr = np.hypot(u, v)
        theta = rng.uniform(1.5, 3.0) * rng.choice([-1, 1]) * np.clip(1 - rr / reach, 0, 1) ** 2
        alpha = _smoothstep((reach - rr) / (0.15 * reach))
    c, s = np.cos(theta), np.sin(theta)
    src_y = cy + (-u * s + v * c)
    src_x = cx + (u * c + v * s)
    effect = np.stack([ndimage.map_coordinates(clean[..., k], [src_y, src_x], order=1, mode="reflect")
                       for k in range(3)], -1)
    return box, effect, alpha


def _phase(clean, rng, ctx):
    if ctx.period is None:
        raise ValueError("the 'phase' defect needs the pattern period of a regular texture (Context.period)")
    h, w = clean.shape[:2]
    py, px = ctx.period
    horizontal = rng.random() < 0.5
    across, along_period = (py, px) if horizontal else (px, py)
    thick = max(3.0, rng.uniform(0.35, 0.6) * across)
    length = min(h, w) * rng.uniform(0.25, 0.45)
    shift = int(round(along_period / 2))
    bh, bw = (thick, length) if horizontal else (length, thick)
    cy, cx, _ = _center_box(rng, (h, w), max(bh, bw) / 2, ctx.border)
    box = (max(0, int(cy - bh / 2) - 2), min(h, int(cy + bh / 2) + 3),
           max(0, int(cx - bw / 2) - 2), min(w, int(cx + bw / 2) + 3))
    v, u = _box_coords(box, cy, cx)
    alpha = _smoothstep(bh / 2 + 0.5 - np.abs(v)) * _smoothstep(bw / 2 + 0.5 - np.abs(u))
    rows, cols = np.arange(box[0], box[1]), np.arange(box[2], box[3])
    if horizontal:
        effect = clean[rows][:, np.mod(cols - shift, w)]
    else:
        effect = clean[np.mod(rows - shift, h)][:, cols]
    return box, effect, alpha


_EFFECTS = {
    "foreign": _foreign,
    "color": _color,
    "scratch": _scratch,
    "hole": _hole,
    "blur": _blur,
    "distortion": _distortion,
    "phase": _phase,
}
DEFECT_TYPES: tuple[str, ...] = tuple(_EFFECTS)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def clean_mask(mask: np.ndarray, min_size: int = MIN_FRAGMENT) -> np.ndarray:
    """``mask`` with its holes under ``min_size`` pixels filled and its fragments under ``min_size`` dropped.

    Components and holes are 4-connected (pixels touching only at a corner are
    separate); a hole is an unmasked component that does not reach the image border.
    Filling only merges components and dropping only enlarges the unmasked area, so
    the result has no component and no hole smaller than ``min_size``.
    ``scipy.ndimage.label`` does the labelling; the size filter is two lines, written
    here rather than taken from ``skimage.morphology`` whose size argument changed
    meaning between releases.
    """
    mask = np.asarray(mask, bool)
    background, _ = ndimage.label(np.pad(~mask, 1))
    sizes = np.bincount(background.ravel())
    outside = np.unique(np.concatenate([background[0], background[-1], background[:, 0], background[:, -1]]))
    small_hole = sizes < min_size
    small_hole[0] = False
    small_hole[outside] = False
    filled = mask | small_hole[background[1:-1, 1:-1]]
    labels, _ = ndimage.label(filled)
    keep = np.bincount(labels.ravel()) >= min_size
    keep[0] = False
    return keep[labels]


def plant(clean: np.ndarray, kind: str, rng: np.random.Generator, context: Context = Context()) -> Planted:
    """Plant one defect of type ``kind`` into ``clean``; return the image and its exact mask.

    Parameters
    ----------
    clean : numpy.ndarray
        float ``(H, W, 3)`` texture in ``[0, 1]``.
    kind : str
        One of :data:`DEFECT_TYPES`.
    rng : numpy.random.Generator
    context : Context
        Donor texture, period and orientation of the host texture.

    Returns
    -------
    Planted
        ``image`` uint8 ``(H, W, 3)`` equal to ``uint8(clean)`` outside ``mask``;
        ``mask`` bool ``(H, W)`` of which at least :data:`MIN_CHANGED` changed, with no
        4-connected component or hole smaller than :data:`MIN_FRAGMENT` pixels.

    Raises
    ------
    RuntimeError
        If no placement among a dozen changes enough of its mask.
    """
    if kind not in _EFFECTS:
        raise ValueError(f"unknown defect type {kind!r}; expected one of {DEFECT_TYPES}")
    clean = np.asarray(clean, np.float32)
    if clean.ndim != 3 or clean.shape[2] != 3:
        raise ValueError(f"clean must be a float (H, W, 3) image, got shape {clean.shape}")
    base = _to_uint8(clean)
    for _ in range(_MAX_ATTEMPTS):
        (y0, y1, x0, x1), effect, alpha = _EFFECTS[kind](clean, rng, context)
        host = clean[y0:y1, x0:x1]
        blended = _to_uint8(host * (1 - alpha[..., None]) + effect * alpha[..., None])
        changed = np.any(blended != base[y0:y1, x0:x1], axis=-1)
        local = clean_mask((alpha > ALPHA_MIN) & (changed | (alpha >= 0.5)))
        if not local.any() or (changed & local).sum() < MIN_CHANGED * local.sum():
            continue
        image = base.copy()
        image[y0:y1, x0:x1][local] = blended[local]
        mask = np.zeros(clean.shape[:2], bool)
        mask[y0:y1, x0:x1] = local
        return Planted(image, mask)
    raise RuntimeError(f"could not plant a visible {kind!r} defect in {_MAX_ATTEMPTS} attempts")


def estimate_period(gray: np.ndarray, axis: int, low: int = 8) -> float:
    """Dominant period (pixels) of ``gray`` along ``axis`` from the autocorrelation of its mean profile.

    Parameters
    ----------
    gray : numpy.ndarray
        ``(H, W)`` image.
    axis : int
        0 for the period along y (rows), 1 along x (columns).
    low : int
        Smallest period considered.
    """
    profile = np.asarray(gray, np.float64).mean(axis=1 - axis)
    profile = profile - profile.mean()
    n = profile.size
    spectrum = np.fft.rfft(profile, 2 * n)
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[:n]
    high = max(low + 1, n // 3)
    return float(low + int(np.argmax(acf[low:high])))
