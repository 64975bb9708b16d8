"""Helpers behind the demonstration notebooks (00 quickstart, 02 FCA vs. histogram).

Everything here composes the framework of Eq. (1),
``A(x, y; F, S, R) = sum_{F_r in R(F(I))} S(x, y, F(I), F_r)``, from its parts in
:mod:`fca_utils.features` (F), :mod:`fca_utils.core.statistics` (S) and
:mod:`fca_utils.core.reference` (R, the median of Eq. (7) by default), with the parameters
exposed one by one so a notebook can vary them:

- :func:`statistic_map` -- one statistic S (Eqs. (2)-(5)) on a feature map, any T, sigmas;
- :func:`intensity_features` -- ``F(I) = I`` for gray images (the synthetic examples of
  the paper's Figure 3);
- :func:`feature_map` and :func:`compare_statistics` -- several statistics on the same
  features of one image (Figures 3 and 4: FCA vs. histograms);
- :func:`to_image_size` -- a feature-resolution map brought to the image's resolution,
  as :func:`fca_utils.pipeline.localize` does;
- :func:`usable_extractors` -- the extractors that work here (torchvision networks whose
  ImageNet weights are absent are left out, nothing is downloaded);
- :func:`load_examples` -- a few test images of a dataset, resized small for interaction;
- :func:`result_figure` -- image, ground truth, "Reds" map and overlay (Appendix B.2 colours);
- :class:`MapExplorer` -- anomaly maps of a few images under any F, S, T, sigma_p, sigma_s,
  with features cached so a redraw only recomputes the statistic (the ipywidgets
  explorer of ``00_quickstart``).

>>> import numpy as np
>>> from fca_utils.paper import demos
>>> img = np.random.default_rng(0).uniform(0.25, 0.75, (64, 64)).astype(np.float32)
>>> img[30:33, 30:33] = 1.0
>>> s = demos.statistic_map(demos.intensity_features(img), "fca", patch_size=9, sigma_p=3.0, sigma_s=None)
>>> tuple(s.shape), int(s.argmax()) // 64 in (30, 31, 32)
((64, 64), True)
"""
from __future__ import annotations

import time
from typing import Mapping, Sequence

import numpy as np
import torch

from .. import features
from ..core import methods
from ..core.images import resize_image, resize_mask, to_image_tensor
from ..core.methods import anomaly_map, make_reference
from ..core.ops import resize

__all__ = [
    "STATISTICS",
    "statistic_map",
    "intensity_features",
    "to_image_size",
    "feature_map",
    "compare_statistics",
    "usable_extractors",
    "load_examples",
    "result_figure",
    "MapExplorer",
]

#: The patch statistics S of section 3.2 a demo can choose from (Eqs. (2)-(5)).
STATISTICS = tuple(name for name, spec in methods.STATISTICS.items() if spec.uses_reference)


def statistic_map(
    feats: torch.Tensor,
    statistic: str = "fca",
    patch_size: int = 9,
    sigma_p: float = 3.0,
    sigma_s: float | None = 1.0,
    reference: str = "median",
) -> torch.Tensor:
    """Anomaly map of one feature map under one patch statistic, at feature resolution.

    :func:`fca_utils.core.methods.anomaly_map` with the reference named ``reference``
    (:func:`fca_utils.core.methods.make_reference`) and every parameter explicit:

    - ``"moments"``: Eq. (2) with Gaussian weights of ``sigma_p`` and powers 1-4;
    - ``"histogram"``: Eq. (3), 10 bins, Gaussian weights of ``sigma_p``;
    - ``"sww"``: Eq. (4) with ``sigma_w = sigma_p``;
    - ``"fca"``: Eq. (5), window weights ``G_{sigma_p}``, then the per-window smoothing
      ``G_{sigma_s}`` of the final formula of section 3.2; ``sigma_s=None`` (or 0) is
      Eq. (5) exactly, without smoothing, as the paper runs it for Figure 3.

    Parameters
    ----------
    feats : (C, h, w) tensor
    statistic : one of :data:`STATISTICS`
    patch_size : odd T, at most ``min(h, w)``
    sigma_p : float
        Spatial Gaussian of the statistic (the ``sigma`` of moments / histogram, ``sigma_w``
        of SWW, ``sigma_p`` of FCA).
    sigma_s : float or None
        FCA's smoothing of each window's error map; ignored by the other statistics.
    reference : "median" (Eq. (7), the paper's choice), "mean", "knn" or "random"

    Returns
    -------
    (h, w) tensor
    """
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {STATISTICS}, got {statistic!r}")
    if sigma_s is not None and sigma_s <= 0:
        sigma_s = None
    t = int(patch_size)
    return anomaly_map(feats, statistic, t, make_reference(feats, reference, t), sigma=float(sigma_p),
                       sigma_p=float(sigma_p), sigma_s=None if sigma_s is None else float(sigma_s))


def intensity_features(image) -> torch.Tensor:
    """``F(I) = I`` for a gray image: a one-channel ``(1, H, W)`` float32 feature map.

    The "colors" features of section 3.1 (Table 1) reduced to one channel: the mean of
    the R, G and B values. For a gray image (R = G = B, like the synthetic examples of
    Figure 3) this is the image itself, and every statistic of :mod:`fca_utils.core.statistics`
    averages over channels, so the maps equal those of ``features.get_extractor("colors")``
    (up to rounding) at a third of the cost.

    Parameters
    ----------
    image : anything :func:`fca_utils.core.images.to_image_tensor` accepts

    Returns
    -------
    (1, H, W) float32 tensor in [0, 1]
    """
    return to_image_tensor(image)[0].mean(dim=0, keepdim=True)


def to_image_size(fmap, size: tuple[int, int]) -> np.ndarray:
    """Bilinear upsampling of a feature-resolution map to ``size = (H, W)``, as in ``localize``.

    Parameters
    ----------
    fmap : (h, w) tensor or array
    size : (H, W)

    Returns
    -------
    (H, W) float32 numpy array
    """
    t = torch.as_tensor(np.asarray(fmap, dtype=np.float32) if not isinstance(fmap, torch.Tensor) else fmap)
    if t.dim() != 2:
        raise ValueError(f"fmap must be a 2-D (h, w) map, got shape {tuple(t.shape)}")
    return resize(t.detach().float().cpu(), tuple(size)).numpy().astype(np.float32)


def feature_map(image, extractor="intensity", device=None) -> torch.Tensor:
    """``F(I)`` of Eq. (1) for one image, as a ``(C, h, w)`` tensor.

    Parameters
    ----------
    image : anything :func:`fca_utils.core.images.to_image_tensor` accepts
    extractor : "intensity" (:func:`intensity_features`), an extractor name of
        :func:`fca_utils.features.available_extractors` (never downloaded), or an
        :class:`fca_utils.features.Extractor` such as ``nb.backbone``
    device : where a named extractor runs (an Extractor object keeps its own device)

    Returns
    -------
    (C, h, w) tensor on the extractor's device
    """
    if isinstance(extractor, str) and extractor == "intensity":
        return intensity_features(image)
    if isinstance(extractor, features.Extractor):
        ex = extractor
    else:
        ex = features.get_extractor(extractor, device, download=False)
    return ex(to_image_tensor(image).to(ex.device))[0]


def compare_statistics(image, extractor, settings: Mapping[str, Mapping], device=None) -> dict[str, np.ndarray]:
    """Several patch statistics (section 3.2) on the same features of one image.

    The features are computed once; every entry of ``settings`` is passed to
    :func:`statistic_map` and its map brought to the image's resolution with
    :func:`to_image_size`. This is how the paper's Figures 3 and 4 compare FCA with
    histograms of a large and a small patch.

    Parameters
    ----------
    image : anything :func:`fca_utils.core.images.to_image_tensor` accepts
    extractor : see :func:`feature_map`
    settings : dict name -> dict of :func:`statistic_map` keywords, e.g.
        ``{"FCA": dict(statistic="fca", patch_size=25, sigma_p=6.0, sigma_s=None),
        "Hist": dict(statistic="histogram", patch_size=25, sigma_p=6.0)}``
    device : see :func:`feature_map`

    Returns
    -------
    dict name -> float32 (H, W) map, in the order of ``settings``
    """
    feats = feature_map(image, extractor, device)
    size = to_image_tensor(image).shape[-2:]
    return {name: to_image_size(statistic_map(feats, **kw), size) for name, kw in settings.items()}


def usable_extractors(device=None, names: Sequence[str] | None = None) -> list[str]:
    """The feature extractors (F of Eq. (1)) that can be built here, without downloading.

    The torchvision networks (``wide_resnet50_2``, ``vgg19``) are tried with
    :func:`fca_utils.features.get_extractor` and ``download=False`` and left out when
    they raise :class:`fca_utils.features.MissingWeightsError` (ImageNet weights absent);
    the others need no download and are listed without being built (building
    ``random_wrn50`` takes seconds, so it waits until it is used).

    Parameters
    ----------
    device : None, str or torch.device
    names : names to try (default :func:`fca_utils.features.available_extractors`)

    Returns
    -------
    list of str, in the order given
    """
    usable = []
    for name in (names if names is not None else features.available_extractors()):
        try:
            if features.needs_download(name):  # ValueError for an unknown name
                features.get_extractor(name, device, download=False)
        except features.MissingWeightsError:
            continue
        usable.append(name)
    return usable


def load_examples(dataset, picks: Sequence[tuple[str, str, int]], size: int | None = 256
                  ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A few test images of a dataset with their masks, optionally resized to ``size x size``.

    Parameters
    ----------
    dataset : :class:`fca_utils.datasets.Dataset`
    picks : list of (class, defect type, index)
        ``index`` counts the class's test images of that defect type, sorted by name.
    size : int or None
        Side of the square images returned (bicubic for images, area average >= 0.5 for
        masks); None keeps the dataset's resolution.

    Returns
    -------
    dict ``"class/defect/stem"`` -> (uint8 (H, W, 3) image, bool (H, W) mask)
    """
    out = {}
    for cls, defect, index in picks:
        entries = dataset.entries(cls, defect)
        if not 0 <= index < len(entries):
            raise IndexError(f"{dataset.name}/{cls}/{defect} has {len(entries)} test images; index {index} is out of range")
        sample = dataset.load(entries[index])
        image, mask = sample.image, sample.mask
        if size is not None:
            small = resize_image(image, size)[0].permute(1, 2, 0).numpy()
            image, mask = (small * 255).round().astype(np.uint8), resize_mask(mask, size)
        out[f"{cls}/{defect}/{sample.stem}"] = (image, mask)
    return out


def result_figure(image: np.ndarray, mask: np.ndarray | None, scores: np.ndarray, title: str | None = None,
                  normalizer=None, cell_size: float = 2.3):
    """Image, ground truth, the anomaly map in "Reds" (paper's colours, Appendix B.2) and as an overlay.

    Parameters
    ----------
    image : (H, W[, 3]) uint8 or float in [0, 1]
    mask : (H, W) bool or None (no ground-truth panel)
    scores : (H, W) float map at the image's resolution
    title : figure title
    normalizer : callable mapping scores to [0, 1] (default: this map's own min and max,
        :func:`fca_utils.evaluation.viz.class_normalizer`)

    Returns
    -------
    matplotlib Figure
        Panels image, ground truth (when ``mask`` is given), anomaly map, overlay (with the
        ground truth outlined in black).
    """
    import matplotlib.pyplot as plt

    from ..evaluation import viz

    scores = np.asarray(scores, dtype=np.float32)
    normalizer = normalizer or viz.class_normalizer([scores])
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
    panels = [("image", image)]
    if mask is not None:
        panels.append(("ground truth", np.asarray(mask, bool)))
    normalized = normalizer(scores)
    panels += [("anomaly map", viz.colorize(normalized)), ("overlay", viz.overlay(image, normalized))]
    fig, axes = plt.subplots(1, len(panels), figsize=(len(panels) * cell_size, cell_size + 0.3))
    for ax, (name, picture) in zip(axes, panels):
        ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None, vmin=0, vmax=1 if picture.dtype == bool else None)
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    if mask is not None and np.asarray(mask).any():
        axes[-1].contour(np.asarray(mask, bool), levels=[0.5], colors="black", linewidths=0.6)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.92) if title else None)
    return fig


class MapExplorer:
    """Anomaly maps of a few images for any F, S, T, sigma_p, sigma_s (Eq. (1)), features cached.

    Parameters
    ----------
    examples : dict label -> (image, mask)
        E.g. from :func:`load_examples`; uint8 (H, W, 3) images, bool (H, W) masks.
    device : None, str or torch.device
        Where features and statistics are computed.
    fine_size : int or None
        Side at which extractors of stride 1 (colors, random projections, steerable
        filters, TEM, VGG19 convs) see the image. Their feature maps have the image's
        resolution, so at 256 x 256 with 128 channels a redraw would take several
        seconds on a CPU; at 128 it stays around a second. None: the example's own size.
        Stride-8 networks always see the example at its own size.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> img = (rng.uniform(0.3, 0.7, (64, 64, 3)) * 255).astype(np.uint8)
    >>> img[20:26, 20:26] = 255
    >>> mask = np.zeros((64, 64), bool); mask[20:26, 20:26] = True
    >>> ex = MapExplorer({"toy": (img, mask)})
    >>> m = ex.compute("toy", "colors", "fca", 9, 3.0, 1.0)
    >>> m.shape, bool(m[22, 22] > m[50, 50])
    ((64, 64), True)
    """

    def __init__(self, examples: Mapping[str, tuple[np.ndarray, np.ndarray]], device=None,
                 fine_size: int | None = 128):
        if not examples:
            raise ValueError("examples is empty; give at least one label -> (image, mask)")
        self.examples = dict(examples)
        self.device = device
        self.fine_size = fine_size
        self._features: dict[tuple[str, str], torch.Tensor] = {}
        self.last_seconds: float | None = None

    @property
    def labels(self) -> list[str]:
        return list(self.examples)

    def features(self, label: str, extractor: str) -> torch.Tensor:
        """``F(I)`` of example ``label`` for the named extractor, ``(C, h, w)``; computed once."""
        key = (label, extractor)
        if key not in self._features:
            if label not in self.examples:
                raise KeyError(f"unknown example {label!r}; examples: {self.labels}")
            ex = features.get_extractor(extractor, self.device, download=False)
            img = to_image_tensor(self.examples[label][0])
            if ex.stride == 1 and self.fine_size is not None and max(img.shape[-2:]) > self.fine_size:
                img = resize_image(img, self.fine_size)
            dev = ex.device
            self._features[key] = ex(img.to(dev))[0]
        return self._features[key]

    def compute(self, label: str, extractor: str, statistic: str = "fca", patch_size: int = 9,
                sigma_p: float = 3.0, sigma_s: float | None = 1.0) -> np.ndarray:
        """The anomaly map of example ``label`` at its resolution (float32 (H, W)).

        Raises ValueError (from :func:`fca_utils.core.ops.check_patch_size`) when T exceeds the
        feature map.
        """
        start = time.perf_counter()
        feats = self.features(label, extractor)
        fmap = statistic_map(feats, statistic, patch_size, sigma_p, sigma_s)
        out = to_image_size(fmap, self.examples[label][0].shape[:2])
        self.last_seconds = time.perf_counter() - start
        return out

    def figure(self, label: str, extractor: str, statistic: str = "fca", patch_size: int = 9,
               sigma_p: float = 3.0, sigma_s: float | None = 1.0):
        """:func:`result_figure` of :meth:`compute`'s map, titled with the settings."""
        scores = self.compute(label, extractor, statistic, patch_size, sigma_p, sigma_s)
        image, mask = self.examples[label]
        smooth = f", σs={sigma_s:g}" if statistic == "fca" and sigma_s else ""
        feats = self.features(label, extractor)
        title = (f"{label}: F={extractor} ({feats.shape[0]}×{feats.shape[1]}×{feats.shape[2]}), "
                 f"S={statistic}, T={patch_size}, σp={sigma_p:g}{smooth}")
        return result_figure(image, mask, scores, title=title)

    def show(self, label: str, extractor: str, statistic: str = "fca", patch_size: int = 9,
             sigma_p: float = 3.0, sigma_s: float | None = 1.0) -> None:
        """Draw :meth:`figure` (for ``ipywidgets.interactive_output``); a bad setting prints why."""
        import matplotlib.pyplot as plt

        try:
            fig = self.figure(label, extractor, statistic, patch_size, sigma_p, sigma_s)
        except ValueError as err:
            print(f"cannot compute this map: {err}")
            return
        plt.show()
        plt.close(fig)
