"""Pictures of anomaly maps as in the paper (Appendix B.2): the "Reds" colour map.

Scores are mapped linearly to [0, 1] with one scale for a whole texture class
(:func:`class_normalizer`), borders ignored when finding the range and clipped
afterwards, then coloured with matplotlib's "Reds".
"""
from __future__ import annotations

import numpy as np

__all__ = ["class_normalizer", "colorize", "overlay", "example_grid"]


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


def example_grid(rows, normalizer, threshold: float | None = None, titles=("image", "ground truth", "anomaly map"),
                 row_labels=None, cell_size: float = 2.2):
    """The paper's qualitative figures (Figures 5 and 8): image, ground truth, "Reds" map.

    Parameters
    ----------
    rows : list of (image, mask, scores)
        ``image`` (H, W[, 3]) uint8, ``mask`` (H, W) bool, ``scores`` (H, W) float, all of one size.
    normalizer : callable
        From :func:`class_normalizer`: one colour scale for all maps of a class.
    threshold : float, optional
        Score threshold (e.g. the class's F1-optimal one from :func:`fca_utils.metrics.f1_max`):
        the thresholded region is drawn as a blue contour on the map, the ground truth as a
        black contour, as in the paper's Figure 5.
    titles : three column titles; row_labels : optional label per row.

    Returns
    -------
    matplotlib Figure
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), 3, figsize=(3 * cell_size, len(rows) * cell_size), squeeze=False)
    for i, (image, mask, scores) in enumerate(rows):
        image, mask = np.asarray(image), np.asarray(mask, bool)
        shown = [image, mask, colorize(normalizer(scores))]
        for j, (ax, picture) in enumerate(zip(axes[i], shown)):
            ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None, vmin=0, vmax=1 if j == 1 else None)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(titles[j], fontsize=9)
        if mask.any():
            axes[i, 2].contour(mask, levels=[0.5], colors="black", linewidths=0.8)
        if threshold is not None and (np.asarray(scores) >= threshold).any():
            axes[i, 2].contour(np.asarray(scores) >= threshold, levels=[0.5], colors="tab:blue", linewidths=0.8)
        if row_labels is not None:
            axes[i, 0].set_ylabel(row_labels[i], fontsize=8)
    fig.tight_layout()
    return fig
