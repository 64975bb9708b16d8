"""Speed and peak memory of FCA (Eq. 5): the straightforward PyTorch version vs. the numba kernels.

Usage::

    python benchmarks/bench_fca.py            # everything
    python benchmarks/bench_fca.py --no-large # skip the fast-only large maps

Every measurement runs in its own fresh subprocess of this script, so that
``ru_maxrss`` (the process's peak resident memory) belongs to that measurement.
"Peak MiB" is that peak minus the resident memory after the imports and a small
warm-up call (which loads the JIT-compiled kernels from numba's cache), so it
counts the features themselves and everything the statistic allocates.
Seconds are the best of ``--repeats`` calls (one call for the slow version at
128 x 128 and for the fast-only large maps). Compile time is measured separately, in a process whose numba cache
directory is empty.

The end-to-end ``localize`` lines (preset ``paper`` at 1024^2) also give the time of the five
MVTec AD texture classes at that rate, and one line times ``localize`` with the statistic of
notebook 09 (QFCA with 16 levels after PCA to 32 components) instead of FCA. Each runs with
``precision="float32"`` (the paper's arithmetic) and ``"auto"`` (``localize``'s default:
bfloat16 on CPUs that have it, :mod:`fca_utils.features.precision`).
"""
from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import time

from _common import load_average, machine, peak_mib, rss_mib, run_child

CHANNELS = 512
#: (height, width, T) of the maps compared between the two versions.
COMPARED = [(40, 40, 3), (128, 128, 9)]
#: Maps timed with the fast version only: an Aitex 256 x 4096 strip and a 4096^2 image at stride 8.
LARGE = [(32, 512, 9), (512, 512, 9)]
#: Backbones timed end to end: what "auto" picks here, and the paper's network with random weights
#: (the same computation as WideResNet-50-2 with ImageNet weights, which this machine cannot download).
LOCALIZE_BACKBONES = [("auto", "what backbone='auto' picks here"), ("random_wrn50", "the paper's WideResNet-50-2 compute, random weights")]
#: Preset 'paper' with another statistic, for the localize timing beyond the paper (notebook 09).
QFCA_PCA = {"statistic": "qfca", "levels": 16, "pca_components": 32}
#: Test images of MVTec AD's five texture classes (carpet 117, grid 78, leather 124, tile 117, wood 79).
MVTEC_TEXTURE_IMAGES = 515


# --------------------------------------------------------------------------- child side


def _child_fca(backend: str, h: int, w: int, t: int, repeats: int) -> dict:
    import torch

    from fca_utils import statistics

    statistics.fca(torch.rand(8, 2 * t + 1, 2 * t + 3), t, backend=backend)  # warm-up / JIT from cache
    base = rss_mib()
    feats = torch.rand(CHANNELS, h, w, generator=torch.Generator().manual_seed(0))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        statistics.fca(feats, t, backend=backend)
        times.append(time.perf_counter() - start)
    return {"seconds": min(times), "peak_mib": peak_mib() - base}


def _child_compile() -> dict:
    import torch

    from fca_utils import statistics

    feats = torch.rand(4, 12, 12)
    start = time.perf_counter()
    statistics.fca(feats, 3, backend="numba")
    fca_s = time.perf_counter() - start
    start = time.perf_counter()
    statistics.sww(feats, 3, backend="numba")
    return {"fca": fca_s, "sww": time.perf_counter() - start}


def _child_localize(size: int, backbone: str, repeats: int, overrides: dict | None, precision: str) -> dict:
    from dataclasses import replace

    import numpy as np

    from fca_utils import localize
    from fca_utils.core.methods import PRESETS

    preset = replace(PRESETS["paper"], **overrides) if overrides else "paper"

    rng = np.random.default_rng(0)
    localize(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8), backbone=backbone, precision=precision)  # JIT cache
    base = rss_mib()
    image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    runs = [localize(image, preset=preset, backbone=backbone, precision=precision) for _ in range(repeats)]
    r = min(runs, key=lambda run: run.meta["seconds"]["total"])
    return {
        "seconds": r.meta["seconds"]["total"],
        "stages": r.meta["seconds"],
        "backbone": r.meta["backbone"],
        "precision": r.meta["precision"],
        "feature_shape": list(r.meta["feature_shape"]),
        "peak_mib": peak_mib() - base,
    }


CHILDREN = {"fca": _child_fca, "compile": _child_compile, "localize": _child_localize}


# --------------------------------------------------------------------------- parent side


def _row(label: str, version: str, res: dict) -> str:
    return f"{label:<22} {version:<18} {res['seconds']:>9.2f} {res['peak_mib']:>10.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-large", action="store_true", help="skip the fast-only large maps")
    parser.add_argument("--localize-size", type=int, default=1024)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = json.loads(args.child)
        print(json.dumps(CHILDREN[kind](*rest)))
        return

    print("\n".join(machine()))
    with tempfile.TemporaryDirectory() as cache:
        cold = run_child(__file__, "compile", env={"NUMBA_CACHE_DIR": cache})
        warm = run_child(__file__, "compile", env={"NUMBA_CACHE_DIR": cache})
    print(f"\nJIT compile, empty numba cache: fca {cold['fca']:.1f} s, sww {cold['sww']:.1f} s (float32); "
          f"first call in a new process with the cache: fca {warm['fca']:.2f} s, sww {warm['sww']:.2f} s")

    print(f"\n{'FCA, C=512':<22} {'version':<18} {'seconds':>9} {'peak MiB':>10}")
    for h, w, t in COMPARED:
        label = f"{h}x{w}, T={t}"
        slow = run_child(__file__, "fca", "torch", h, w, t, 1 if h * w > 64 * 64 else args.repeats)
        fast = run_child(__file__, "fca", "numba", h, w, t, args.repeats)
        print(_row(label, "torch (straight)", slow))
        print(_row(label, "numba (fast)", fast))
        print(f"{'':<22} {'ratio torch/numba':<18} {slow['seconds'] / fast['seconds']:>8.1f}x "
              f"{slow['peak_mib'] / fast['peak_mib']:>9.1f}x")
    if not args.no_large:
        for h, w, t in LARGE:
            print(_row(f"{h}x{w}, T={t}", "numba (fast)", run_child(__file__, "fca", "numba", h, w, t, 1)))

    size = args.localize_size
    runs = [(backbone, note, None) for backbone, note in LOCALIZE_BACKBONES]
    runs.append(("random_wrn50", "the paper's compute; statistic QFCA L=16 + PCA 32 instead of FCA", QFCA_PCA))
    for (backbone, note, overrides), precision in itertools.product(runs, ("float32", "auto")):
        try:
            loc = run_child(__file__, "localize", size, backbone, args.repeats, overrides, precision)
        except RuntimeError as err:
            print(f"\nlocalize {size}x{size}, backbone {backbone}: failed ({str(err).strip().splitlines()[-1]})")
            continue
        if precision == "auto" and loc["precision"] == "float32":
            print(f"precision 'auto' is float32 for {loc['backbone']} on this CPU: the same as above")
            continue
        st = loc["stages"]
        statistic = "QFCA + PCA" if overrides else "FCA"
        print(f"\nlocalize {size}x{size}, preset 'paper'{' + ' + str(overrides) if overrides else ''}, backbone "
              f"{loc['backbone']} ({note}), precision {precision!r} -> {loc['precision']}, features "
              f"{tuple(loc['feature_shape'])}: {loc['seconds']:.2f} s "
              f"(features {st['features']:.2f} s, {statistic} {st['statistic']:.2f} s), peak {loc['peak_mib']:.0f} MiB; "
              f"MVTec AD textures ({MVTEC_TEXTURE_IMAGES} test images) at this rate: "
              f"{MVTEC_TEXTURE_IMAGES * loc['seconds'] / 60:.1f} min")
    print("load average at end: " + load_average())


if __name__ == "__main__":
    main()
