"""Patch statistics comparison S of Eq. (1) (paper, section 3.2).

Four ways to compare the local statistics around every feature pixel with a reference, and a
quantized variant of the fourth:

========== ======== ===============================================================
function   equation idea
========== ======== ===============================================================
moments    Eq. (2)  Gaussian-weighted local moments vs. their global average
histogram  Eq. (3)  EMD between the local histogram and the global histogram
sww        Eq. (4)  sorted window vs. sorted reference; errors Gaussian-weighted by
                    each sample's position, summed into the window centre
fca        Eq. (5)  the same errors sent back to the pixel each sample came from,
                    smoothed (sigma_s), weighted (sigma_p) and accumulated over all
                    windows containing the pixel
qfca       Eq. (5)  FCA on values quantized to L levels, ties sharing their error, so
                    a window needs its histogram, not a sort (not in the paper:
                    after arXiv 2510.15602)
========== ======== ===============================================================

All functions take ``feats`` of shape ``(C, H, W)`` (a leading batch of 1 is
accepted), scale every channel to [0, 1] first (Appendix E; ``scale=False`` skips
it), and return an ``(H, W)`` tensor of the input's dtype on the input's device.
Windows are T x T, centred on every pixel, reflect-padded by T // 2.

Where the paper's Eq. (1) sums over a set of references, these functions average
over it: a constant factor 1/|R| that changes no ranking-based metric but keeps
scores comparable between reference sets of different sizes.

Equal values inside a window (common at the borders, where reflect padding
repeats pixels) are ranked by their position in the window (row-major, a stable
sort), so the rank-to-pixel correspondence of Eqs. (4) and (5) is well defined.
The paper does not say how ties are ordered, and the authors' ``sc_methods.py``
sorts with ``torch.sort`` (not stable: the order of ties is left to the device);
``docs/fidelity.md`` lists this among the choices that are ours.

The implementations here are the straightforward PyTorch ones (unfold, sort,
gather, fold), processed in chunks of window rows so memory stays bounded; the
test-suite checks each against a literal loop over its equation.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from . import kernels
from .ops import (
    SMOOTH_KERNEL,
    check_sigma,
    gaussian_blur,
    gaussian_kernel2d,
    prepare_features,
)
from .reference import (
    NearestReference,
    PatchReference,
    Reference,
    SortedReference,
    check_reference_patch,
    kernel_reference,
)
from .windows import iter_window_rows

__all__ = ["moments", "histogram", "sww", "fca", "qfca", "QFCA_LEVELS", "Reference"]



# --------------------------------------------------------------------------- moments / histogram


def _local_moments(feats: torch.Tensor, t: int, powers, sigma: float) -> torch.Tensor:
    """Gaussian-weighted local moments, (C*P, H, W); channel c*P + i holds E[f_c^powers[i]]."""
    ps = torch.as_tensor(list(powers), dtype=feats.dtype, device=feats.device)
    raised = feats[:, None] ** ps[None, :, None, None]  # (C, P, H, W)
    return gaussian_blur(raised.flatten(0, 1), t, sigma)


def moments(
    feats,
    patch_size: int = 25,
    powers=(1, 2, 3, 4),
    sigma: float = 6.0,
    reference: Reference = None,
    *,
    scale: bool = True,
) -> torch.Tensor:
    """Method of moments, Eq. (2) with Gaussian spatial weights and higher moments.

    ``m_p(x, y) = sum_{(x',y') in P_xy} G_sigma(x'-x, y'-y) F(x', y')^p`` for every
    channel and power ``p``; the score is the mean over channels and powers of
    ``(m_p(x, y) - m_p^ref)^2``. With ``powers=(1,)`` and uniform weights this is
    Eq. (2) divided by C. The default reference ``avg(F_r)`` is the average of the
    local moments over the whole map; a :class:`~fca_utils.core.reference.PatchReference`
    uses the local moments of the chosen windows (averaging the scores over them).

    The defaults ``powers=(1, 2, 3, 4)`` and ``sigma=6`` are the authors'
    (``conf/sc/moments.yaml``; sigma = 6 is also Appendix E's value for the preliminary
    experiment).

    Returns
    -------
    (H, W) tensor.
    """
    feats, t = prepare_features(feats, patch_size, scale)
    check_sigma("sigma", sigma)
    if len(tuple(powers)) == 0:
        raise ValueError("powers must contain at least one exponent, e.g. (1, 2, 3, 4)")
    local = _local_moments(feats, t, powers, sigma)  # (D, H, W)
    refs = _reference_vectors(local, reference, t, "moments")  # (K, D)
    out = torch.zeros(local.shape[1:], dtype=local.dtype, device=local.device)
    for r in refs:
        out += ((local - r[:, None, None]) ** 2).mean(dim=0)
    return out / refs.shape[0]


def _bin_indices(feats: torch.Tensor, bins: int) -> torch.Tensor:
    """Histogram bin of every value of a [0, 1]-scaled map (authors' rule floor(0.999 * bins * f))."""
    return torch.floor(0.999 * bins * feats.clamp(0, 1)).long()


def _local_histograms(feats: torch.Tensor, t: int, bins: int, sigma: float) -> torch.Tensor:
    """Gaussian-weighted local histograms, (C, bins, H, W), each summing to 1 over bins."""
    one_hot = F.one_hot(_bin_indices(feats, bins), bins).permute(0, 3, 1, 2).to(feats.dtype)
    return gaussian_blur(one_hot, t, sigma)


def _emd(cdf: torch.Tensor, ref_cdf: torch.Tensor) -> torch.Tensor:
    """EMD between 1-D histograms on [0, 1] with equal bins, given their cumulative sums:
    the mean over bins of ``|CDF difference|``, averaged over channels.

    cdf: (C, bins, H, W); ref_cdf: (C, bins). Returns (H, W).
    """
    return (cdf - ref_cdf[:, :, None, None]).abs().mean(dim=(0, 1))


def histogram(
    feats,
    patch_size: int = 25,
    bins: int = 10,
    sigma: float = 6.0,
    reference: Reference = None,
    *,
    scale: bool = True,
) -> torch.Tensor:
    """Histogram comparison, Eq. (3): EMD between local and reference histograms.

    Each channel is scaled to [0, 1] and quantized into ``bins`` bins; the local
    histogram of window ``P_xy`` counts its samples with Gaussian weights
    ``G_sigma`` (section 3.2, "one can employ spatial weighting"). The score is the
    earth mover's distance to the reference histogram, averaged over channels. The
    default reference is the histogram of the whole map (the average of the local
    histograms); a :class:`~fca_utils.core.reference.PatchReference` compares with the
    local histograms of the chosen windows and averages the distances.

    The defaults ``bins=10`` (Appendix E) and ``sigma=6`` are the authors'
    (``conf/sc/hist.yaml``: ``bins: 10``, ``sigma: 6.0``, used whatever the window size).

    Returns
    -------
    (H, W) tensor.
    """
    feats, t = prepare_features(feats, patch_size, scale)
    check_sigma("sigma", sigma)
    if int(bins) != bins or bins < 2:
        raise ValueError(f"bins must be an integer >= 2, got {bins!r}")
    hist = _local_histograms(feats, t, int(bins), sigma)  # (C, B, H, W)
    c, b, h, w = hist.shape
    refs = _reference_vectors(hist.reshape(c * b, h, w), reference, t, "histogram").view(-1, c, b)
    cdf, ref_cdfs = hist.cumsum(dim=1), refs.cumsum(dim=2)  # each local CDF once, not once per reference
    out = torch.zeros((h, w), dtype=hist.dtype, device=hist.device)
    for ref_cdf in ref_cdfs:
        out += _emd(cdf, ref_cdf)
    return out / refs.shape[0]


def _reference_vectors(local: torch.Tensor, reference: Reference, t: int, name: str) -> torch.Tensor:
    """Reference descriptors for moments/histogram: (K, D) from local descriptors (D, H, W)."""
    if reference is None:
        return local.flatten(1).mean(dim=1)[None]
    if isinstance(reference, PatchReference):
        check_reference_patch(reference, t)
        ys, xs = reference.centers[:, 0].to(local.device), reference.centers[:, 1].to(local.device)
        return local[:, ys, xs].T
    raise TypeError(
        f"{name}: reference must be None (global average) or a reference.PatchReference "
        f"(random/all windows), got {type(reference).__name__}"
    )


# --------------------------------------------------------------------------- SWW / FCA


def sww(
    feats,
    patch_size: int = 9,
    sigma: float = 6.0,
    reference: Reference = None,
    *,
    scale: bool = True,
    backend: str = "auto",
    tile_rows: int | None = None,
) -> torch.Tensor:
    """Sample-weighted Wasserstein, Eq. (4).

    ``S(x, y) = sum_{(x',y') in P_xy} M(x', y'; P_xy) G_sigma(x'-x, y'-y)`` where
    ``M(x', y'; P)`` is the pixel's non-compliance in window ``P``: sort the T^2
    values of each channel, take ``|sorted - reference|`` rank by rank, and assign
    each difference to the pixel the value came from; channels are averaged.
    ``G_sigma`` is a normalized T x T Gaussian. With a uniform ``G`` this is the
    exact 1-D Wasserstein distance between window and reference.

    Parameters
    ----------
    feats : (C, H, W) tensor
    patch_size : odd T (9 at full resolution, 3 at 320x320, 25 in Tables 1-2)
    sigma : sigma_w of the spatial weights (6: the authors' ``conf/sc/sww.yaml``,
        ``sigma: 6.0``, used whatever the window size; Appendix E's value for Tables 1-2)
    reference : None (median, Eq. 7), sorted (C, T*T) / (K, C, T*T) tensor,
        PatchReference or NearestReference
    backend : "auto" (the numba kernels of :mod:`fca_utils.core.kernels` for CPU
        tensors, this PyTorch code for CUDA ones), "numba" (CPU only) or "torch" (this code)
    tile_rows : rows of windows per tile of the numba kernels (default: as many as fit
        in ``kernels.TILE_BYTES``); the result does not depend on it

    Returns
    -------
    (H, W) tensor.
    """
    check_sigma("sigma", sigma)
    numba = kernels.use_numba(backend, feats)
    feats, t = prepare_features(feats, patch_size, scale)
    if numba:
        return kernels.sww(feats, t, sigma, *kernel_reference(feats, t, reference), tile_rows=tile_rows)
    refs = SortedReference(feats, t, reference)
    weights = gaussian_kernel2d(t, sigma, dtype=feats.dtype, device=feats.device).reshape(-1)
    out = torch.empty(feats.shape[1:], dtype=feats.dtype, device=feats.device)
    for y0, win in iter_window_rows(feats, t):
        values, order = torch.sort(win, dim=-1, stable=True)
        diff = refs.mean_abs_diff(values, y0)  # (r, W, C, T*T) by rank
        out[y0 : y0 + win.shape[0]] = (diff * weights[order]).sum(dim=-1).mean(dim=-1)
    return out


def fca(
    feats,
    patch_size: int = 9,
    sigma_p: float = 3.0,
    sigma_s: float | None = 1.0,
    reference: Reference = None,
    *,
    scale: bool = True,
    backend: str = "auto",
    tile_rows: int | None = None,
) -> torch.Tensor:
    """Feature Correspondence Analysis, Eq. (5) with the smoothing G_{sigma_s}.

    ``S(x, y) = sum_{(x',y') in P_xy} G_{sigma_s}(M(., .; P_x'y'))(x, y) G_{sigma_p}(x'-x, y'-y)``

    For every window ``P_x'y'``: sort each channel's T^2 values, take
    ``|sorted - reference|`` rank by rank, send each difference back to the pixel
    the value came from, average over channels; smooth this T x T error map with a
    5 x 5 Gaussian of ``sigma_s`` (reflect-padded within the window; skipped when
    ``sigma_s`` is None, i.e. Eq. (5) exactly); weight it by the normalized T x T
    Gaussian ``G_{sigma_p}`` centred on the window; and add each pixel's share into
    the score of that pixel. Shares that land on the reflect padding are dropped.

    Parameters
    ----------
    feats : (C, H, W) tensor
    patch_size : odd T >= 3 (9 at full resolution, 3 at 320x320, 25 in Tables 1-2)
    sigma_p : sigma of the window weights (3, Sec. 3.4 and the authors' ``conf/sc/fca.yaml``;
        6 in the preliminary experiments, Appendix E)
    sigma_s : sigma of the per-window smoothing (1, Sec. 3.4 and ``conf/sc/fca.yaml``; 3 in the
        preliminary experiments); its 5 x 5 kernel is the authors' (``sc_methods.py``,
        ``ScFCA(k_s=5)``)
    reference : None (median, Eq. 7), sorted (C, T*T) / (K, C, T*T) tensor,
        PatchReference or NearestReference
    backend : "auto" (the numba kernels of :mod:`fca_utils.core.kernels` for CPU
        tensors, this PyTorch code for CUDA ones), "numba" (CPU only) or "torch" (this code)
    tile_rows : rows of windows per tile of the numba kernels (default: as many as fit
        in ``kernels.TILE_BYTES``); the result does not depend on it

    Returns
    -------
    (H, W) tensor.

    Examples
    --------
    >>> import torch
    >>> f = torch.rand(8, 32, 32); f[:, 10:13, 10:13] += 2
    >>> s = fca(f, patch_size=9)
    >>> bool(s[11, 11] > s[25, 25])
    True
    """
    numba, feats, t = _fca_inputs(feats, patch_size, sigma_p, sigma_s, scale, backend)
    if numba:
        return kernels.fca(feats, t, sigma_p, sigma_s, *kernel_reference(feats, t, reference), tile_rows=tile_rows)
    refs = SortedReference(feats, t, reference)

    def window_errors(y0, win):
        values, order = torch.sort(win, dim=-1, stable=True)
        diff = refs.mean_abs_diff(values, y0)  # by rank
        return torch.empty_like(diff).scatter_(-1, order, diff).mean(dim=2)  # (r, W, T*T) by position

    return _accumulate_windows(feats, t, sigma_p, sigma_s, window_errors)


def _fca_inputs(feats, patch_size, sigma_p: float, sigma_s: float | None, scale: bool, backend: str):
    """Checked sigmas, the backend choice and the prepared ``(C, H, W)`` features with T, shared
    by :func:`fca` and :func:`qfca` (whose per-window smoothing needs T >= 3)."""
    check_sigma("sigma_p", sigma_p)
    if sigma_s is not None:
        check_sigma("sigma_s", sigma_s)
    numba = kernels.use_numba(backend, feats)
    feats, t = prepare_features(feats, patch_size, scale)
    if sigma_s is not None and t < 3:
        raise ValueError(f"FCA smoothing needs patch_size >= 3, got {t}")
    return numba, feats, t


def _accumulate_windows(feats: torch.Tensor, t: int, sigma_p: float, sigma_s: float | None, window_errors):
    """Eq. (5)'s outer sum: smooth each window's error map ``window_errors(y0, win)`` (r, W, T*T)
    with ``G_{sigma_s}``, weight it by ``G_{sigma_p}`` and add it into the pixels it covers."""
    _, h, w = feats.shape
    p = t // 2
    weights = gaussian_kernel2d(t, sigma_p, dtype=feats.dtype, device=feats.device).reshape(-1)
    canvas = torch.zeros((h + 2 * p, w + 2 * p), dtype=feats.dtype, device=feats.device)
    for y0, win in iter_window_rows(feats, t):
        r = win.shape[0]
        errors = window_errors(y0, win).to(feats.dtype)
        if sigma_s is not None:
            errors = gaussian_blur(errors.view(r, w, t, t), SMOOTH_KERNEL, sigma_s).view(r, w, t * t)
        contrib = (errors * weights).permute(2, 0, 1).reshape(1, t * t, r * w)
        canvas[y0 : y0 + r + t - 1] += F.fold(contrib, (r + t - 1, w + t - 1), kernel_size=t)[0, 0]
    return canvas[p : p + h, p : p + w].contiguous()


#: Default number of quantization levels of :func:`qfca`.
QFCA_LEVELS = 16


def qfca(
    feats,
    patch_size: int = 9,
    sigma_p: float = 3.0,
    sigma_s: float | None = 1.0,
    levels: int = QFCA_LEVELS,
    reference: Reference = None,
    *,
    scale: bool = True,
    backend: str = "auto",
    tile_rows: int | None = None,
) -> torch.Tensor:
    """Quantized FCA: Eq. (5) on features quantized to ``levels`` values, compared by histograms.

    After Ardelean, Rueckbeil and Weyrich, "Quantized FCA: Efficient Zero-Shot Texture
    Anomaly Detection" (arXiv 2510.15602), which compares histograms of quantized feature
    values instead of sorted windows. Only that paper's abstract was reachable when this
    was written, so the following definition is ours, stated so that it can be tested
    against a literal loop (``tests/literal.py``, ``qfca``):

    1. every [0, 1]-scaled channel value ``v`` becomes the level ``q = min(floor(L v), L - 1)``
       (:func:`fca_utils.core.kernels.quantize`), and so does every rank of the sorted
       reference (the median of Eq. (7) by default; quantizing commutes with it);
    2. in a window, the samples of level ``l`` take the ranks ``[N_{l-1}, N_l)`` of the
       sorted window (``N`` the cumulative histogram); each of them gets the *mean* of
       ``|l - ref_level[r]| / L`` over those ranks. This is FCA's rank-wise error on the
       quantized values with ties sharing their error equally, so the result does not
       depend on how ties are ordered, and it needs only the window's histogram of L
       counts, which slides along a row of windows by one column out and one in, instead
       of a sort of T^2 values per channel;
    3. the per-pixel errors are averaged over channels (and references), smoothed by
       ``G_{sigma_s}``, weighted by ``G_{sigma_p}`` and accumulated as in :func:`fca`.

    With L large enough that no two values of a window share a level, this is FCA on
    values rounded down to multiples of 1/L. The paper's PCA preprocessing is separate:
    :func:`fca_utils.core.pca.pca` (``pca_components`` of
    :func:`fca_utils.core.methods.anomaly_map`).

    Parameters
    ----------
    feats, patch_size, sigma_p, sigma_s, scale, tile_rows : as in :func:`fca`
    levels : number of quantization levels L, 2 to 256 (default 16, our choice)
    reference : None (median, Eq. 7), sorted (C, T*T) / (K, C, T*T) tensor or
        PatchReference; per-window k-NN references are not supported
    backend : "auto" (numba for CPU tensors, PyTorch otherwise), "numba" or "torch"

    Returns
    -------
    (H, W) tensor.

    Examples
    --------
    >>> import torch
    >>> f = torch.rand(8, 32, 32); f[:, 10:13, 10:13] += 2
    >>> s = qfca(f, patch_size=9, levels=8)
    >>> bool(s[11, 11] > s[25, 25])
    True
    """
    if isinstance(levels, bool) or int(levels) != levels or not 2 <= levels <= 256:
        raise ValueError(f"levels must be an integer from 2 to 256, got {levels!r}")
    levels = int(levels)
    if isinstance(reference, NearestReference):
        raise TypeError("qfca does not support per-window k-NN references (NearestReference); use the "
                        "median (None), a sorted (C, T*T) / (K, C, T*T) tensor or a PatchReference")
    numba, feats, t = _fca_inputs(feats, patch_size, sigma_p, sigma_s, scale, backend)
    if numba and reference is None:
        x = kernels.kernel_input(feats)
        ref = torch.from_numpy(kernels.median_reference(x, t))[None]
    else:
        ref = SortedReference(feats, t, reference).windows
    ref_levels = kernels.quantize(ref, levels)  # (K, C, T*T), sorted
    if numba:
        return kernels.qfca(feats, t, sigma_p, sigma_s, levels, ref_levels, tile_rows=tile_rows)
    q = kernels.quantize(feats, levels).to(feats.dtype)

    def window_errors(y0, win):
        lv = win.long()  # (r, W, C, T*T) levels by position
        ranked = torch.sort(lv, dim=-1).values  # levels by rank
        diff = torch.zeros(ranked.shape, dtype=torch.float64, device=feats.device)
        for ref_k in ref_levels:
            diff += (ranked - ref_k).abs()
        sums = torch.zeros((*lv.shape[:-1], levels), dtype=torch.float64, device=feats.device)
        sums.scatter_add_(-1, ranked, diff)
        counts = torch.zeros_like(sums).scatter_add_(-1, ranked, torch.ones_like(diff))
        per_level = sums / counts.clamp(min=1) / (ref_levels.shape[0] * levels)
        return per_level.gather(-1, lv).mean(dim=2)

    return _accumulate_windows(q, t, sigma_p, sigma_s, window_errors).to(feats.dtype)
