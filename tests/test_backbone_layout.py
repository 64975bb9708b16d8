"""The CPU defaults of the convolutional backbones (issue 14, item 3): the channels_last
layout and batch norms folded into the convolutions.

``Extractor.channels_last`` and ``Extractor.fold_batchnorm`` are on by default for these
networks on the CPU. Each may change the features only by float32 rounding in another
order of operations: ``benchmarks/bench_backbone.py`` measured at most 1.4e-6 (channels_last)
and 2.5e-6 (both) of the features' largest magnitude at 1024^2; the tolerance here is 1e-5.
"""
import pytest
import torch

from fca_utils import features
from fca_utils.features.fusion import count_batchnorms, fold_batchnorms

TOLERANCE = 1e-5  # of the largest feature magnitude
NETWORKS = {  # a new instance per call (get_extractor would share one per name)
    "efficientnet_lite0": lambda: features.EfficientNetLite0("cpu"),
    "random_wrn50": lambda: features.RandomWideResNet50Layer2("cpu"),
    "random_efficientnet_lite0": lambda: features.RandomEfficientNetLite0("cpu"),
}


def first_conv(extractor) -> torch.nn.Conv2d:
    """The first convolution of the modules the extractor runs now."""
    weights = next(m for m in vars(extractor).values() if isinstance(m, torch.nn.Module))
    return next(m for m in weights.modules() if isinstance(m, torch.nn.Conv2d))


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
    assert first_conv(extractor).weight.is_contiguous(memory_format=torch.channels_last)

    plain = NETWORKS[name]()
    plain.channels_last = plain.fold_batchnorm = False
    reference = plain(image)
    assert fast.shape == reference.shape
    assert float((fast - reference).abs().max()) <= TOLERANCE * float(reference.abs().max())

    extractor.channels_last = extractor.fold_batchnorm = False  # switching back restores the plain computation
    assert torch.equal(extractor(image), reference)
    assert first_conv(extractor).weight.is_contiguous()


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_folded_batch_norms_are_the_cpu_default_and_equal_the_built_network(name, image):
    extractor = NETWORKS[name]()
    assert extractor.fold_batchnorm
    built = [m for m in vars(extractor).values() if isinstance(m, torch.nn.Module)]
    assert sum(count_batchnorms(m) for m in built) > 0
    extractor.channels_last = False  # the folding alone
    folded = extractor(image)
    in_use = [m for m in vars(extractor).values() if isinstance(m, torch.nn.Module)]
    assert sum(count_batchnorms(m) for m in in_use) == 0

    extractor.fold_batchnorm = False
    reference = extractor(image)
    assert [m for m in vars(extractor).values() if isinstance(m, torch.nn.Module)] == built
    assert float((folded - reference).abs().max()) <= TOLERANCE * float(reference.abs().max())
    extractor.fold_batchnorm = True  # and on again
    assert torch.equal(extractor(image), folded)


def _conv_bn(generator):
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    bn = torch.nn.BatchNorm2d(4)
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(4, generator=generator))
        bn.running_var.copy_(torch.rand(4, generator=generator) + 0.5)
        bn.weight.copy_(torch.randn(4, generator=generator))
        bn.bias.copy_(torch.randn(4, generator=generator))
    return conv, bn


class _Branching(torch.nn.Module):
    """A convolution's output read by a batch norm and by the sum, and a convolution called
    twice, each time before a batch norm: neither may be folded."""

    def __init__(self, generator):
        super().__init__()
        self.conv, self.bn = _conv_bn(generator)
        self.shared, self.bn_a = _conv_bn(generator)
        self.bn_b = _conv_bn(generator)[1]

    def forward(self, x, scale=None):
        y = self.conv(x)
        out = self.bn(y) + y + self.bn_a(self.shared(x)) + self.bn_b(self.shared(x))
        return out if scale is None else scale * out


def test_fold_batchnorms_folds_conv_bn_pairs_only():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    conv, bn = _conv_bn(generator)
    chain = torch.nn.Sequential(conv, bn, torch.nn.ReLU(), torch.nn.BatchNorm2d(4), torch.nn.Conv2d(4, 3, 1)).eval()
    # a batch norm before a convolution (the second one) is not folded
    x = torch.rand(2, 3, 10, 12, generator=generator)
    folded = fold_batchnorms(chain)
    assert count_batchnorms(chain) == 2 and count_batchnorms(folded) == 1
    assert torch.allclose(folded(x), chain(x), rtol=0, atol=1e-5)

    branching = _Branching(generator).eval()
    kept = fold_batchnorms(branching)
    assert count_batchnorms(kept) == 3 and torch.equal(kept(x), branching(x))

    blocks = torch.nn.ModuleList([torch.nn.Sequential(*_conv_bn(generator)).eval() for _ in range(2)])
    folded_blocks = fold_batchnorms(blocks)
    assert isinstance(folded_blocks, torch.nn.ModuleList) and count_batchnorms(folded_blocks) == 0
    assert count_batchnorms(blocks) == 2  # the original is left as it was
    for block, fast in zip(blocks, folded_blocks):
        assert torch.allclose(fast(x), block(x), rtol=0, atol=1e-5)

    with pytest.raises(ValueError, match="batch norms in eval mode"):
        fold_batchnorms(torch.nn.Sequential(*_conv_bn(generator)))  # built in training mode


def test_handcrafted_extractors_keep_the_plain_layout():
    colors = features.get_extractor("colors")
    assert not colors.channels_last and not colors.fold_batchnorm
