"""Hand-crafted feature extractors ``F`` of Eq. (1) (section 3.1, Table 1).

======================  ====  ======  ==============================================================
name                    C     stride  what it is
======================  ====  ======  ==============================================================
``colors``              3     1       the RGB values, ``F(I) = I``
``random``              128   1       normalized random 5x5 kernels
``steerable``           32    1       one level of steerable filters G1, G2, H2
``tem``                 9     1       Laws' texture energy measures
======================  ====  ======  ==============================================================

All keep the input resolution (stride 1, reflect padding).

Examples
--------
>>> import torch
>>> LawsTextureEnergy()(torch.rand(1, 3, 64, 80)).shape
torch.Size([1, 9, 64, 80])
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..core.ops import gaussian_blur, reflect_pad
from .base import Extractor

__all__ = ["Colors", "RandomProjections", "SteerableFilters", "LawsTextureEnergy", "steerable_filter", "laws_masks"]


def _grayscale(x: torch.Tensor) -> torch.Tensor:
    """``(1, 3, H, W) -> (1, 1, H, W)``: the mean of the RGB channels."""
    return x.mean(dim=1, keepdim=True)


def _convolve(x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """True 2-D convolution (kernel flipped) of ``(1, C_in, H, W)`` with ``(C_out, C_in, k, k)``,
    reflect padding by ``k // 2`` so the output keeps the input resolution."""
    return F.conv2d(reflect_pad(x, kernels.shape[-1] // 2), torch.flip(kernels, dims=(-2, -1)))


class Colors(Extractor):
    """The colors themselves, ``F(I) = I`` (section 3.1, Table 1).

    ``(1, 3, H, W) -> (1, 3, H, W)``; receptive field 1x1.
    """

    name = "colors"
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
    """One level of steerable filters at full resolution (section 3.1, Table 1; [26]).

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

    name = "steerable"
    stride = 1
    min_size = 5
    description = (
        "steerable filters (Freeman & Adelson 1991) G1, G2, H2 and sqrt(G2^2+H2^2) at 8 orientations "
        "on grayscale, one level at full resolution; receptive field 9x9 (section 3.1, Table 1)"
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


class LawsTextureEnergy(Extractor):
    """Laws' texture energy measures, TEM (section 3.1, Table 1; Laws 1980 [32]).

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
    49x49 square (19 + 31 - 1) with the defaults.

    Parameters
    ----------
    device : str or torch.device, optional
    mean_sigma : float
        Standard deviation of the Gaussian whose blur is subtracted in step 1.
    energy_window : int
        Odd side of the averaging window of step 3.
    """

    name = "tem"
    stride = 1
    channels = 9
    description = (
        "Laws' texture energy: 9 rotation-invariant measures, local mean of |5x5 mask response| "
        "over 15x15 after local-mean removal; receptive field 19x19, 49x49 with the mean removal "
        "(section 3.1, Table 1)"
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
