"""Hand-crafted feature extractors ``F`` of Eq. (1) (section 3.1, Table 1).

======================  ====  ======  ==============================================================
name                    C     stride  what it is
======================  ====  ======  ==============================================================
``colors``              3     1       the RGB values, ``F(I) = I``
``random``              128   1       normalized random 5x5 kernels
``steerable``           129   1       real parts of one level of a complex steerable pyramid,
                                      43 orientations, each RGB channel (the authors' setting)
``steerable_g2h2``      32    1       G1, G2, H2 filters at 8 orientations on grayscale (our
                                      earlier deviation, kept for the fidelity report)
``tem``                 9     1       Laws' nine signed 5x5 responses after local-mean removal
                                      (the authors' setting)
``tem_energy``          9     1       Laws' rectified, 15x15-averaged energies (the classic TEM,
                                      our earlier deviation)
======================  ====  ======  ==============================================================

All keep the input resolution (stride 1). Where the paper is silent, the settings are
those of the authors' repository (``TArdelean/AnomalyLocalizationFCA``): the classes of
its ``feature_extractors.py`` configured by ``conf/fe/color.yaml``, ``random.yaml``,
``steerable.yaml`` and ``ltem.yaml``.

Feature scaling (Appendix E and the configs)
--------------------------------------------
The configs min-max scale every channel over the image right after extraction
(``post_scale: True``) for the steerable pyramid, VGG and WideResNet, and not for colors
(``post_scale: False``), random kernels and TEM (their classes have no such step).
Appendix E scales the features to [0, 1] for the histogram, SWW and FCA statistics,
while the authors' code does so only inside its histogram statistic, so there SWW and
FCA saw unscaled colors, random-kernel and TEM features. The paper wins: every
statistic here scales each channel to [0, 1] first
(:func:`fca_utils.core.ops.prepare_features`). Min-max scaling is idempotent (up to its
``1e-8`` guard), so whether an extractor scales its output changes no anomaly map; it
only shows when features are used with ``scale=False``. ``steerable`` scales, as its
config does; the other extractors here return unscaled values, as theirs do.

Examples
--------
>>> import torch
>>> LawsTEM()(torch.rand(1, 3, 64, 80)).shape
torch.Size([1, 9, 64, 80])
>>> SteerablePyramid()(torch.rand(1, 3, 64, 80)).shape
torch.Size([1, 129, 64, 80])
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..core.ops import gaussian_blur, reflect_pad, scale_features
from .base import Extractor

__all__ = ["Colors", "RandomProjections", "SteerablePyramid", "SteerableFilters", "LawsTEM", "LawsTextureEnergy",
           "steerable_filter", "laws_masks"]


def _grayscale(x: torch.Tensor) -> torch.Tensor:
    """``(1, 3, H, W) -> (1, 1, H, W)``: the mean of the RGB channels."""
    return x.mean(dim=1, keepdim=True)


def _convolve(x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """True 2-D convolution (kernel flipped) of ``(1, C_in, H, W)`` with ``(C_out, C_in, k, k)``,
    reflect padding by ``k // 2`` so the output keeps the input resolution."""
    return F.conv2d(reflect_pad(x, kernels.shape[-1] // 2), torch.flip(kernels, dims=(-2, -1)))


class Colors(Extractor):
    """The colors themselves, ``F(I) = I`` (section 3.1, Table 1).

    The authors' ``Colors`` with ``conf/fe/color.yaml`` (``post_scale: False``): the RGB
    values in [0, 1], not min-max scaled; the statistics scale each channel themselves
    (module docstring, "Feature scaling"). ``(1, 3, H, W) -> (1, 3, H, W)``; receptive
    field 1x1.
    """

    name = "colors"
    receptive_field = 1
    stride = 1
    channels = 3
    description = "RGB values, F(I) = I; receptive field 1x1 (section 3.1, Table 1)"
    min_size = 1

    def _features(self, x):
        return x.clone()


class RandomProjections(Extractor):
    """Random projections of 5x5 RGB patches (section 3.1, Table 1; after [24]).

    ``n`` kernels ``k_i`` of shape ``3 x 5 x 5`` are drawn from a standard normal and
    normalized to unit L2 norm over their 75 values, ``k_i / ||k_i||_2``; the features are
    the correlations ``F_i(I) = k_i * I`` with reflect padding, so they keep the input
    resolution. ``(1, 3, H, W) -> (1, 128, H, W)``; receptive field 5x5.

    This is the authors' ``RandomKernels`` with ``conf/fe/random.yaml``
    (``projections: [[128, 1]]``, ``patch_size: 5``: one scale, no resampling), except
    that the kernels come from a seeded generator instead of the global RNG. The config
    does not min-max scale the output, nor does this extractor; the statistics scale
    each channel themselves (module docstring, "Feature scaling").

    Parameters
    ----------
    device : str or torch.device, optional
    seed : int
        Seed of a local ``torch.Generator``; the global RNG state is not touched.
    num_kernels : int
        Number of projections ``C`` (the paper uses 128).
    kernel_size : int
        Odd kernel side (the paper uses 5).
    """

    name = "random"
    receptive_field = 5
    stride = 1
    description = "128 unit-norm random 5x5x3 kernels, reflect padding; receptive field 5x5 (section 3.1, Table 1)"

    def __init__(self, device=None, seed: int = 0, num_kernels: int = 128, kernel_size: int = 5):
        super().__init__(device)
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size}")
        generator = torch.Generator().manual_seed(int(seed))
        kernels = torch.randn(num_kernels, 3 * kernel_size * kernel_size, generator=generator)
        kernels = kernels / kernels.norm(dim=1, keepdim=True)
        self.kernels = kernels.reshape(num_kernels, 3, kernel_size, kernel_size).to(self.device)
        self.channels = num_kernels
        self.min_size = kernel_size // 2 + 1

    def _features(self, x):
        return F.conv2d(reflect_pad(x, self.kernels.shape[-1] // 2), self.kernels)


def _log_radius_and_angle(height: int, width: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """``log2 r`` and ``theta`` on the ``torch.fft.rfft2`` grid of an ``height x width`` image.

    ``r = 2 |f|`` is the frequency in units of the Nyquist frequency (``f`` in cycles per
    pixel) and ``theta = atan2(f_row, f_column)``, rows pointing down: the grid of the
    authors' pyramid (its ``prepare_grid``), without the shift. ``log2 r`` is ``-inf`` at DC.
    """
    f_row = torch.fft.fftfreq(height, dtype=torch.float64, device=device)[:, None]
    f_col = torch.fft.rfftfreq(width, dtype=torch.float64, device=device)[None, :]
    return torch.log2(2.0 * torch.sqrt(f_row**2 + f_col**2)), torch.atan2(f_row, f_col)


class SteerablePyramid(Extractor):
    """One level of a complex steerable pyramid, real parts, per RGB channel (section 3.1, Table 1).

    "We use only one level of steerable filters (full spatial resolution)" (section 3.1);
    the rest is the authors' ``SteerableExtractor`` with ``conf/fe/steerable.yaml``
    (``o: 43``, ``m: 1``, ``scale_factor: 1``, ``post_scale: True``). It runs the complex
    steerable pyramid of Portilla & Simoncelli (2000; the PyTorch port ``SCFpyr_PyTorch``
    that the authors' repository includes) with ``m + 2 = 3`` levels (high-pass residual,
    one band level, low-pass residual) on each RGB channel separately, keeps the real
    parts of the 43 oriented bands of the band level, and min-max scales each channel.
    ``(1, 3, H, W) -> (1, 129, H, W)`` (``C = 3 K``, the "about 128 channels" of section 3.1); channel
    ``3 b + c`` is band ``b`` of color ``c`` (band-major, as the authors stack them).

    The pyramid works in the Fourier domain (periodic boundary). With ``l = log2 r`` and
    ``theta`` of :func:`_log_radius_and_angle` and ``Y(l) = cos^2(pi/2 clip(l, -1, 0))``:

    - high-pass residual: ``sqrt(Y)``, zero below ``r = 1/2``, one above ``r = 1``;
    - band ``b`` of ``K``: ``sqrt(1 - Y) sqrt(Y)`` (radially) times
      ``(-i)^n 2 sqrt(c) cos^n(theta - pi b / K)`` on the half-plane
      ``|theta - pi b / K| < pi/2`` and zero on the other (angularly), with ``n = K - 1``
      and ``c = 2^(2n) (n!)^2 / (K (2n)!)``; the inverse FFT is complex;
    - low-pass residual: ``1 - Y`` here (the rest of the spectrum).

    Scale factor 1 is what makes the band radial window ``sqrt(Y (1 - Y)) = |sin(pi l)| / 2``:
    the usual factor 2 moves the band's high-pass edge down one octave, factor 1 leaves
    it on the high-pass residual's, so the band covers ``1/2 <= r <= 1`` (0.25 to 0.5
    cycles per pixel) with its peak 1/2 at ``r = 2^(-1/2)``. The real part of a band is
    the image filtered with the Hermitian mask ``(-i)^n sqrt(c) cos^n(theta - pi b / K)``
    times the radial window (the mean of the one-sided mask at ``f`` and its conjugate at
    ``-f``): the real steerable pyramid's band of Simoncelli & Freeman (1995). That is
    what is computed here, with ``torch.fft.rfft2``; for ``K = 43``, ``(-i)^42 = -1``, so
    every channel is minus a zero-phase (even) filter.

    Written here rather than taken from a library: plenoptic's ``SteerablePyramidFreq``
    and pyrtools' ``SteerablePyramidFreq`` (both on PyPI) place each band level one octave
    below the previous one (a fixed scale factor 2), so they cannot give the authors'
    scale factor 1, whose band shares the high-pass residual's octave.

    Differences from the authors' code, none of which changes a feature beyond float32
    rounding: their masks come from lookup tables by linear interpolation, evaluated
    here from the formulas; their DC bin borrows its neighbour's radius to avoid
    ``log 0`` (the band window is zero there either way for images 4 or more pixels
    wide); their low-pass residual is cropped to half the spectrum, as is right for
    scale factor 2 (not a feature; here it stays at full resolution, which makes the
    three parts a tight frame: :meth:`reconstruct` inverts :meth:`decompose`); and their
    code refuses images under 32 pixels (the size check of its three levels), where
    this needs 3.

    Receptive field: the whole image. The bands are filtered in the Fourier domain, so
    every output depends circularly on every pixel, as in the authors' code. The
    response to an impulse oscillates at 0.25 to 0.5 cycles per pixel and is concentrated
    around it: about 96% of its energy lies in the 9x9 square centred on the impulse and
    99% in the 13x13 one.

    Feature scaling: the config min-max scales each channel over the image after
    extraction (``post_scale: True``), and so does this extractor by default; the
    statistics scale every channel again (:func:`fca_utils.core.ops.prepare_features`,
    Appendix E), which changes nothing, min-max scaling being idempotent.

    Parameters
    ----------
    device : str or torch.device, optional
    orientations : int
        Number of oriented bands ``K`` (the config's ``o: 43``).
    post_scale : bool
        Min-max scale each output channel to [0, 1] (the config's ``post_scale: True``);
        ``False`` gives the raw real parts.
    """

    name = "steerable"
    stride = 1
    min_size = 3
    description = (
        "complex steerable pyramid (Portilla & Simoncelli), one level at full resolution, scale factor 1: "
        "real parts of 43 oriented bands (0.25-0.5 cycles/pixel) of each RGB channel, min-max scaled; "
        "receptive field the whole image (FFT) (section 3.1, Table 1; conf/fe/steerable.yaml)"
    )

    def __init__(self, device=None, orientations: int = 43, post_scale: bool = True):
        super().__init__(device)
        if int(orientations) != orientations or orientations < 1:
            raise ValueError(f"orientations must be a positive integer, got {orientations!r}")
        self.orientations = int(orientations)
        self.post_scale = bool(post_scale)
        self.channels = 3 * self.orientations
        self.description = self.description.replace("43 oriented", f"{self.orientations} oriented")
        order = self.orientations - 1
        self._order = order
        self._sqrt_const = math.sqrt(
            4.0**order * math.factorial(order) ** 2 / (self.orientations * math.factorial(2 * order))
        )
        self._phase = (1, -1j, -1, 1j)[order % 4]  # (-i)^order, exactly

    def _masks(self, height: int, width: int, device):
        """The high-pass and low-pass masks and a function ``b -> real mask of band b``, on
        the rfft2 grid; the band's complex mask is that times ``self._phase``."""
        log_r, theta = _log_radius_and_angle(height, width, device)
        half = (math.pi / 2) * log_r.clamp(-1.0, 0.0)
        highpass, lowpass = torch.cos(half), -torch.sin(half)  # sqrt(Y), sqrt(1 - Y)
        radial = highpass * lowpass

        def band(b: int) -> torch.Tensor:
            angular = self._sqrt_const * torch.cos(theta - math.pi * b / self.orientations) ** self._order
            return (radial * angular).float()

        return highpass.float(), (lowpass**2).float(), band

    def decompose(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The pyramid of real ``(..., H, W)`` images: ``(highpass, bands, lowpass)``.

        ``bands`` is ``(..., K, H, W)``, the real parts of the complex bands; the residuals
        are ``(..., H, W)``. All at full resolution, on ``images.device``.
        """
        size = images.shape[-2:]
        highpass_mask, lowpass_mask, band_mask = self._masks(*size, images.device)
        spectrum = torch.fft.rfft2(images.float())
        bands = images.new_empty((*images.shape[:-2], self.orientations, *size), dtype=torch.float32)
        for b in range(self.orientations):
            bands[..., b, :, :] = torch.fft.irfft2(spectrum * (self._phase * band_mask(b)), s=size)
        highpass = torch.fft.irfft2(spectrum * highpass_mask, s=size)
        lowpass = torch.fft.irfft2(spectrum * lowpass_mask, s=size)
        return highpass, bands, lowpass

    def reconstruct(self, highpass: torch.Tensor, bands: torch.Tensor, lowpass: torch.Tensor) -> torch.Tensor:
        """The images whose :meth:`decompose` gave ``(highpass, bands, lowpass)``.

        The squared masks sum to one at every frequency (the angular windows'
        ``c cos^(2n)`` over the ``K`` bands do), so filtering each part once more with its
        conjugate mask and adding up gives the image back: a tight frame.
        """
        size = highpass.shape[-2:]
        highpass_mask, lowpass_mask, band_mask = self._masks(*size, highpass.device)
        spectrum = torch.fft.rfft2(highpass) * highpass_mask + torch.fft.rfft2(lowpass) * lowpass_mask
        for b in range(self.orientations):
            spectrum = spectrum + torch.fft.rfft2(bands[..., b, :, :]) * (self._phase.conjugate() * band_mask(b))
        return torch.fft.irfft2(spectrum, s=size)

    def _features(self, x):
        _, bands, _ = self.decompose(x[0])  # (3, K, H, W)
        features = bands.transpose(0, 1).reshape(1, self.channels, *x.shape[-2:])
        return scale_features(features[0])[None] if self.post_scale else features


def steerable_filter(kind: str, theta: float, taps: int = 9, spacing: float = 0.67) -> torch.Tensor:
    """One steered filter of Freeman & Adelson (1991), sampled on a ``taps x taps`` grid.

    With ``x`` to the right (columns), ``y`` down (rows), sample positions
    ``spacing * (-(taps // 2) .. taps // 2)`` and ``u = x cos(theta) + y sin(theta)``:

    - ``'G1'``: ``-2 u exp(-(x^2 + y^2))``, first derivative of the Gaussian along ``theta``;
      steerable with the two basis filters ``theta = 0, 90 deg``.
    - ``'G2'``: ``0.9213 (2 u^2 - 1) exp(-(x^2 + y^2))``, second derivative along ``theta``;
      equal to ``cos^2 G2a + 2 cos sin G2b + sin^2 G2c`` with the basis
      ``G2a = 0.9213 (2x^2 - 1) e``, ``G2b = 1.843 x y e``, ``G2c = 0.9213 (2y^2 - 1) e``
      (Freeman & Adelson's Table III; the sign of the middle term is theirs mirrored because
      ``y`` points down here). Its mean is removed so it has no response to constants.
    - ``'H2'``: ``0.9780 (u^3 - 2.254 u) exp(-(x^2 + y^2))``, the polynomial approximation of
      the Hilbert transform of G2 (its quadrature pair), steerable with four basis filters.

    The 9-tap grid with spacing 0.67 is the sampling Freeman & Adelson used for their
    separable G2/H2 filters.

    Returns
    -------
    torch.Tensor
        ``(taps, taps)`` float32, indexed ``[row (y), column (x)]``.
    """
    coords = spacing * (torch.arange(taps, dtype=torch.float64) - taps // 2)
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    gauss = torch.exp(-(x**2 + y**2))
    u = x * math.cos(theta) + y * math.sin(theta)
    if kind == "G1":
        kernel = -2.0 * u * gauss
    elif kind == "G2":
        kernel = 0.9213 * (2.0 * u**2 - 1.0) * gauss
        kernel = kernel - kernel.mean()
    elif kind == "H2":
        kernel = 0.9780 * (u**3 - 2.254 * u) * gauss
    else:
        raise ValueError(f"kind must be 'G1', 'G2' or 'H2', got {kind!r}")
    return kernel.float()


class SteerableFilters(Extractor):
    """Steerable filters G1, G2, H2 (Freeman & Adelson [26]) at full resolution: our earlier deviation.

    Before the authors' setting was followed (:class:`SteerablePyramid`, the ``steerable``
    of Table 1), this package read section 3.1's "one level of steerable filters" as
    Freeman & Adelson's filters [26]; it stays available as ``steerable_g2h2`` to measure
    what that reading changes. The authors' code uses a complex steerable pyramid instead
    (``conf/fe/steerable.yaml``): 129 channels of 43 orientations per RGB channel against
    these 32 on grayscale, a radial band of 0.25 to 0.5 cycles per pixel, and no energy
    channels. Not min-max scaled (the statistics scale each channel; module docstring).

    The grayscale image (mean of RGB) is convolved, with reflect padding, with the 9x9
    filters of :func:`steerable_filter` steered to ``K`` orientations
    ``theta_k = k pi / K`` (``k = 0 .. K-1``; 22.5 deg steps for ``K = 8``). ``K``
    orientations over 180 deg cover all directions because G1 and H2 are odd
    (``f(theta + pi) = -f(theta)``) and G2 is even. Output channels, in this order:

    - ``G1_k``: signed first-derivative (edge) responses, ``K`` channels;
    - ``G2_k``, ``H2_k``: signed responses of the quadrature pair, ``2K`` channels;
    - ``A_k = sqrt(G2_k^2 + H2_k^2)``: the rectified, phase-invariant oriented energy
      amplitude of Freeman & Adelson's orientation analysis, ``K`` channels.

    Eight orientations give a finer angular sampling than the three/four basis filters
    strictly need; the redundant steered channels let per-channel statistics see each
    orientation on its own. ``(1, 3, H, W) -> (1, 4K, H, W)`` (``C = 32`` for ``K = 8``);
    receptive field 9x9.

    Parameters
    ----------
    device : str or torch.device, optional
    orientations : int
        Number of orientations ``K``.
    """

    name = "steerable_g2h2"
    receptive_field = 9
    stride = 1
    min_size = 5
    description = (
        "steerable filters (Freeman & Adelson 1991) G1, G2, H2 and sqrt(G2^2+H2^2) at 8 orientations "
        "on grayscale, one level at full resolution; receptive field 9x9 (our earlier reading of section 3.1)"
    )

    def __init__(self, device=None, orientations: int = 8):
        super().__init__(device)
        if orientations < 1:
            raise ValueError(f"orientations must be a positive integer, got {orientations}")
        self.orientations = int(orientations)
        thetas = [k * math.pi / self.orientations for k in range(self.orientations)]
        kernels = [steerable_filter(kind, t) for kind in ("G1", "G2", "H2") for t in thetas]
        self.kernels = torch.stack(kernels)[:, None].to(self.device)  # (3K, 1, 9, 9)
        self.channels = 4 * self.orientations
        self.description = self.description.replace("8 orientations", f"{self.orientations} orientations")

    def _features(self, x):
        k = self.orientations
        responses = _convolve(_grayscale(x), self.kernels)
        g2, h2 = responses[:, k : 2 * k], responses[:, 2 * k :]
        return torch.cat([responses, torch.sqrt(g2**2 + h2**2)], dim=1)


_LAWS_VECTORS = {
    "L5": (1.0, 4.0, 6.0, 4.0, 1.0),  # level
    "E5": (-1.0, -2.0, 0.0, 2.0, 1.0),  # edge
    "S5": (-1.0, 0.0, 2.0, 0.0, -1.0),  # spot
    "R5": (1.0, -4.0, 6.0, -4.0, 1.0),  # ripple
}

# The nine rotation-invariant measures: a mask alone, or the mean of a symmetric pair.
_LAWS_MEASURES = (
    ("E5E5",),
    ("S5S5",),
    ("R5R5",),
    ("L5E5", "E5L5"),
    ("L5S5", "S5L5"),
    ("L5R5", "R5L5"),
    ("E5S5", "S5E5"),
    ("E5R5", "R5E5"),
    ("S5R5", "R5S5"),
)


def laws_masks() -> tuple[list[str], torch.Tensor]:
    """Laws' sixteen 5x5 masks, the outer products of L5, E5, S5, R5 (Laws 1980).

    Mask ``'AB'`` is ``outer(A, B)``: ``A`` runs down the rows, ``B`` along the columns,
    so ``'L5E5'`` smooths vertically and differentiates horizontally (vertical edges).

    Returns
    -------
    names : list of str
        ``['L5L5', 'L5E5', ..., 'R5R5']``.
    masks : torch.Tensor
        ``(16, 5, 5)`` float32 in the same order.
    """
    names, masks = [], []
    for a, va in _LAWS_VECTORS.items():
        for b, vb in _LAWS_VECTORS.items():
            names.append(a + b)
            masks.append(torch.outer(torch.tensor(va), torch.tensor(vb)))
    return names, torch.stack(masks)


class LawsTEM(Extractor):
    """Laws' texture energy measures as the authors compute them, TEM (section 3.1, Table 1; [32]).

    The paper names Laws' TEM [32] and nothing more; the rest is the authors'
    ``LawTextureEnergyMeasure`` with ``conf/fe/ltem.yaml`` (``mean_patch_size: 15``):

    1. Grayscale (mean of RGB) ``g``, minus its Gaussian blur of ``mean_patch_size`` taps
       and ``sigma = 20`` (the authors' fixed value; with 15 taps the kernel is nearly a
       box), reflect padding (:func:`fca_utils.core.ops.gaussian_blur`, torchvision's blur
       as in their code).
    2. The 16 masks of :func:`laws_masks`, applied as cross-correlations (``conv2d``, mask
       not flipped, as theirs; for masks with one E5 factor that is minus the
       convolution) with 2-pixel reflect padding, divided by 10.
    3. The nine measures: E5E5, S5S5, R5R5 and the means of the symmetric pairs
       (L5E5 + E5L5) / 2, (L5S5 + S5L5) / 2, (L5R5 + R5L5) / 2, (E5S5 + S5E5) / 2,
       (E5R5 + R5E5) / 2, (S5R5 + R5S5) / 2, in this order.

    The responses stay signed: no absolute value and no energy window, unlike Laws' TEM
    (:class:`LawsTextureEnergy`, ``tem_energy``). A pair mean is the response to the
    mask ``(AB + BA) / 2``, which is symmetric under transposition; for the three pairs
    with one E5 its diagonal sums to zero as well, so they are zero on the line of an
    edge along the main diagonal (top left to bottom right). ``(1, 3, H, W) -> (1, 9, H, W)``;
    receptive field ``5 + 15 - 1 = 19`` pixels square (the 5x5 masks on the mean-removed
    image, each of whose values depends on a 15x15 square).

    Feature scaling: neither the config nor this extractor min-max scales; the
    statistics scale each channel to [0, 1] (Appendix E;
    :func:`fca_utils.core.ops.prepare_features`), which the authors' SWW and FCA did not
    do for TEM: the paper wins (module docstring, "Feature scaling").

    Parameters
    ----------
    device : str or torch.device, optional
    mean_patch_size : int
        Odd number of taps of the blur removed in step 1 (the config's 15).
    """

    name = "tem"
    receptive_field = 19
    stride = 1
    channels = 9
    description = (
        "Laws' masks as the authors apply them: 9 signed 5x5 responses / 10 of the gray image minus its "
        "15-tap sigma-20 blur; receptive field 19x19 (section 3.1, Table 1; conf/fe/ltem.yaml)"
    )
    #: Standard deviation of the blur of step 1, fixed in the authors' code.
    MEAN_SIGMA = 20.0

    def __init__(self, device=None, mean_patch_size: int = 15):
        super().__init__(device)
        if int(mean_patch_size) != mean_patch_size or mean_patch_size < 1 or mean_patch_size % 2 == 0:
            raise ValueError(f"mean_patch_size must be a positive odd integer, got {mean_patch_size!r}")
        self.mean_patch_size = int(mean_patch_size)
        self.min_size = max(self.mean_patch_size, 5) // 2 + 1  # reflect padding needs a larger image
        names, masks = laws_masks()
        self.masks = masks[:, None].to(self.device)  # (16, 1, 5, 5)
        self._measure_index = [[names.index(m) for m in group] for group in _LAWS_MEASURES]

    def _features(self, x):
        gray = _grayscale(x)
        gray = gray - gaussian_blur(gray, self.mean_patch_size, self.MEAN_SIGMA)
        responses = F.conv2d(reflect_pad(gray, 2), self.masks) / 10
        return torch.stack([responses[:, idx].mean(dim=1) for idx in self._measure_index], dim=1)


class LawsTextureEnergy(Extractor):
    """Laws' classic texture energy measures, rectified and averaged: our earlier deviation ([32]).

    Before the authors' setting was followed (:class:`LawsTEM`, the ``tem`` of Table 1),
    this package computed TEM as Laws did; it stays available as ``tem_energy`` to
    measure what that changes. The authors' version keeps signed responses, removes a
    15-tap blur with ``sigma = 20`` and divides by 10; this one:

    1. Grayscale (mean of RGB) ``g``; remove the local mean, ``g - G_sigma * g`` with a
       Gaussian of ``sigma = mean_sigma`` (31 taps for the default 5, reflect padding), which
       suppresses illumination changes like Laws' local-average subtraction.
    2. Convolve with the 16 masks of :func:`laws_masks` (reflect padding).
    3. Energy: the local mean of absolute values over an ``energy_window`` square window,
       ``TEM_m = box * |g * m|`` (reflect padding; Laws' 15x15 window by default).
    4. The nine rotation-invariant measures: E5E5, S5S5, R5R5, and the means of the energies
       of the symmetric pairs L5E5/E5L5, L5S5/S5L5, L5R5/R5L5, E5S5/S5E5, E5R5/R5E5,
       S5R5/R5S5. The pairs are averaged *after* the absolute value, as Laws did: averaging
       the signed responses would cancel for diagonal structures (L5E5 + E5L5 vanishes on a
       135 deg edge), which is not rotation invariant.

    L5L5 (the local brightness) is left out, as in Laws' rotation-invariant set. The masks
    are Laws' integers, unnormalized. ``(1, 3, H, W) -> (1, 9, H, W)``; each value depends
    on a ``(5 + energy_window - 1)``-pixel square (19x19), and through the mean removal on a
    49x49 square (19 + 31 - 1) with the defaults. Not min-max scaled (the statistics
    scale each channel; module docstring, "Feature scaling").

    Parameters
    ----------
    device : str or torch.device, optional
    mean_sigma : float
        Standard deviation of the Gaussian whose blur is subtracted in step 1.
    energy_window : int
        Odd side of the averaging window of step 3.
    """

    name = "tem_energy"
    receptive_field = 49
    stride = 1
    channels = 9
    description = (
        "Laws' texture energy: 9 rotation-invariant measures, local mean of |5x5 mask response| "
        "over 15x15 after local-mean removal; receptive field 19x19, 49x49 with the mean removal "
        "(Laws 1980; our earlier reading of section 3.1)"
    )

    def __init__(self, device=None, mean_sigma: float = 5.0, energy_window: int = 15):
        super().__init__(device)
        if energy_window < 1 or energy_window % 2 == 0:
            raise ValueError(f"energy_window must be a positive odd integer, got {energy_window}")
        self.mean_sigma = float(mean_sigma)
        self.mean_kernel_size = 2 * math.ceil(3 * self.mean_sigma) + 1
        self.energy_window = int(energy_window)
        self.min_size = max(self.mean_kernel_size, self.energy_window) // 2 + 1
        names, masks = laws_masks()
        self.masks = masks[:, None].to(self.device)  # (16, 1, 5, 5)
        self._measure_index = [[names.index(m) for m in group] for group in _LAWS_MEASURES]

    def _features(self, x):
        gray = _grayscale(x)
        gray = gray - gaussian_blur(gray, self.mean_kernel_size, self.mean_sigma)
        responses = _convolve(gray, self.masks)
        window = self.energy_window
        energy = reflect_pad(responses.abs(), window // 2)
        energy = F.avg_pool2d(F.avg_pool2d(energy, (window, 1), stride=1), (1, window), stride=1)  # separable box
        return torch.stack([energy[:, idx].mean(dim=1) for idx in self._measure_index], dim=1)
