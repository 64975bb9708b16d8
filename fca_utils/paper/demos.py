"""Helpers behind the demonstration notebooks (00 quickstart, 03 FCA vs. histograms).

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
- :class:`MapExplorer` -- anomaly maps of a few images under any F, S, R, T, sigma_p,
  sigma_s, with features cached so a redraw only recomputes the reference and the
  statistic, each map's compute time in :class:`MapTiming`;
- :func:`explorer_app` -- the ipywidgets explorer of ``00_quickstart`` and
  ``explorer.ipynb`` (:class:`ExplorerApp`): one control per part of Eq. (1), the map as a
  PNG, its real compute time, and an optional colour scale shared across redraws;
- :func:`metric_ordering` and :func:`top_pixels` -- the Figure 3 maps ranked per toy and
  metric, and where a map's highest pixels lie;
- :func:`quickstart_takeaway`, :func:`figure3_claims`, :func:`figure3_takeaway` and
  :func:`figure4_takeaway` -- the notebooks' takeaways, generated from their results.

>>> import numpy as np
>>> from fca_utils.paper import demos
>>> img = np.random.default_rng(0).uniform(0.25, 0.75, (64, 64)).astype(np.float32)
>>> img[30:33, 30:33] = 1.0
>>> s = demos.statistic_map(demos.intensity_features(img), "fca", patch_size=9, sigma_p=3.0, sigma_s=None)
>>> tuple(s.shape), int(s.argmax()) // 64 in (30, 31, 32)
((64, 64), True)
"""
from __future__ import annotations

import html
import io
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch

from .. import features
from ..core import methods
from ..core.images import resize_image, resize_mask, to_image_tensor
from ..core.methods import anomaly_map, make_reference
from ..core.ops import clock, resize
from .prose import backbone_sentence, count, num, ordering, points, verdict

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
    "references_for",
    "MapTiming",
    "MapExplorer",
    "EXPLORER_CONTROLS",
    "ExplorerApp",
    "explorer_app",
    "quickstart_takeaway",
    "FIGURE3_TOYS",
    "FIGURE3_METRICS",
    "figure3_claims",
    "metric_ordering",
    "top_pixels",
    "figure3_takeaway",
    "figure4_takeaway",
]

#: The patch statistics S of section 3.2 a demo can choose from (Eqs. (2)-(5)).
STATISTICS = tuple(name for name, spec in methods.STATISTICS.items() if spec.uses_reference)

#: Statistics that compare local descriptors (moments, histograms) and so accept only the
#: global average (R = "median": their default) or reference windows (R = "random");
#: the mean patch and per-window k-NN references are sorted windows, for SWW and FCA.
_DESCRIPTOR_STATISTICS = ("moments", "histogram")


def references_for(statistic: str) -> tuple[str, ...]:
    """The references R (:data:`fca_utils.core.methods.REFERENCES`) that statistic S accepts.

    Moments (Eq. (2)) and histograms (Eq. (3)) compare with the map's global average
    (``"median"``, their default) or with random windows; SWW and FCA take all four;
    Quantized FCA compares window histograms with one reference for the whole map, so it
    takes every reference but the per-window k-NN.

    >>> references_for("histogram"), references_for("fca"), references_for("qfca")
    (('median', 'random'), ('median', 'mean', 'random', 'knn'), ('median', 'mean', 'random'))
    """
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {STATISTICS}, got {statistic!r}")
    if statistic in _DESCRIPTOR_STATISTICS:
        return tuple(r for r in methods.REFERENCES if r in ("median", "random"))
    if statistic == "qfca":
        return tuple(r for r in methods.REFERENCES if r != "knn")
    return tuple(methods.REFERENCES)


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
      Eq. (5) exactly, without smoothing, as the paper runs it for Figure 3;
    - ``"qfca"``: Quantized FCA (not in the paper, :func:`fca_utils.core.statistics.qfca`)
      with FCA's weights and smoothing.

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
        (:func:`references_for` says which a statistic accepts)

    Returns
    -------
    (h, w) tensor
    """
    if reference not in references_for(statistic):
        raise ValueError(f"S={statistic} accepts the references {references_for(statistic)}, got R={reference!r}: "
                         "the mean patch is a reference of the sorted-window statistics (SWW, FCA, QFCA), and "
                         "the per-window k-NN of SWW and FCA only")
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


@dataclass(frozen=True)
class MapTiming:
    """How long one map of :meth:`MapExplorer.compute` took, the features apart.

    Attributes
    ----------
    features_seconds : float
        Time of ``F(I)`` when it was computed (now, or for an earlier map).
    features_cached : bool
        The features came from the cache: they were not computed for this map.
    statistic_seconds : float
        Time of this map's reference R, statistic S and upsampling, always computed now.
    """

    features_seconds: float
    features_cached: bool
    statistic_seconds: float

    def describe(self) -> str:
        """One line for a notebook: the statistic's time, then the features' and where they came from.

        >>> print(MapTiming(0.5, True, 0.25).describe())
        R + S: 0.25 s (computed now); features F: from the cache (computed earlier in 0.50 s)
        """
        how = (f"from the cache (computed earlier in {self.features_seconds:.2f} s)" if self.features_cached
               else f"{self.features_seconds:.2f} s (computed now)")
        return f"R + S: {self.statistic_seconds:.2f} s (computed now); features F: {how}"


class MapExplorer:
    """Anomaly maps of a few images for any F, S, R, T, sigma_p, sigma_s (Eq. (1)), features cached.

    Parameters
    ----------
    examples : dict label -> (image, mask)
        E.g. from :func:`load_examples`; uint8 (H, W, 3) images, bool (H, W) masks.
    device : None, str or torch.device
        Where features and statistics are computed.
    fine_size : int or None
        Side at which extractors of stride 1 (colors, random projections, steerable
        filters, TEM, VGG19 convs) see the image. Their feature maps have the image's
        resolution, so a redraw at 256 x 256 does four times the work of one at 128 x 128
        (the default keeps the widgets responsive on a CPU). None: the example's own size.
        Stride-8 networks always see the example at its own size.
    source : str
        Where the examples come from (e.g. the dataset's name), at the start of every title.

    Attributes
    ----------
    last_timing : :class:`MapTiming` of the latest :meth:`compute` (None before the first)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> img = (rng.uniform(0.3, 0.7, (64, 64, 3)) * 255).astype(np.uint8)
    >>> img[20:26, 20:26] = 255
    >>> mask = np.zeros((64, 64), bool); mask[20:26, 20:26] = True
    >>> ex = MapExplorer({"toy": (img, mask)})
    >>> m = ex.compute("toy", "colors", "fca", 9, 3.0, 1.0)
    >>> m.shape, bool(m[22, 22] > m[50, 50]), ex.last_timing.features_cached
    ((64, 64), True, False)
    >>> _ = ex.compute("toy", "colors", "fca", 5, 3.0, 1.0, reference="knn"); ex.last_timing.features_cached
    True
    """

    def __init__(self, examples: Mapping[str, tuple[np.ndarray, np.ndarray]], device=None,
                 fine_size: int | None = 128, source: str = ""):
        if not examples:
            raise ValueError("examples is empty; give at least one label -> (image, mask)")
        self.examples = dict(examples)
        self.device = device
        self.fine_size = fine_size
        self.source = source
        self._features: dict[tuple[str, str], tuple[torch.Tensor, float]] = {}
        self.last_timing: MapTiming | None = None

    @property
    def labels(self) -> list[str]:
        return list(self.examples)

    def _features_and_seconds(self, label: str, extractor: str) -> tuple[torch.Tensor, float]:
        key = (label, extractor)
        if key not in self._features:
            if label not in self.examples:
                raise KeyError(f"unknown example {label!r}; examples: {self.labels}")
            ex = features.get_extractor(extractor, self.device, download=False)
            img = to_image_tensor(self.examples[label][0])
            if ex.stride == 1 and self.fine_size is not None and max(img.shape[-2:]) > self.fine_size:
                img = resize_image(img, self.fine_size)
            tick = clock(ex.device)
            start = tick()
            feats = ex(img.to(ex.device))[0]
            self._features[key] = (feats, tick() - start)
        return self._features[key]

    def features(self, label: str, extractor: str) -> torch.Tensor:
        """``F(I)`` of example ``label`` for the named extractor, ``(C, h, w)``; computed once."""
        return self._features_and_seconds(label, extractor)[0]

    def compute(self, label: str, extractor: str, statistic: str = "fca", patch_size: int = 9,
                sigma_p: float = 3.0, sigma_s: float | None = 1.0, reference: str = "median") -> np.ndarray:
        """The anomaly map of example ``label`` at its resolution (float32 (H, W)).

        Features come from the cache after the first map of an (image, extractor) pair;
        the reference ``reference`` (:func:`fca_utils.core.methods.make_reference`) and
        the statistic are computed for every map. :attr:`last_timing` records both times.

        Raises ValueError when T exceeds the feature map
        (:func:`fca_utils.core.ops.check_patch_size`) or the statistic does not accept the
        reference (:func:`references_for`).
        """
        cached = (label, extractor) in self._features
        feats, feature_seconds = self._features_and_seconds(label, extractor)
        tick = clock(feats.device)
        start = tick()
        fmap = statistic_map(feats, statistic, patch_size, sigma_p, sigma_s, reference)
        out = to_image_size(fmap, self.examples[label][0].shape[:2])
        self.last_timing = MapTiming(feature_seconds, cached, tick() - start)
        return out

    def title(self, label: str, extractor: str, statistic: str = "fca", patch_size: int = 9,
              sigma_p: float = 3.0, sigma_s: float | None = 1.0, reference: str = "median") -> str:
        """The source and the settings of a map in one line (F with its feature shape, S, R, T, the sigmas)."""
        smooth = f", σs={sigma_s:g}" if statistic == "fca" and sigma_s else ""
        feats = self.features(label, extractor)
        return (f"{self.source + ' ' if self.source else ''}{label}: F={extractor} ({feats.shape[0]}×{feats.shape[1]}×{feats.shape[2]}), "
                f"S={statistic}, R={reference}, T={patch_size}, σp={sigma_p:g}{smooth}")

    def figure(self, label: str, extractor: str, statistic: str = "fca", patch_size: int = 9,
               sigma_p: float = 3.0, sigma_s: float | None = 1.0, reference: str = "median",
               value_range: tuple[float, float] | None = None):
        """:func:`result_figure` of :meth:`compute`'s map, titled with the settings.

        ``value_range``: the scores shown as palest and darkest red (clipped beyond); None
        uses the map's own minimum and maximum.
        """
        from ..evaluation import viz

        settings = dict(statistic=statistic, patch_size=patch_size, sigma_p=sigma_p, sigma_s=sigma_s,
                        reference=reference)
        scores = self.compute(label, extractor, **settings)
        image, mask = self.examples[label]
        return result_figure(image, mask, scores, title=self.title(label, extractor, **settings),
                             normalizer=None if value_range is None else viz.range_normalizer(*value_range))


#: Names of the controls of :class:`ExplorerApp` (keys of its ``controls`` and of the
#: ``defaults`` of :func:`explorer_app`): the image, the three parts of Eq. (1), the window
#: T, the two Gaussians of FCA (sigma_p also weights the windows of moments, histogram and
#: SWW) and the shared colour scale switch.
EXPLORER_CONTROLS = ("image", "F", "S", "R", "T", "sigma_p", "sigma_s", "shared_scale")

#: What each R of :data:`fca_utils.core.methods.REFERENCES` is called in the explorer.
_REFERENCE_LABELS = {"median": "median (Eq. 7)", "mean": "mean patch", "random": "random window",
                     "knn": "k-NN (10 nearest)"}


class ExplorerApp:
    """The interactive explorer: one control per part of Eq. (1), the map, its compute time.

    Built by :func:`explorer_app`. Every change of a control recomputes the map with
    :meth:`MapExplorer.compute` and redraws it (:meth:`redraw`).

    Attributes
    ----------
    widget : ipywidgets.VBox
        What a notebook displays: the controls, the map, the status line.
    controls : dict name -> widget, names :data:`EXPLORER_CONTROLS`
    map : ipywidgets.Image
        The PNG of image, ground truth, anomaly map and overlay (CSS class ``fca-map``).
    status : ipywidgets.HTML
        Compute times (:meth:`MapTiming.describe`) and the colour range in use, or why the
        map cannot be computed (CSS class ``fca-status``).
    last_map : float32 (H, W) array or None
        The scores drawn last.
    last_range : (lo, hi) or None
        The scores drawn as palest and darkest red in the last picture.
    error : str or None
        Why the latest settings gave no map (the picture keeps the previous map).

    Colour scale: with ``shared_scale`` off every map is stretched over its own minimum and
    maximum, so only the shape of the map can be compared between redraws. With it on, the
    range of an image is fixed by the first map of that image drawn with the switch on and
    kept for every later redraw of that image (values beyond are clipped), so changing S,
    R, T or a sigma also shows how the magnitude of the scores changes. Switching it off and
    on again sets the range anew.
    """

    def __init__(self, explorer: MapExplorer, extractors: Sequence[str], defaults: Mapping | None = None):
        import ipywidgets as widgets

        defaults = dict(defaults or {})
        unknown = sorted(set(defaults) - set(EXPLORER_CONTROLS))
        if unknown:
            raise ValueError(f"unknown explorer defaults {unknown}; the controls are {list(EXPLORER_CONTROLS)}")
        if not extractors:
            raise ValueError("extractors is empty; give at least one extractor name (usable_extractors())")
        for name, options in (("image", explorer.labels), ("F", list(extractors)), ("S", list(STATISTICS)),
                              ("R", list(methods.REFERENCES))):
            if name in defaults and defaults[name] not in options:
                raise ValueError(f"defaults[{name!r}] = {defaults[name]!r} is not among {options}")
        self.explorer = explorer
        slider = dict(continuous_update=False, style={"description_width": "initial"})
        self.controls = {
            "image": widgets.Dropdown(options=explorer.labels, value=defaults.get("image", explorer.labels[0]),
                                      description="image"),
            "F": widgets.Dropdown(options=list(extractors), value=defaults.get("F", extractors[0]), description="F"),
            "S": widgets.Dropdown(options=list(STATISTICS), value=defaults.get("S", "fca"), description="S"),
            "R": widgets.Dropdown(options=[(_REFERENCE_LABELS[r], r) for r in methods.REFERENCES],
                                  value=defaults.get("R", "median"), description="R"),
            "T": widgets.IntSlider(value=defaults.get("T", 3), min=3, max=15, step=2, description="T", **slider),
            "sigma_p": widgets.FloatSlider(value=defaults.get("sigma_p", 3.0), min=0.5, max=8.0, step=0.5,
                                           description="σ_p", **slider),
            "sigma_s": widgets.FloatSlider(value=defaults.get("sigma_s", 1.0), min=0.0, max=3.0, step=0.25,
                                           description="σ_s (0: none)", **slider),
            "shared_scale": widgets.Checkbox(value=bool(defaults.get("shared_scale", False)),
                                             description="shared colour scale (fixed per image by the first "
                                                         "map drawn with it on)", indent=False,
                                             layout=widgets.Layout(width="auto")),
        }
        self.map = widgets.Image(format="png")
        self.map.add_class("fca-map")
        self.status = widgets.HTML()
        self.status.add_class("fca-status")
        c = self.controls
        self.widget = widgets.VBox([widgets.HBox([c["image"], c["F"]]), widgets.HBox([c["S"], c["R"]]),
                                    widgets.HBox([c["T"], c["sigma_p"], c["sigma_s"]]), c["shared_scale"],
                                    self.map, self.status])
        self.widget.add_class("fca-explorer")
        self.last_map: np.ndarray | None = None
        self.last_range: tuple[float, float] | None = None
        self.error: str | None = None
        self._ranges: dict[str, tuple[float, float]] = {}
        for name, control in self.controls.items():
            control.observe(self._on_shared_scale if name == "shared_scale" else self._on_change, names="value")
        self.redraw()

    def settings(self) -> dict:
        """The controls' values as keywords of :meth:`MapExplorer.compute`."""
        c = self.controls
        return dict(label=c["image"].value, extractor=c["F"].value, statistic=c["S"].value,
                    patch_size=int(c["T"].value), sigma_p=float(c["sigma_p"].value),
                    sigma_s=float(c["sigma_s"].value), reference=c["R"].value)

    def _on_change(self, _change) -> None:
        self.redraw()

    def _on_shared_scale(self, _change) -> None:
        self._ranges.clear()
        self.redraw()

    def figure(self):
        """The picture of the current settings as a matplotlib Figure (what :attr:`map` shows)."""
        settings = self.settings()
        scores = self.explorer.compute(**settings)
        label = settings["label"]
        own = (float(scores.min()), float(scores.max()))
        shared = self.controls["shared_scale"].value
        lo, hi = self._ranges.setdefault(label, own) if shared else own
        image, mask = self.explorer.examples[label]
        from ..evaluation import viz

        fig = result_figure(image, mask, scores, title=self.explorer.title(**settings),
                            normalizer=viz.range_normalizer(lo, hi))
        self.last_map, self.last_range = scores, (lo, hi)
        return fig

    def redraw(self) -> None:
        """Recompute the map of the current settings and show it; a bad setting is explained in :attr:`status`."""
        import matplotlib.pyplot as plt

        try:
            fig = self.figure()
        except ValueError as err:
            self.error = str(err)
            self.status.value = f"<b>cannot compute this map:</b> {html.escape(self.error)}"
            return
        self.error = None
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=90)
        plt.close(fig)
        self.map.value = buffer.getvalue()
        lo, hi = self.last_range
        scale = (f"colour scale shared: fixed for this image at {lo:.4g} – {hi:.4g} by its first map drawn with "
                 f"the switch on; scores beyond are clipped" if self.controls["shared_scale"].value
                 else f"colour scale: this map's own range, {lo:.4g} – {hi:.4g}")
        self.status.value = (f"{html.escape(self.explorer.last_timing.describe())}<br>{html.escape(scale)}")


def explorer_app(explorer: MapExplorer, extractors: Sequence[str], defaults: Mapping | None = None) -> ExplorerApp:
    """The ipywidgets explorer of ``explorer``'s images: display ``explorer_app(...).widget``.

    Parameters
    ----------
    explorer : :class:`MapExplorer`
    extractors : names offered for F (e.g. :func:`usable_extractors`)
    defaults : dict control name (:data:`EXPLORER_CONTROLS`) -> first value; e.g.
        ``dict(F="efficientnet_lite0", S="fca", R="median", T=3, sigma_p=3.0, sigma_s=1.0)``.
        Missing: the first image and extractor, FCA, the median, T = 3, sigma_p = 3,
        sigma_s = 1, colour scale per map.

    Returns
    -------
    :class:`ExplorerApp`, its first map already drawn
    """
    return ExplorerApp(explorer, extractors, defaults)


# --------------------------------------------------------------------------- takeaways
def quickstart_takeaway(label: str, scores: Mapping[str, float], backbone: str) -> str:
    """Markdown bullets on notebook 00's example, generated from its metrics.

    ``scores``: :func:`fca_utils.evaluation.metrics.evaluate` of the one map (``au_pro`` and
    ``pixel_auroc`` as fractions). The map is said to follow the defect closely at an AU-PRO
    of at least 90 %, to find it with false alarms or a loose outline from 70 %, and to miss
    much of it below.

    >>> print(quickstart_takeaway("brick/foreign/000", {"au_pro": 0.95, "pixel_auroc": 0.99}, "wide_resnet50_2"))
    * On `brick/foreign/000` FCA's map reaches AU-PRO 95.00 % and pixel AUROC 99.00 % (the protocol's border left out): the map follows the defect closely.
    * Here the features are the paper's WideResNet-50-2 (`wide_resnet50_2`).
    """
    pro, auroc = 100 * scores["au_pro"], 100 * scores["pixel_auroc"]
    if pro >= 90:
        how = "the map follows the defect closely"
    elif pro >= 70:
        how = "the map finds the defect, with false alarms or a loose outline"
    else:
        how = "the map misses much of the defect or marks normal texture as strongly"
    return (f"* On `{label}` FCA's map reaches AU-PRO {num(pro)} % and pixel AUROC {num(auroc)} % (the protocol's "
            f"border left out): {how}.\n* Here {backbone_sentence(backbone)}.")


def _figure3_rows(table, fca=None, large=None, small=None) -> tuple[str, str, str]:
    """The FCA, large-patch and small-patch histogram rows of a Figure 3 table (found by name if not given)."""
    rows = list(table.index)

    def find(given, word):
        if given is not None:
            return given
        hits = [r for r in rows if word in r.lower()]
        if len(hits) != 1:
            raise ValueError(f"cannot tell the {word!r} row among {rows}; name it")
        return hits[0]
    return find(fca, "fca"), find(large, "large"), find(small, "small")


FIGURE3_TOYS = ("outlier", "contextual")
FIGURE3_METRICS = ("AU-PRO", "AUROC", "F1-max")


def _finds(table, row, toy, found, separated) -> bool:
    return bool(table.loc[row, f"{toy} AU-PRO"] >= found and table.loc[row, f"{toy} F1-max"] >= separated)


def figure3_claims(table, *, fca=None, large=None, small=None, found: float = 50.0, separated: float = 10.0,
                   noise: float = 2.0) -> dict[str, dict[str, bool]]:
    """The paper's claims on Figure 3 (Sec. 3.2), checked on one table of per-map metrics.

    ``table``: rows = maps (FCA and the histogram with a large and a small patch, found by
    "FCA", "large" and "small" in their labels unless named), columns ``"<toy> AU-PRO"``,
    ``"<toy> AUROC"``, ``"<toy> F1-max"`` in percent for the toys ``outlier`` and
    ``contextual`` (:func:`fca_utils.datasets.synthetic.toy_examples`). A map *finds* an
    anomaly when its AU-PRO is at least ``found`` and its F1-max at least ``separated`` (some
    threshold marks the anomaly without marking many times as much normal texture; F1-max
    below 10 % means even marking all of the anomaly flags over 19 normal pixels per
    anomalous one). Returns, per toy, which parts of the paper's account hold:

    - outlier ("significantly better localization of the source of the error"): ``sharp``
      (FCA's F1-max above the large-patch histogram's by ``noise``), ``small_helps`` (the
      small patch raises the histogram's F1-max by ``noise``: "would improve the first result");
    - contextual ("it would fail in the second example"): ``fca_finds`` (FCA finds it),
      ``small_fails`` (the small-patch histogram does not).

    >>> import pandas as pd
    >>> cols = [f"{t} {m}" for t in FIGURE3_TOYS for m in FIGURE3_METRICS]
    >>> t = pd.DataFrame([[100, 100, 100, 60, 75, 20], [99, 99, 10, 99, 99, 95], [99, 99, 80, 55, 85, 3]],
    ...                  ["FCA", "Hist, large", "Hist, small"], cols)
    >>> figure3_claims(t)
    {'outlier': {'sharp': True, 'small_helps': True}, 'contextual': {'fca_finds': True, 'small_fails': True}}
    """
    f, lg, sm = _figure3_rows(table, fca, large, small)
    t = table
    return {
        "outlier": {"sharp": verdict(t.loc[f, "outlier F1-max"], t.loc[lg, "outlier F1-max"], noise) > 0,
                    "small_helps": verdict(t.loc[sm, "outlier F1-max"], t.loc[lg, "outlier F1-max"], noise) > 0},
        "contextual": {"fca_finds": _finds(t, f, "contextual", found, separated),
                       "small_fails": not _finds(t, sm, "contextual", found, separated)},
    }


def metric_ordering(table, *, noise: float = 2.0):
    """The maps of a Figure 3 table ordered per toy and metric, best first (a table of strings).

    Rows ``"<toy> <metric>"`` for the columns of ``table`` that are ``"<toy> <metric>"``;
    the one column ``"maps, best first"`` holds :func:`fca_utils.paper.prose.ordering` of the
    rows of ``table`` (neighbours closer than ``noise`` points joined by "≈"). The title names
    the source table.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"outlier F1-max": [100.0, 10.0, 81.0]}, index=["FCA", "Hist, large", "Hist, small"])
    >>> metric_ordering(t).iloc[0, 0]
    'FCA (100.00) > Hist, small (81.00) > Hist, large (10.00)'
    """
    from ..evaluation import tables

    rows = {col: [ordering({r: float(table.loc[r, col]) for r in table.index}, noise)] for col in table.columns}
    source = table.attrs.get("title", "")
    return tables.table(rows, ["maps, best first"], index_name="toy, metric",
                        title=f"Ordering of the maps{': ' + source if source else ''}",
                        notes=f"'≈': closer than {points(noise)}.")


def top_pixels(scores, mask, values, border: int = 0) -> dict[str, float]:
    """Where a map's highest pixels lie: in the anomaly, and at the anomaly's values.

    The ``n`` pixels with the highest ``scores`` (``n`` = the anomaly's size, ``border``
    pixels left out on each side, as the metrics do): the share of them inside ``mask`` and
    the share whose ``values`` (the image's gray values) lie within the range of the
    anomaly's values. On the contextual toy, a map that blames *pixels of the anomaly's gray
    level* rather than *the anomaly's pixels* has a small first share and a large second one.

    Returns
    -------
    dict with ``n``, ``in_anomaly`` and ``same_values`` (fractions)
    """
    scores, mask, values = (np.asarray(a) for a in (scores, mask, values))
    if not (scores.shape == mask.shape == values.shape):
        raise ValueError(f"scores, mask and values must have one shape; got {scores.shape}, {mask.shape}, "
                         f"{values.shape}")
    crop = (slice(border, scores.shape[0] - border), slice(border, scores.shape[1] - border))
    scores, mask, values = scores[crop].ravel(), mask[crop].astype(bool).ravel(), values[crop].ravel()
    n = int(mask.sum())
    if n == 0:
        raise ValueError("the mask has no anomalous pixel inside the border")
    top = np.argsort(scores, kind="stable")[-n:]
    lo, hi = values[mask].min(), values[mask].max()
    return {"n": n, "in_anomaly": float(mask[top].mean()),
            "same_values": float(((values[top] >= lo) & (values[top] <= hi)).mean())}


def figure3_takeaway(table, features: str, *, fca_top: Mapping[str, float] | None = None, fca=None, large=None,
                     small=None, found: float = 50.0, separated: float = 10.0, noise: float = 2.0) -> str:
    """Markdown bullets on one Figure 3 table (see :func:`figure3_claims`), numbers taken from it.

    For the outlier: the F1-max and AU-PRO of the three maps, whether FCA's map is sharper
    than the large-patch histogram's and whether the small patch helps the histogram. For
    the contextual anomaly: the three metrics of the three maps, which maps find it, and how
    FCA compares with the large-patch histogram; ``fca_top`` (:func:`top_pixels` of FCA's
    contextual map) adds where FCA's highest pixels lie. Each bullet ends with whether the
    paper's account holds. ``features`` names the features in the text (e.g. "raw gray values").

    >>> import pandas as pd
    >>> cols = [f"{t} {m}" for t in FIGURE3_TOYS for m in FIGURE3_METRICS]
    >>> t = pd.DataFrame([[100, 100, 100, 90, 95, 40], [99, 99, 10, 95, 98, 50], [99, 99, 80, 30, 60, 3]],
    ...                  ["FCA", "Hist, large", "Hist, small"], cols)
    >>> print(figure3_takeaway(t, "raw gray values").splitlines()[1])  # doctest: +ELLIPSIS
    * **Contextual anomaly** (raw gray values): AU-PRO FCA 90.00 % · Hist, large 95.00 % · Hist, small 30.00 %; ...
    """
    f, lg, sm = _figure3_rows(table, fca, large, small)
    t = table
    claims = figure3_claims(table, fca=f, large=lg, small=sm, found=found, separated=separated, noise=noise)

    def listing(toy, metric):
        return " · ".join(f"{r} {num(t.loc[r, f'{toy} {metric}'])} %" for r in (f, lg, sm))

    sharp = verdict(t.loc[f, "outlier F1-max"], t.loc[lg, "outlier F1-max"], noise)
    small_helps = claims["outlier"]["small_helps"]
    holds = all(claims["outlier"].values())
    outlier = (f"* **Localized outlier** ({features}): F1-max {listing('outlier', 'F1-max')}; AU-PRO "
               f"{listing('outlier', 'AU-PRO')}. FCA's map is "
               + {1: "sharper than", 0: "as sharp as (within noise)", -1: "less sharp than"}[sharp]
               + f" the large-patch histogram's, and the small patch {'raises' if small_helps else 'does not raise'} "
               f"the histogram's F1-max. The paper's account (FCA marks the pixels, a large histogram patch blurs them, "
               f"a small one helps) {'holds' if holds else 'does not hold'} here.")
    finders = [r for r in (f, lg, sm) if _finds(t, r, "contextual", found, separated)]
    c = claims["contextual"]
    if c["fca_finds"] and c["small_fails"]:
        ctx_verdict = "holds"
    elif c["fca_finds"] or c["small_fails"]:
        ctx_verdict = ("holds in part: the small-patch histogram fails, but FCA fails too" if c["small_fails"]
                       else "holds in part: FCA finds it, but so does the small-patch histogram")
    else:
        ctx_verdict = "does not hold: FCA misses it and the small-patch histogram finds it"
    contextual = (f"* **Contextual anomaly** ({features}): AU-PRO {listing('contextual', 'AU-PRO')}; F1-max "
                  f"{listing('contextual', 'F1-max')}; AUROC {listing('contextual', 'AUROC')}. Counting a map as "
                  f"finding the anomaly at AU-PRO ≥ {found:g} % and F1-max ≥ {separated:g} %, "
                  + ("all three maps find it" if len(finders) == 3 else
                     f"{' and '.join(finders)} {'finds' if len(finders) == 1 else 'find'} it" if finders
                     else "no map finds it")
                  + f". The paper's account (FCA finds it, the small-patch histogram fails) {ctx_verdict}.")
    gap_pro = t.loc[lg, "contextual AU-PRO"] - t.loc[f, "contextual AU-PRO"]
    gap_f1 = t.loc[lg, "contextual F1-max"] - t.loc[f, "contextual F1-max"]
    if verdict(t.loc[lg, "contextual F1-max"], t.loc[f, "contextual F1-max"], noise) > 0:
        contextual += (f" FCA does not localize it as it does the outlier: the large-patch histogram is ahead of FCA "
                       f"by {num(gap_pro)} AU-PRO and {num(gap_f1)} F1-max points.")
        if fca_top is not None:
            contextual += (f" Of FCA's {fca_top['n']} highest pixels (as many as the anomaly has), "
                           f"{num(100 * fca_top['in_anomaly'])} % lie in the anomaly and "
                           f"{num(100 * fca_top['same_values'])} % have a gray value within the anomaly's range: "
                           "a surplus of a gray level that the texture has elsewhere gives FCA's rank matching no "
                           "way to tell which pixels of that level are the surplus, so it blames those of that "
                           "level whose values rank at the mismatch.")
    return outlier + "\n" + contextual


def figure4_takeaway(table, *, noise: float = 2.0) -> str:
    """A Markdown bullet on the Figure 4 images: FCA against the histogram, numbers taken from ``table``.

    ``table``: rows = images, columns ``"FCA AU-PRO"``, ``"Hist AU-PRO"``, ``"FCA F1-max"``,
    ``"Hist F1-max"`` in percent. Counts the images where FCA is ahead, within ``noise``
    points, or behind, in each metric, and names the image of the largest F1-max difference.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"FCA AU-PRO": [90, 80], "Hist AU-PRO": [89, 70], "FCA F1-max": [70, 40],
    ...                   "Hist F1-max": [40, 41]}, index=["a", "b"])
    >>> print(figure4_takeaway(t))  # doctest: +ELLIPSIS
    * **Real textures (Figure 4), 2 images:** AU-PRO: FCA ahead on 1 of 2 (b), within noise on 1 (a); ...
    """
    images = list(table.index)
    parts = []
    for metric in ("AU-PRO", "F1-max"):
        v = {i: verdict(table.loc[i, f"FCA {metric}"], table.loc[i, f"Hist {metric}"], noise) for i in images}
        ahead = [i for i in images if v[i] > 0]
        tie = [i for i in images if v[i] == 0]
        behind = [i for i in images if v[i] < 0]
        text = f"{metric}: FCA ahead on {count(ahead, len(images))}"
        if tie:
            text += f", within noise on {len(tie)} ({', '.join(tie)})"
        if behind:
            text += f", behind on {len(behind)} ({', '.join(behind)})"
        parts.append(text)
    gap = {i: float(table.loc[i, "FCA F1-max"] - table.loc[i, "Hist F1-max"]) for i in images}
    widest = max(images, key=lambda i: abs(gap[i]))
    return (f"* **Real textures (Figure 4), {len(images)} images:** {'; '.join(parts)} (differences below "
            f"{points(noise)} count as within noise). The largest F1-max difference is on `{widest}`: FCA "
            f"{num(table.loc[widest, 'FCA F1-max'])} % vs. histogram {num(table.loc[widest, 'Hist F1-max'])} %.")
