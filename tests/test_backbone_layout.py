"""The channels_last layout of the convolutional backbones on the CPU (issue 14, item 3).

``Extractor.channels_last`` is on by default for these networks on the CPU. It may change
the features only by float32 rounding in another summation order: ``benchmarks/bench_backbone.py``
measured at most 1.4e-6 of the features' largest magnitude at 1024^2; the tolerance here is 1e-5.
"""
import pytest
import torch

from fca_utils import features

TOLERANCE = 1e-5  # of the largest feature magnitude
NETWORKS = {
    "efficientnet_lite0": lambda: features.get_extractor("efficientnet_lite0", device="cpu"),
    "random_wrn50": lambda: features.get_extractor("random_wrn50", device="cpu"),
    "random_efficientnet_lite0": lambda: features.RandomEfficientNetLite0("cpu"),
}


@pytest.fixture(scope="module")
def image():
    generator = torch.Generator().manual_seed(0)
    return torch.rand(1, 3, 96, 136, generator=generator)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_channels_last_is_the_cpu_default_and_equals_the_plain_layout(name, image):
    extractor = NETWORKS[name]()
    assert extractor.channels_last
    fast = extractor(image)
    assert fast.is_contiguous()  # callers get the ordinary layout back
    weights = next(p for p in vars(extractor).values() if isinstance(p, torch.nn.Module))
    conv = next(m for m in weights.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)

    plain = NETWORKS[name]()
    plain.channels_last = False
    reference = plain(image)
    assert fast.shape == reference.shape
    assert float((fast - reference).abs().max()) <= TOLERANCE * float(reference.abs().max())

    extractor.channels_last = False  # switching back restores the plain computation exactly
    assert torch.equal(extractor(image), reference)
    assert conv.weight.is_contiguous()


def test_handcrafted_extractors_keep_the_plain_layout():
    assert not features.get_extractor("colors").channels_last
