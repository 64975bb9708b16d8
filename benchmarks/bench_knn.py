"""k-NN references (section 3.3) beyond 320^2: exact vs. approximate selection, FCA with them, and AU-PRO.

Usage::

    python benchmarks/bench_knn.py                  # sections 1-3
    python benchmarks/bench_knn.py --max-images 4   # AU-PRO on a subset of each class
    python benchmarks/bench_knn.py --no-pro         # timings and recall only
    python benchmarks/bench_knn.py --exact-512      # also exact vs. approximate at 512^2 (the longest part)

Prints, in one run:

1. *Selection*: seconds of the exact search (:func:`fca_utils.core.reference.knn`) and of
   the approximate one (:func:`fca_utils.core.reference.knn_approx`), and the recall of the
   exact neighbours (share of each window's exact k = 10 nearest that the approximate
   search returns) on real feature maps of the embedded benchmark: 40 x 40 (320^2
   image, T = 3), 64 x 64 (512^2, T = 5) and 128 x 128 (1024^2, T = 9), with the
   offline EfficientNet-Lite0 (152 channels, what ``backbone="auto"`` picks here) and
   the paper's WideResNet-50-2 with random weights (512 channels; the same compute and
   shape as with ImageNet weights, which cannot be downloaded here). Where the exact
   search over all windows is too slow (128 x 128), the exact neighbours of 200
   random windows are computed and the full exact time is extrapolated from them.
2. *FCA with the k-NN reference*: the straightforward PyTorch version vs. the numba
   kernel at 40 x 40 x 512, the numba kernel at 128 x 128 x 512, and ``localize``
   end to end at 1024^2 with preset ``paper`` and ``reference="knn"``. Each 128^2
   measurement runs in its own subprocess, so its peak memory is its own.
3. *AU-PRO on the embedded benchmark* (:func:`fca_utils.evaluation.runs.run_method`, maps
   in a temporary folder): ``paper320_knn`` with the exact vs. the approximate
   search, and full resolution (``paper``) with the median vs. the k-NN reference
   (``knn_method="auto"``: exact on the small maps, approximate on 64^2 and 128^2).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _common import load_average, machine, peak_mib, rss_mib, run_child

K = 10
SAMPLED_QUERIES = 200
#: Run the exact search over all windows up to this cost N^2 C T^2 (else on SAMPLED_QUERIES windows).
EXACT_ALL_WINDOWS = 10**11
#: (class, image size or None for full resolution, T) of the selection measurements.
SELECTION = [("woven", 320, 3), ("wood", None, 5), ("woven", None, 9)]
BACKBONES = [("auto", "EfficientNet-Lite0 offline"), ("random_wrn50", "WRN-50-2 random weights")]
#: Environment of the child processes: never try to download weights there.
CHILD_ENV = {"FCA_OFFLINE": "1"}


# --------------------------------------------------------------------------- helpers


def _features(cls: str, size: int | None, backbone: str):
    """Features of the first defective test image of an embedded class, (C, h, w)."""
    import torch

    from fca_utils import datasets, features
    from fca_utils.core.images import resize_image, to_image_tensor

    ds = datasets.open_dataset("embedded")
    entry = next(e for e in ds.entries(cls) if e.defect_type != "good")
    img = to_image_tensor(ds.load(entry).image)
    if size is not None:
        img = resize_image(img, size)
    extractor, _ = features.resolve_backbone(backbone)
    with torch.no_grad():
        return extractor(img)[0], extractor.name


def _recall(found, exact) -> float:
    return (found[:, :, None] == exact[:, None, :]).any(dim=1).float().mean().item()


def _sampled_exact(feats, t: int, queries):
    """Exact k nearest of some windows (all candidates, overlap excluded), and the seconds it took."""
    import numpy as np
    import torch

    from fca_utils import reference
    from fca_utils.core import kernels

    from fca_utils.core import ops

    start = time.perf_counter()
    c, h, w = feats.shape
    n, m = h * w, t * t
    scaled = ops.scale_features(feats)
    cost = torch.from_numpy(kernels.pair_costs_chunked(scaled, t, queries, np.tile(np.arange(n), (len(queries), 1))))
    cost /= c * m
    cost.masked_fill_(reference.excluded_mask(queries, h, w, t), float("inf"))
    dist, idx = torch.topk(cost, K, dim=1, largest=False)
    return idx, dist, time.perf_counter() - start


# --------------------------------------------------------------------------- child side


def _child_selection(cls: str, size, t: int, backbone: str) -> dict:
    import numpy as np

    from fca_utils import reference

    feats, name = _features(cls, size, backbone)
    c, h, w = feats.shape
    n = h * w
    small = feats[:, :24, :24]
    reference.knn_approx(small, t, K)  # JIT cache, first-call costs
    reference.knn(small, t, K)
    out = {"backbone": name, "shape": [c, h, w], "t": t, "load": load_average()}
    steps: dict = {}
    start = time.perf_counter()
    approx = reference.knn_approx(feats, t, K, timings=steps)
    out["approx_s"] = time.perf_counter() - start
    out["steps"] = steps
    if n * n * c * t * t <= EXACT_ALL_WINDOWS:
        start = time.perf_counter()
        exact = reference.knn(feats, t, K, method="exact")
        out["exact_s"] = time.perf_counter() - start
        out["recall"] = _recall(approx.indices, exact.indices)
        out["kth_ratio"] = (approx.distances[:, -1] / exact.distances[:, -1]).mean().item()
        out["queries"] = n
    else:
        queries = np.sort(np.random.default_rng(0).choice(n, SAMPLED_QUERIES, replace=False))
        idx, dist, seconds = _sampled_exact(feats, t, queries)
        out["exact_s_estimated"] = seconds * n / len(queries)
        out["recall"] = _recall(approx.indices[queries], idx)
        out["kth_ratio"] = (approx.distances[queries, -1] / dist[:, -1]).mean().item()
        out["queries"] = len(queries)
    return out


def _child_knnref(h: int, w: int, t: int, path: str) -> dict:
    import torch

    from fca_utils import reference

    feats = torch.rand(512, h, w, generator=torch.Generator().manual_seed(0))
    start = time.perf_counter()
    ref = reference.knn(feats, t, K, method="auto")
    torch.save({"indices": ref.indices, "method": ref.method}, path)
    return {"seconds": time.perf_counter() - start, "method": ref.method}


def _child_fca(h: int, w: int, t: int, backend: str, path: str) -> dict:
    import torch

    from fca_utils.core import reference, statistics

    small = torch.rand(8, 2 * t + 9, 2 * t + 9)
    statistics.fca(small, t, reference=reference.knn_approx(small, t, 2), backend=backend)
    feats = torch.rand(512, h, w, generator=torch.Generator().manual_seed(0))
    saved = torch.load(path)
    ref = reference.NearestReference(saved["indices"], t, (h, w), method=saved["method"])
    base = rss_mib()
    start = time.perf_counter()
    statistics.fca(feats, t, reference=ref, backend=backend)
    return {"seconds": time.perf_counter() - start, "peak_mib": peak_mib() - base, "load": load_average()}


def _child_localize(size: int, backbone: str) -> dict:
    import numpy as np

    from fca_utils import localize
    from fca_utils.evaluation import runs as evaluate

    localize(np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8), backbone=backbone, reference="knn")
    ds = evaluate.open_dataset("embedded")
    entry = next(e for e in ds.entries("woven") if e.defect_type != "good")
    image = ds.load(entry).image
    assert image.shape[0] == size, image.shape
    base = rss_mib()
    r = localize(image, preset="paper", backbone=backbone, reference="knn")
    return {
        "seconds": r.meta["seconds"],
        "backbone": r.meta["backbone"],
        "feature_shape": list(r.meta["feature_shape"]),
        "peak_mib": peak_mib() - base,
        "load": load_average(),
    }


CHILDREN = {"selection": _child_selection, "knnref": _child_knnref, "fca": _child_fca, "localize": _child_localize}


# --------------------------------------------------------------------------- parent side


def _selection() -> None:
    print(f"\n1. Selection of the k = {K} nearest windows (exclusion of overlapping windows, default settings)")
    print(f"{'map (C x h x w), T':<24} {'backbone':<20} {'exact s':>9} {'approx s':>9} {'recall':>7} "
          f"{'k-th dist':>9}  approx steps (s)                               load")
    for cls, size, t in SELECTION:
        for backbone, note in BACKBONES:
            r = run_child(__file__, "selection", cls, size, t, backbone, env=CHILD_ENV)
            c, h, w = r["shape"]
            exact = f"{r['exact_s']:9.2f}" if "exact_s" in r else f"~{r['exact_s_estimated']:8.0f}"
            steps = " ".join(f"{k} {v:.1f}" for k, v in r["steps"].items())
            print(f"{f'{c}x{h}x{w}, T={t}':<24} {note:<20} {exact:>9} {r['approx_s']:9.2f} {r['recall']:7.3f} "
                  f"{r['kth_ratio']:9.4f}  {steps:<46} {r['load']}")
    print(f"(recall: share of the exact {K} nearest found, over all windows, or over {SAMPLED_QUERIES} random "
          f"windows where the exact time is marked ~ (extrapolated from those {SAMPLED_QUERIES}); k-th dist: "
          f"mean ratio of the {K}-th neighbour's cost, approximate / exact)")


def _fca() -> None:
    print(f"\n2. FCA (Eq. 5) with the k-NN reference, C = 512 random features, k = {K}")
    print(f"{'map, T':<16} {'version':<18} {'seconds':>9} {'peak MiB':>10}  load")
    with tempfile.TemporaryDirectory() as tmp:
        for h, w, t, backends in [(40, 40, 3, ("torch", "numba")), (128, 128, 9, ("numba",))]:
            path = str(Path(tmp) / f"knn_{h}x{w}.pt")
            sel = run_child(__file__, "knnref", h, w, t, path, env=CHILD_ENV)
            print(f"{f'{h}x{w}, T={t}':<16} {'selection':<18} {sel['seconds']:9.2f} {'':>10}  ({sel['method']} search)")
            for backend in backends:
                r = run_child(__file__, "fca", h, w, t, backend, path, env=CHILD_ENV)
                print(f"{f'{h}x{w}, T={t}':<16} {backend:<18} {r['seconds']:9.2f} {r['peak_mib']:10.0f}  {r['load']}")
    for backbone, note in BACKBONES:
        r = run_child(__file__, "localize", 1024, backbone, env=CHILD_ENV)
        s = r["seconds"]
        print(f"localize 1024x1024, preset 'paper', reference='knn', {r['backbone']} ({note}) -> features "
              f"{tuple(r['feature_shape'])}: {s['total']:.1f} s (features {s['features']:.1f} s, k-NN + FCA "
              f"{s['statistic']:.1f} s), peak {r['peak_mib']:.0f} MiB, load {r['load']}")


def _pro(max_images: int | None, maps_root: str) -> None:
    import numpy as np

    from fca_utils.datasets import read_anomaly_map
    from fca_utils.evaluation import runs as evaluate

    ds = evaluate.open_dataset("embedded")
    runs = [
        ("paper320_knn", "exact", dict(knn_method="exact")),
        ("paper320_knn", "approx", dict(knn_method="approx")),
        ("paper", "median", dict()),
        ("paper", "knn auto", dict(reference="knn")),
    ]
    results = []
    for method, label, overrides in runs:
        start = time.perf_counter()
        run = evaluate.run_method(ds, method, maps_root, max_images=max_images, progress=False, **overrides)
        results.append((method, label, run, time.perf_counter() - start))
    images = sum(m["images"] for m in results[0][2].metrics.values())
    print(f"\n3. AU-PRO (FPR <= 0.3) on the embedded benchmark, {images} test images, backbone {results[0][2].backbone}")
    print(f"{'method':<14} {'reference':<10} " + " ".join(f"{c:>7}" for c in ds.classes) + f" {'mean':>7} {'s/img':>6}")
    for method, label, run, _ in results:
        print(f"{method:<14} {label:<10} " + " ".join(f"{run.metrics[c]['au_pro']:7.4f}" for c in ds.classes)
              + f" {run.mean('au_pro'):7.4f} {run.seconds_per_image():6.2f}")
    exact, approx = results[0][2], results[1][2]
    same, worst = 0, 0.0
    paths = sorted(exact.maps_dir.rglob("*.tiff"))
    for path in paths:
        a = read_anomaly_map(path)
        b = read_anomaly_map(approx.maps_dir / path.relative_to(exact.maps_dir))
        same += bool(np.array_equal(a, b))
        worst = max(worst, float(np.abs(a - b).max() / np.abs(a).max()))
    print(f"paper320_knn maps, approx vs exact: {same} of {len(paths)} identical, largest difference "
          f"{worst:.2e} of the map's maximum")
    for metric in ("au_pro", "pixel_auroc"):
        diff = [approx.metrics[c][metric] - exact.metrics[c][metric] for c in ds.classes]
        print(f"{metric} approx - exact at 320^2: mean {sum(diff) / len(diff):+.2e}, "
              f"per class from {min(diff):+.2e} to {max(diff):+.2e}")


def _pro_512(maps_root: str) -> None:
    """Full resolution on the 512^2 classes (64 x 64 maps, T = 5): exact vs. approximate search."""
    import numpy as np

    from fca_utils.evaluation import runs as evaluate

    ds = evaluate.open_dataset("embedded")
    classes = [c for c in ds.classes if ds.load(ds.entries(c)[0]).image.shape[0] == 512]
    rows = []
    for label in ("exact", "approx"):
        run = evaluate.run_method(ds, "paper", maps_root, classes=classes, progress=False,
                                  reference="knn", knn_method=label)
        rows.append((label, run))
    images = sum(m["images"] for m in rows[0][1].metrics.values())
    print(f"\n3b. AU-PRO at full resolution on the 512^2 classes (64 x 64 maps, T = 5; {images} images), "
          f"preset 'paper', reference='knn'")
    print(f"{'knn_method':<12} " + " ".join(f"{c:>7}" for c in classes) + f" {'mean':>7} {'s/img':>6}")
    for label, run in rows:
        print(f"{label:<12} " + " ".join(f"{run.metrics[c]['au_pro']:7.4f}" for c in classes)
              + f" {run.mean('au_pro'):7.4f} {run.seconds_per_image():6.2f}")
    diff = [rows[1][1].metrics[c]["au_pro"] - rows[0][1].metrics[c]["au_pro"] for c in classes]
    print(f"au_pro approx - exact: mean {np.mean(diff):+.2e}, per class from {min(diff):+.2e} to {max(diff):+.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-images", type=int, default=None, help="AU-PRO on at most this many images per class")
    parser.add_argument("--no-pro", action="store_true", help="skip the AU-PRO runs")
    parser.add_argument("--maps-root", default=None, help="where the AU-PRO runs keep their maps (default: a temporary folder)")
    parser.add_argument("--exact-512", action="store_true",
                        help="also AU-PRO of the exact vs. approximate search at 512^2 (about 50 s per image exact)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = json.loads(args.child)
        print(json.dumps(CHILDREN[kind](*rest)))
        return

    print("\n".join(machine()))
    _selection()
    _fca()
    if not args.no_pro:
        with tempfile.TemporaryDirectory() as tmp:
            root = args.maps_root or tmp
            _pro(args.max_images, root)
            if args.exact_512:
                _pro_512(root)
    print("\nload average at end: " + load_average())


if __name__ == "__main__":
    main()
