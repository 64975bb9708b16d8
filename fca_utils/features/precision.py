"""The backbone's arithmetic on the CPU: float32, or bfloat16 where the CPU has it.

The rule for a CPU default here is the fastest backbone setting that keeps AU-PRO on the
embedded benchmark within 0.1 point of float32. ``benchmarks/bench_backbone.py`` measures
bfloat16 (``torch.autocast``, run by oneDNN) on top of the float32 defaults
(channels_last, folded batch norms): the fastest setting within PyTorch, and the only
one there that changes the features by more than float32 rounding (by a few percent of
their maximum), with AU-PRO within that 0.1 point for EfficientNet-Lite0 and for
WideResNet-50-2's architecture (``random_wrn50``: the ImageNet weights cannot be
downloaded where it was measured); ``benchmarks/README.md`` has the figures. oneDNN
computes bfloat16 natively only on CPUs that list ``avx512_bf16`` or ``amx_bf16``;
elsewhere it converts, slower than float32.

So :func:`fca_utils.localize` and ``fca-localize`` take ``precision="auto"``: bfloat16 for
the networks that were measured (``Extractor.bfloat16_on_cpu``) when the device is the CPU
and the CPU has those instructions, float32 otherwise. The paper's evaluation (the
notebooks, :func:`fca_utils.evaluation.runs.run_method`) stays in float32 so that its
numbers do not depend on the CPU.
"""
from __future__ import annotations

import functools

import torch

from .base import Extractor

__all__ = ["PRECISIONS", "BFLOAT16_FLAGS", "cpu_flags", "cpu_has_bfloat16", "resolve_precision",
           "Bfloat16Extractor"]

#: Values of ``precision``.
PRECISIONS = ("auto", "float32", "bfloat16")

#: CPU flags (as ``/proc/cpuinfo`` spells them) with which oneDNN computes bfloat16 natively.
BFLOAT16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from ``/proc/cpuinfo``; empty where that file is absent (not Linux)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_has_bfloat16() -> bool:
    """Whether the CPU lists an instruction set with native bfloat16 (:data:`BFLOAT16_FLAGS`)."""
    return bool(cpu_flags() & BFLOAT16_FLAGS)


def resolve_precision(precision: str, extractor, device) -> str:
    """``"float32"`` or ``"bfloat16"``: what ``precision`` means for this extractor and device.

    ``"auto"`` is bfloat16 on the CPU for an extractor with ``bfloat16_on_cpu`` when
    :func:`cpu_has_bfloat16`, float32 otherwise (other devices: float32; the GPU path
    has not been measured). ``"bfloat16"`` is taken as asked for any extractor, on the
    CPU only.

    >>> from fca_utils import features
    >>> resolve_precision("auto", features.get_extractor("colors"), "cpu")
    'float32'
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    device = torch.device(device) if device is not None else torch.device("cpu")
    if precision == "bfloat16" and device.type != "cpu":
        raise ValueError(f"precision='bfloat16' runs the backbone under the CPU's autocast; "
                         f"the device is {device}: use precision='float32' or 'auto' there")
    if precision != "auto":
        return precision
    auto = device.type == "cpu" and getattr(extractor, "bfloat16_on_cpu", False) and cpu_has_bfloat16()
    return "bfloat16" if auto else "float32"


class Bfloat16Extractor(Extractor):
    """An extractor run under ``torch.autocast("cpu", dtype=torch.bfloat16)``.

    Convolutions and matrix products run in bfloat16; the output is float32 as always
    (:meth:`fca_utils.features.Extractor.__call__`). It keeps the wrapped extractor's
    ``name``, ``stride``, ``channels``, receptive field and output size, so it stands in
    wherever the extractor is used; the wrapped extractor itself is left in float32.
    """

    def __init__(self, inner: Extractor):
        if not isinstance(inner, Extractor):
            raise TypeError(f"Bfloat16Extractor wraps a features.Extractor, got {type(inner).__name__}")
        super().__init__(inner.device)
        self.inner = inner
        self.name, self.stride, self.channels = inner.name, inner.stride, inner.channels
        self.min_size, self.description = inner.min_size, inner.description
        self.receptive_field, self.bfloat16_on_cpu = inner.receptive_field, inner.bfloat16_on_cpu

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return self.inner(image)

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        return self.inner.output_size(height, width)
