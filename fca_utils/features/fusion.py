"""Batch normalization folded into the convolution before it, for inference (not in the paper).

In eval mode a ``BatchNorm2d`` is an affine map per channel,
``y = (x - mean) * gamma / sqrt(var + eps) + beta``; after a convolution it can be folded
into the convolution's weights and bias, which saves one pass over every feature map of the
network (``torch.nn.utils.fusion.fuse_conv_bn_eval`` does the arithmetic). The features
equal the unfolded network's up to float32 rounding in another order
(``tests/test_backbone_layout.py`` states the tolerance, ``benchmarks/bench_backbone.py``
measures speed and AU-PRO).

:func:`fold_batchnorms` finds the pairs with a ``torch.fx`` trace of the module. Written
here because ``torch.fx.experimental.optimization.fuse`` matches exact module types only:
it skips the ``Conv2d`` subclasses of the EfficientNet-Lite0 package (convolutions with
TensorFlow-style "same" padding) and traces into them, which fails on their size-dependent
padding; here every ``Conv2d`` instance is a leaf of the trace and a candidate.
"""
from __future__ import annotations

import inspect
from collections import Counter

import torch
from torch import fx
from torch.nn.utils.fusion import fuse_conv_bn_eval

__all__ = ["count_batchnorms", "fold_batchnorms"]


class _ConvLeafTracer(fx.Tracer):
    """Traces into every module except convolutions, batch norms and torch.nn's own modules."""

    def is_leaf_module(self, module: torch.nn.Module, qualified_name: str) -> bool:
        return isinstance(module, (torch.nn.Conv2d, torch.nn.BatchNorm2d)) or super().is_leaf_module(
            module, qualified_name)


def count_batchnorms(module: torch.nn.Module) -> int:
    """Number of ``BatchNorm2d`` submodules of ``module`` (itself included)."""
    return sum(isinstance(m, torch.nn.BatchNorm2d) for m in module.modules())


def fold_batchnorms(module: torch.nn.Module) -> torch.nn.Module:
    """``module`` with each ``Conv2d -> BatchNorm2d`` pair folded into one convolution, as a new module.

    A pair is folded where the batch norm's input is the convolution's output, nothing else
    reads that output and the convolution module is called at that place only; other batch
    norms stay. A ``ModuleList`` (not callable itself) is folded element by element. Forward
    arguments with defaults are traced at their defaults (EfficientNet's
    ``drop_connect_rate=None``). ``module`` is not changed; the new module shares with it the
    submodules that are not folded (activations, pooling, convolutions without a batch norm).

    Raises
    ------
    ValueError
        if one of its batch norms is in training mode (the running statistics would not be
        what the batch norm computes).
    """
    if isinstance(module, torch.nn.ModuleList):
        return torch.nn.ModuleList([fold_batchnorms(m) for m in module])
    if any(m.training for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        raise ValueError(f"fold_batchnorms needs batch norms in eval mode; call .eval() on {type(module).__name__} first")
    defaults = {name: p.default for name, p in inspect.signature(module.forward).parameters.items()
                if p.default is not inspect.Parameter.empty}
    graph = _ConvLeafTracer().trace(module, concrete_args=defaults or None)
    folded = fx.GraphModule(module, graph, class_name=type(module).__name__)
    modules = dict(folded.named_modules())
    calls = Counter(node.target for node in folded.graph.nodes if node.op == "call_module")
    for node in list(folded.graph.nodes):
        if node.op != "call_module" or not isinstance(modules[node.target], torch.nn.BatchNorm2d):
            continue
        source = node.args[0]
        bn = modules[node.target]
        if (not isinstance(source, fx.Node) or source.op != "call_module"
                or not isinstance(modules[source.target], torch.nn.Conv2d) or len(source.users) != 1
                or calls[source.target] != 1 or bn.running_mean is None):
            continue
        parent, _, name = source.target.rpartition(".")
        setattr(folded.get_submodule(parent), name, fuse_conv_bn_eval(modules[source.target], bn))
        node.replace_all_uses_with(source)
        folded.graph.erase_node(node)
    folded.graph.lint()
    folded.delete_all_unused_submodules()
    folded.recompile()
    return folded
