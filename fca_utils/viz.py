"""Pictures of anomaly maps as in the paper (Appendix B.2): the "Reds" colour map.

Scores are mapped linearly to [0, 1] with one scale for a whole texture class
(:func:`class_normalizer`), borders ignored when finding the range and clipped
afterwards, then coloured with matplotlib's "Reds".
"""
from __future__ import annotations

import numpy as np

__all__ = ["class_normalizer", "colorize", "overlay"]


def class_normalizer(maps, border: int = 0):
    """Return ``f(map) -> [0, 1]`` mapping the class-wide min and max (borders ignored) to 0 and 1."""
    inner = [np.asarray(m)[border : m.shape[0] - border, border : m.shape[1] - border] for m in maps]
    lo = float(min(m.min() for m in inner))
    hi = float(max(m.max() for m in inner))
    span = hi - lo if hi > lo else 1.0
    return lambda m: np.clip((np.asarray(m, dtype=np.float32) - lo) / span, 0.0, 1.0)


def colorize(normalized: np.ndarray, cmap: str = "Reds") -> np.ndarray:
    """Colour a [0, 1] map with a matplotlib colour map; returns (H, W, 3) uint8."""
    from matplotlib import colormaps

    rgba = colormaps[cmap](np.clip(normalized, 0, 1))
    return (rgba[..., :3] * 255).round().astype(np.uint8)


def overlay(image: np.ndarray, normalized: np.ndarray, alpha: float = 0.6, cmap: str = "Reds") -> np.ndarray:
    """Blend a coloured [0, 1] map over an image; opacity grows with the score. (H, W, 3) uint8."""
    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    img = img[..., :3]
    if img.dtype != np.uint8:
        img = (np.clip(img.astype(np.float32) / (65535.0 if img.dtype == np.uint16 else 1.0), 0, 1) * 255).astype(np.uint8)
    if img.shape[:2] != normalized.shape:
        raise ValueError(f"image {img.shape[:2]} and map {normalized.shape} differ in size")
    weight = (alpha * np.clip(normalized, 0, 1))[..., None]
    blended = img.astype(np.float32) * (1 - weight) + colorize(normalized, cmap).astype(np.float32) * weight
    return blended.round().astype(np.uint8)
