"""A 4096 x 4096 photo with preset ``paper`` on the CPU: time and peak memory of ``localize``.

    python benchmarks/large_image.py
    python benchmarks/large_image.py --size 2048   # a smaller image
    python benchmarks/large_image.py --backbones random_wrn50

Each measurement runs in a fresh child process; its peak memory is the process's
``ru_maxrss`` (``resource.getrusage``, the most resident memory the process ever held,
PyTorch's and numba's allocations included), read after ``localize`` returns. The
"photo" is a 4096 x 4096 RGB smooth-noise texture (seed 0) made in the child, counted
in the peak. Images above :data:`fca_utils.pipeline.TILE_PIXELS` go through the
backbone in overlapping tiles (:func:`fca_utils.pipeline.tiled_features`); the FCA
statistic works on tiles of window rows (:mod:`fca_utils.core.kernels`).

Backbones: ``auto`` (WideResNet-50-2 when its ImageNet weights are present, otherwise
the offline EfficientNet-Lite0; printed) and ``random_wrn50``, the paper's
WideResNet-50-2 up to layer2 with random weights: the same computation and feature
shape (512 channels) as the paper's backbone, for when its weights are absent.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import load_average, machine, peak_mib, run_child  # noqa: E402

LIMIT_MIB = 4096


def _child(backbone: str, size: int) -> dict:
    import numpy as np
    import torch

    from fca_utils import localize

    rng = np.random.default_rng(0)
    noise = torch.from_numpy(rng.random((1, 3, size // 8, size // 8), dtype=np.float32))
    photo = torch.nn.functional.interpolate(noise, size=(size, size), mode="bicubic", align_corners=False)
    photo = (photo.clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    del noise
    start = time.perf_counter()
    result = localize(photo, preset="paper", backbone=backbone)
    seconds = time.perf_counter() - start
    return {"backbone": result.meta["backbone"], "info": result.meta["backbone_info"],
            "feature_shape": list(result.meta["feature_shape"]), "seconds": seconds,
            "stages": result.meta["seconds"], "peak_mib": peak_mib()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--backbones", nargs="+", default=["auto", "random_wrn50"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = json.loads(args.child)
        print(json.dumps(_child(*rest)))
        return
    print("\n".join(machine()))
    for backbone in args.backbones:
        r = run_child(__file__, "localize", backbone, args.size)
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in r["stages"].items() if k != "total")
        print(f"localize {args.size}x{args.size}, preset 'paper', backbone {backbone} -> {r['backbone']}, "
              f"features {tuple(r['feature_shape'])}: {r['seconds']:.1f} s ({stages}), "
              f"peak RSS {r['peak_mib']:.0f} MiB ({r['peak_mib'] / LIMIT_MIB:.2f} of 4 GiB)", flush=True)
        if backbone == "auto":
            print(f"  ({r['info'][:160]})")
    print("load average at end: " + load_average())


if __name__ == "__main__":
    main()
