"""What the border cure of preset ``own`` (reflection padding, ``Preset.pad="auto"``) does.

    python benchmarks/own_images_border.py            # about 15 minutes on 2 cores
    python benchmarks/own_images_border.py --quick    # 2 defect-free images per class, 3 test images per class

Prints, for presets ``paper`` (the authors' zero-padded backbone) and ``own``:

1. border ratios: the highest score in the border band (10 % of the smaller side) over
   the highest score inside, on a constant gray 300 x 300 image and on every
   defect-free test image of the embedded benchmark, each run as one's own image
   (the preset as it is, T = 9); a ratio of 0/0 (a map that is zero everywhere) counts as 0;
2. AU-PRO (FPR <= 0.3) on the embedded benchmark under the paper's protocol (T from the
   feature size, 10 % border cropped, :func:`fca_utils.evaluation.runs.configure`), per
   class and averaged, and the same maps scored on every pixel (border 0), where the
   band along the border counts.

Backbone ``auto`` (WideResNet-50-2 when its ImageNet weights are present, otherwise the
offline EfficientNet-Lite0; printed) and, for the constant image, ``random_wrn50`` (the
WideResNet-50-2 architecture with random weights, the paper's receptive field and zero
padding).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import machine  # noqa: E402
from fca_utils import features, localize  # noqa: E402
from fca_utils.datasets import open_dataset  # noqa: E402
from fca_utils.evaluation import metrics  # noqa: E402
from fca_utils.evaluation.runs import configure, select_entries  # noqa: E402

PRESETS = ("paper", "own")
BAND = 0.1


def border_ratio(scores: np.ndarray, band: float = BAND) -> float:
    """Highest score in the border band of ``band`` x the smaller side over the highest inside (0/0 -> 0)."""
    h, w = scores.shape
    b = int(round(band * min(h, w)))
    inside = float(scores[b:h - b, b:w - b].max())
    ring = scores.copy()
    ring[b:h - b, b:w - b] = -np.inf
    edge = float(ring.max())
    if inside == 0.0:
        return 0.0 if edge == 0.0 else float("inf")
    return edge / inside


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print("\n".join(machine()))
    extractor, info = features.resolve_backbone("auto")
    print(f"backbone: {info}")

    print("\n1. border ratio (max in the 10 % border band / max inside), preset as run on one's own image")
    gray = np.full((300, 300), 128, np.uint8)
    for name in (extractor.name, "random_wrn50"):
        for preset in PRESETS:
            r = localize(gray, preset=preset, backbone=extractor if name == extractor.name else name)
            print(f"  constant gray 300x300, {name:18s} {preset:5s}: image score {r.image_score:.3f}, "
                  f"ratio {border_ratio(r.scores):.2f}, pad {r.meta['pad']} px")
    dataset = open_dataset("embedded")
    ratios = {p: [] for p in PRESETS}
    for cls in dataset.classes:
        good = dataset.entries(cls, "good")[: 2 if args.quick else None]
        for entry in good:
            image = dataset.load(entry).image
            for preset in PRESETS:
                ratios[preset].append(border_ratio(localize(image, preset=preset, backbone=extractor).scores))
    for preset in PRESETS:
        values = np.array(ratios[preset])
        print(f"  {len(values)} defect-free embedded images, {extractor.name} {preset:5s}: ratio median "
              f"{np.median(values):.2f}, max {values.max():.2f}, above 1.2: {(values > 1.2).sum()}")

    print("\n2. AU-PRO on the embedded benchmark, paper's protocol (T from the feature size), "
          f"{extractor.name}")
    print(f"  {'class':8s} " + " ".join(f"{p + ' b10%':>10s} {p + ' b0':>10s}" for p in PRESETS))
    means = {(p, b): [] for p in PRESETS for b in ("protocol", "none")}
    for cls in dataset.classes:
        entries = select_entries(dataset, cls, 3 if args.quick else None)
        samples = [dataset.load(e) for e in entries]
        masks = [s.mask for s in samples]
        cells = []
        for preset in PRESETS:
            maps = []
            for s in samples:
                p = configure(preset, dataset, *s.image.shape[:2])
                maps.append(metrics.upsample_to(localize(s.image, preset=p, backbone=extractor).scores, s.mask.shape))
            border = dataset.protocol.border_for(*masks[0].shape)
            for key, b in (("protocol", border), ("none", 0)):
                value = metrics.au_pro(maps, masks, border=b)
                means[(preset, key)].append(value)
                cells.append(f"{value:10.4f}")
        print(f"  {cls:8s} " + " ".join(cells), flush=True)
    cells = [f"{np.mean(means[(p, k)]):10.4f}" for p in PRESETS for k in ("protocol", "none")]
    print(f"  {'mean':8s} " + " ".join(cells))


if __name__ == "__main__":
    main()
