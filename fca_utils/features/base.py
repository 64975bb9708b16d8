"""The common interface of the feature extractors ``F`` of Eq. (1), and their input checks.

Every extractor is a callable :class:`Extractor`: it takes a ``(1, 3, H, W)`` float
tensor with values in [0, 1] on any device and returns ``(1, C, h, w)`` float32 features
on the same device, with ``h = ceil(H / stride)`` and ``w = ceil(W / stride)``. Outputs
are not min-max scaled, except ``steerable``'s, whose config scales them
(:mod:`.handcrafted`, "Feature scaling"); the statistics scale every channel to [0, 1]
themselves (Appendix E), so this changes no anomaly map.
"""
from __future__ import annotations

import math

import torch

from .fusion import fold_batchnorms

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "ALIASES", "Extractor", "as_device", "canonical_name",
           "imagenet_normalize"]

#: ImageNet channel means and standard deviations, the normalization of the torchvision networks.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: Other accepted spellings of extractor names.
ALIASES = {"wrn50": "wide_resnet50_2"}


def canonical_name(name: str) -> str:
    """``name`` stripped, lower case, with :data:`ALIASES` resolved (``'WRN50'`` -> ``'wide_resnet50_2'``)."""
    if not isinstance(name, str):
        raise TypeError(f"extractor name must be a string, got {type(name).__name__}")
    key = name.strip().lower()
    return ALIASES.get(key, key)


def as_device(device) -> torch.device:
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


def imagenet_normalize(x: torch.Tensor) -> torch.Tensor:
    """``(x - mean) / std`` per channel with :data:`IMAGENET_MEAN` and :data:`IMAGENET_STD`."""
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


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
        Registry name, as accepted by :func:`fca_utils.features.get_extractor`.
    stride : int
        Downsampling factor: ``(1, 3, H, W) -> (1, C, ceil(H/stride), ceil(W/stride))``.
    channels : int
        Number of output channels ``C``.
    description : str
        One line: content, receptive field, source.
    min_size : int
        Smallest accepted image side in pixels.
    receptive_field : int or None
        Side in pixels of the image square one output cell depends on (theoretical
        receptive field); None when it is the whole image (FFT-based features).
    device : torch.device
        Where the computation runs (inputs are moved there and outputs moved back).
    channels_last : bool
        Run the network's modules and input in ``torch.channels_last`` memory format.
        On by default for the convolutional networks on the CPU
        (``channels_last_on_cpu``), where oneDNN's convolutions are faster in that layout;
        the features equal the default layout's up to float32 rounding in another order
        (``tests/test_backbone_layout.py`` states the tolerance,
        ``benchmarks/bench_backbone.py`` measures speed and AU-PRO). Set it to False for the
        plain float32 layout.
    fold_batchnorm : bool
        Run the network's modules with every batch norm folded into the convolution before
        it (:func:`fca_utils.features.fusion.fold_batchnorms`), one pass less over each
        feature map. On by default for the networks with batch norms on the CPU
        (``fold_batchnorm_on_cpu``); the features equal the unfolded network's up to float32
        rounding (same test and benchmark as ``channels_last``). Set it to False for the
        modules as they were built; switching it back and forth is allowed.
    bfloat16_on_cpu : bool
        Class attribute: the network was measured in bfloat16 on the CPU
        (``benchmarks/bench_backbone.py``), so ``precision="auto"`` of
        :func:`fca_utils.localize` runs it so on CPUs with native bfloat16
        (:mod:`fca_utils.features.precision`). The extractor itself always computes in
        float32; :class:`~fca_utils.features.precision.Bfloat16Extractor` wraps it.
    """

    name = ""
    stride = 1
    channels = 0
    description = ""
    min_size = 1
    receptive_field: int | None = None
    channels_last_on_cpu = False
    channels_last = False  # set per instance by __init__
    fold_batchnorm_on_cpu = False
    fold_batchnorm = False  # set per instance by __init__
    bfloat16_on_cpu = False
    _module_format = torch.contiguous_format  # the layout the modules are in
    _built_modules = None  # the modules as built, while the folded ones are in use

    def __init__(self, device=None):
        self.device = as_device(device)
        self.channels_last = self.channels_last_on_cpu and self.device.type == "cpu"
        self.fold_batchnorm = self.fold_batchnorm_on_cpu and self.device.type == "cpu"

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
        x = _check_image(image, self.name, self.min_size).to(self.device)
        self._swap_folded_modules()
        layout = torch.channels_last if self.channels_last else torch.contiguous_format
        if layout != self._module_format:
            for module in vars(self).values():
                if isinstance(module, torch.nn.Module):
                    module.to(memory_format=layout)
            self._module_format = layout
        with torch.no_grad():
            out = self._features(x.contiguous(memory_format=layout))
        return out.float().contiguous().to(image.device)

    def _swap_folded_modules(self) -> None:
        """Put the folded modules in place of the built ones, or back, as ``fold_batchnorm`` says."""
        if bool(self.fold_batchnorm) == (self._built_modules is not None):
            return
        if self.fold_batchnorm:
            self._built_modules = {name: module for name, module in vars(self).items()
                                   if isinstance(module, torch.nn.Module)}
            for name, module in self._built_modules.items():
                setattr(self, name, fold_batchnorms(module))
        else:
            for name, module in self._built_modules.items():
                setattr(self, name, module)
            self._built_modules = None
        self._module_format = None  # lay the modules now in use out again

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement _features(x) -> (1, C, h, w) features")

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """Spatial size ``(ceil(H/stride), ceil(W/stride))`` of the features of an ``H x W`` image."""
        return math.ceil(height / self.stride), math.ceil(width / self.stride)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, channels={self.channels}, "
            f"stride={self.stride}, device={str(self.device)!r})"
        )
