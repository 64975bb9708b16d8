"""One registry from a statistic's name to its function, the references by name, and the presets.

Eq. (1), ``A = sum_{F_r in R(F(I))} S(x, y, F(I), F_r)``, for a feature map that is
already computed: :func:`anomaly_map` applies the statistic S named in
:data:`STATISTICS` against a reference R from :func:`make_reference`;
:func:`preset_map` does both with the parameters of a :class:`Preset`. Everything that
turns a statistic's name into a map (:func:`fca_utils.localize`, the experiments, the
explorer) goes through here.

Presets (paper, sections 3.4 and 4.3):

============== ================ === ========= ===================================
preset          image size       T   reference statistic
============== ================ === ========= ===================================
paper           full resolution  9   median    FCA (sigma_p=3, sigma_s=1)
paper320        320 x 320        3   median    FCA
paper320_knn    320 x 320        3   k-NN      FCA
aota            320 x 320        3   k-NN      local mean (Aota et al.)
own             full resolution  9   median    FCA, image padded with itself (``pad="auto"``)
============== ================ === ========= ===================================

``own`` is ours, not the paper's: ``paper`` plus a padding of the image with its own texture
before the backbone (see ``Preset.pad`` and ``Preset.pad_mode``), the default of :func:`fca_utils.localize` and
``fca-localize`` for one's own images. The ``paper*`` presets run the backbone as the
authors do, and every experiment uses them.

Where the paper is silent, the presets do what the authors' public code does
(repository ``TArdelean/AnomalyLocalizationFCA``): images are resized with plain
bilinear interpolation, no antialiasing (``op_utils.py``, ``load_image_tensor``:
``F.interpolate(..., mode='bilinear')``); FCA's per-window smoothing is a 5 x 5
Gaussian (``sc_methods.py``, ``ScFCA(k_s=5)``); moments, histogram and SWW weight the
window with a Gaussian of sigma 6 whatever the window size, and the histogram has 10
bins (``conf/sc/moments.yaml``, ``conf/sc/hist.yaml``, ``conf/sc/sww.yaml``:
``sigma: 6.0``; ``hist.yaml``: ``bins: 10``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from . import baselines, pca, reference, statistics

__all__ = ["Statistic", "STATISTICS", "REFERENCES", "anomaly_map", "make_reference", "Preset", "PRESETS",
           "preset_map"]


@dataclass(frozen=True)
class Statistic:
    """A patch statistic S of section 3.2 (or the Aota et al. baseline) and how to call it.

    ``function(feats, patch_size, reference=..., **kwargs)`` returns the ``(h, w)`` map;
    ``params`` maps each keyword of ``function`` to the :func:`anomaly_map` argument
    that supplies it.
    """

    name: str
    label: str
    equation: str
    function: Callable[..., torch.Tensor]
    params: dict = field(default_factory=dict)
    uses_reference: bool = True


STATISTICS: dict[str, Statistic] = {
    s.name: s
    for s in (
        Statistic("moments", "Moments", "Eq. (2)", statistics.moments, {"sigma": "sigma"}),
        Statistic("histogram", "Histogram", "Eq. (3)", statistics.histogram, {"sigma": "sigma", "bins": "bins"}),
        Statistic("sww", "SWW", "Eq. (4)", statistics.sww, {"sigma": "sigma"}),
        Statistic("fca", "FCA", "Eq. (5)", statistics.fca, {"sigma_p": "sigma_p", "sigma_s": "sigma_s"}),
        Statistic("qfca", "QFCA", "Eq. (5), quantized (arXiv 2510.15602)", statistics.qfca,
                  {"sigma_p": "sigma_p", "sigma_s": "sigma_s", "levels": "levels"}),
        Statistic("aota", "Aota et al.", "Aota et al. (WACV 2023)", baselines.aota, {"k": "aota_k"},
                  uses_reference=False),
    )
}

#: Reference names of :func:`make_reference` (section 3.3, Tables 2 and 7).
REFERENCES = ("median", "mean", "random", "knn")


def anomaly_map(feats: torch.Tensor, statistic: str = "fca", patch_size: int = 9, reference=None, *,
                sigma: float = 6.0, sigma_p: float = 3.0, sigma_s: float | None = 1.0, bins: int = 10,
                aota_k: int = 400, levels: int = statistics.QFCA_LEVELS,
                pca_components: int | None = None) -> torch.Tensor:
    """``S(x, y, F, R)`` of one statistic from :data:`STATISTICS` on a ``(C, h, w)`` feature map.

    Parameters
    ----------
    feats : (C, h, w) tensor
    statistic : a name of :data:`STATISTICS`
    patch_size : odd window side T
    reference : what the statistic accepts (:data:`fca_utils.core.reference.Reference`);
        None is the median of Eq. (7) for SWW and FCA and the global average for moments
        and histogram
    sigma : spatial Gaussian of moments, histogram and SWW (6, the authors'
        ``conf/sc/moments.yaml``, ``hist.yaml`` and ``sww.yaml``)
    sigma_p, sigma_s : FCA's window weights and per-window smoothing (3 and 1, Sec. 3.4 and
        ``conf/sc/fca.yaml``; ``sigma_s=None``: Eq. (5) without smoothing)
    bins : histogram bins (10, Appendix E and ``conf/sc/hist.yaml``)
    aota_k : neighbours of the Aota et al. baseline (capped at the number of pixels)
    levels : quantization levels of QFCA (:func:`fca_utils.core.statistics.qfca`)
    pca_components : project the map on this many principal components first
        (:func:`fca_utils.core.pca.pca`, QFCA's preprocessing, usable with any statistic);
        None keeps the channels. A ``reference`` given with it must come from the projected map.

    Returns
    -------
    (h, w) tensor

    >>> f = torch.rand(4, 16, 16); f[:, 6:9, 6:9] += 2
    >>> m = anomaly_map(f, "sww", patch_size=5, sigma=2.0)
    >>> bool(m[7, 7] > m[1, 14])
    True
    """
    if statistic not in STATISTICS:
        raise ValueError(f"unknown statistic {statistic!r}; expected one of {list(STATISTICS)}")
    spec = STATISTICS[statistic]
    if pca_components is not None:
        feats = pca.pca(feats, pca_components).features
    values = dict(sigma=sigma, sigma_p=sigma_p, sigma_s=sigma_s, bins=int(bins), levels=levels,
                  aota_k=min(int(aota_k), feats.shape[-1] * feats.shape[-2]))
    kwargs = {arg: values[source] for arg, source in spec.params.items()}
    if spec.uses_reference:
        kwargs["reference"] = reference
    return spec.function(feats, int(patch_size), **kwargs)


def make_reference(feats: torch.Tensor, kind: str = "median", patch_size: int = 9, *, knn_k: int = 10,
                   knn_method: str = "auto", random_k: int = 1, seed: int = 0):
    """The reference R named ``kind`` for a ``(C, h, w)`` feature map, as the statistics accept it.

    ``"median"`` returns None (every statistic's own default: the median of Eq. (7) for
    SWW and FCA, the global average for moments and histogram); ``"mean"`` the average
    patch (Table 7); ``"random"`` ``random_k`` random windows (Table 2); ``"knn"`` the
    ``knn_k`` nearest windows of every window (section 3.3), searched with
    ``knn_method`` (:func:`fca_utils.core.reference.knn`).
    """
    if kind == "median":
        return None
    if kind == "mean":
        return reference.mean(feats, patch_size)
    if kind == "knn":
        return reference.knn(feats, patch_size, k=knn_k, method=knn_method)
    if kind == "random":
        return reference.random(feats, patch_size, k=random_k, seed=seed)
    raise ValueError(f"unknown reference {kind!r}; expected one of {list(REFERENCES)}")


@dataclass(frozen=True)
class Preset:
    """A full configuration of the framework of Eq. (1).

    Attributes
    ----------
    name : str
    image_size : int or None
        Side the image is resized to before feature extraction; None runs at the
        input's own resolution (Sec. 3.4).
    patch_size : int
        Odd window side T (9 at full resolution, 3 at 320 x 320, Sec. 3.4).
    statistic, reference : str
        Names of :data:`STATISTICS` and :data:`REFERENCES`.
    sigma_p, sigma_s : float
        FCA's window weights and per-window smoothing (3 and 1, Sec. 3.4,
        ``conf/sc/fca.yaml``); ``sigma_s=None`` is Eq. (5) without smoothing.
    sigma : float
        Spatial Gaussian of moments, histogram and SWW (6, ``conf/sc/moments.yaml``,
        ``hist.yaml``, ``sww.yaml``; the paper gives sigma = 6 only for the preliminary
        experiment, Appendix E).
    bins : int
        Histogram bins (10, Appendix E, ``conf/sc/hist.yaml``).
    antialias : bool
        Low-pass filter the image when shrinking it to ``image_size``. False: plain
        bilinear interpolation, as the authors' ``op_utils.py`` (``load_image_tensor``)
        resizes; True is an option that deviates from it.
    knn_k : int
        Neighbours of the k-NN reference (the paper does not give k and the authors' code
        has no k-NN reference; 10 is our choice, ``docs/fidelity.md``).
    knn_method : "exact", "approx" or "auto" (exact while affordable, see
        :func:`fca_utils.core.reference.knn_method`)
    random_k : int
        Windows of the random reference (Table 2).
    aota_k : int
        Neighbours of the Aota et al. baseline.
    output_blur : float or None
        Sigma (pixels) of a final blur at ``image_size``, as in Aota et al.
    levels : int
        Quantization levels of QFCA (statistic ``"qfca"``; not in the paper, arXiv 2510.15602).
    pca_components : int or None
        Principal components the features are projected on before the reference and the
        statistic (:func:`fca_utils.core.pca.pca`); None (the paper) keeps all channels.
    pad : int or "auto"
        Pixels of padding added to each side of the image before the feature extractor
        (``pad_mode`` says how), whose features are then cropped back to the image
        (rounded up to a multiple of 32 pixels, and kept below the image's smaller side); ``"auto"``: half the extractor's receptive field, so that no
        feature of the image sees the network's zero padding. 0 (every ``paper*``
        preset): none, as the authors run the backbone, whose convolutions zero-pad the
        image and so see a dark frame around it, which lights up a band along the
        border of the map. Preset ``own`` (``"auto"``) is :func:`fca_utils.localize`'s
        default for one's own images.
    pad_mode : "periodic", "circular" or "reflect"
        How ``pad`` fills the frame; unused when ``pad`` is 0. ``"periodic"``: the image
        translated by the shift at which it best matches itself, a whole number of periods
        on a regular texture, the image's side (circular) otherwise
        (:func:`fca_utils.core.padding.periodic_pad`); ``"circular"``: the image wrapped
        around; ``"reflect"``: mirrored (``torch.nn.functional.pad``'s modes). ``own`` pads
        periodically. A mirror shows the backbone's oriented filters the texture flipped,
        which they take for a change of texture; wrapping around keeps the orientation but,
        on a regular texture whose period does not divide the image's side, meets the image
        out of phase, a seam the features along the border see; the periodic shift removes
        that seam where the texture has a period. Where it found one along both axes, the
        frame continues the texture without a seam, and the statistic also sees T // 2 cells
        of it (the padding grows by as much) instead of reflecting the features by T // 2 at
        the map's edge (the authors' way, kept everywhere else): that mirror breaks a
        regular pattern inside the windows at the edge as a mirrored image does. Where the
        frame has a seam (circular), the mirror is the better of the two, as the benchmark
        showed. On the defect-free images of the embedded benchmark this left the fewest
        images with a bright band (the band's highest score over the highest inside, issue
        12's criterion of 1.2) and about the AU-PRO of circular padding;
        ``benchmarks/own_images_border.py`` prints all three modes.
    """

    name: str
    image_size: int | None
    patch_size: int
    statistic: str = "fca"
    reference: str = "median"
    sigma_p: float = 3.0
    sigma_s: float | None = 1.0
    sigma: float = 6.0
    bins: int = 10
    antialias: bool = False
    knn_k: int = 10
    knn_method: str = "auto"
    random_k: int = 1
    aota_k: int = 400
    output_blur: float | None = None
    levels: int = statistics.QFCA_LEVELS
    pca_components: int | None = None
    pad: int | str = 0
    pad_mode: str = "reflect"

    def params(self) -> dict[str, Any]:
        """Every field but ``name``; ``pad`` and ``pad_mode`` only when ``pad`` is set, so that
        the parameters (and the keys of cached maps derived from them) of the ``paper*``
        presets are those they had before padding existed."""
        return {k: v for k, v in self.__dict__.items()
                if k != "name" and not (k in ("pad", "pad_mode") and not self.pad)}


PRESETS: dict[str, Preset] = {
    "paper": Preset("paper", None, 9),
    "paper320": Preset("paper320", 320, 3),
    "paper320_knn": Preset("paper320_knn", 320, 3, reference="knn"),
    "aota": Preset("aota", 320, 3, statistic="aota", reference="knn", output_blur=4.0),
    "own": Preset("own", None, 9, pad="auto", pad_mode="periodic"),
}


def preset_map(feats: torch.Tensor, preset: Preset) -> torch.Tensor:
    """The preset's statistic S against its reference R on a ``(C, h, w)`` feature map.

    ``reference="knn"`` searches the ``knn_k`` nearest windows with
    ``method=preset.knn_method``. With ``"auto"`` (the default) the search is exact
    while its cost ``(h w)^2 C T^2`` is at most ``reference.KNN_EXACT_BUDGET``
    (``paper320_knn``: 40 x 40 windows with T = 3, exact) and approximate beyond
    (:func:`fca_utils.core.reference.knn_approx`, e.g. 128 x 128 with T = 9 for a
    1024^2 image with preset ``paper``). The Aota et al. baseline takes no reference.
    """
    if preset.statistic not in STATISTICS:
        raise ValueError(f"unknown statistic {preset.statistic!r}; expected one of {list(STATISTICS)}")
    if preset.pca_components is not None:
        feats = pca.pca(feats, preset.pca_components).features
    ref = None
    if STATISTICS[preset.statistic].uses_reference:
        ref = make_reference(feats, preset.reference, preset.patch_size, knn_k=preset.knn_k,
                             knn_method=preset.knn_method, random_k=preset.random_k)
    return anomaly_map(feats, preset.statistic, preset.patch_size, ref, sigma=preset.sigma, sigma_p=preset.sigma_p,
                       sigma_s=preset.sigma_s, bins=preset.bins, aota_k=preset.aota_k, levels=preset.levels)
