"""What the border cure of preset ``own`` (the image padded before the backbone, ``Preset.pad="auto"``)
does with each ``Preset.pad_mode`` (periodic, circular, reflect), next to no padding.

    python benchmarks/own_images_border.py
    python benchmarks/own_images_border.py --quick    # 2 defect-free images per class, 3 test images per class

Prints, for preset ``paper`` (the authors' zero-padded backbone) and ``own`` with each
pad mode (the texture's own period, circular, reflection; which one is ``own``'s is printed):

1. border ratios: the highest score in the border band (10 % of the smaller side) over
   the highest score inside, on a constant gray 300 x 300 image and on every
   defect-free test image of the embedded benchmark, each run as one's own image
   (the preset as it is, T = 9); a ratio of 0/0 (a map that is zero everywhere) counts as 0;
   with the shifts ``(ty, tx)`` that periodic padding chose (the image's side where it
   found no period, which is circular padding);
   With them, a control: the same rule applied to the interior of each map (the map
   with the band cut off), a region with no image border in it, so the ratio its
   textures give without any border effect; and the ratios of a cure that was tried and
   rejected: the image padded by T // 2 cells more, FCA computed on the padded image's
   features (so that no window holds the statistic's own reflection of the features)
   and the map cropped back to the image. For each image above the criterion with
   ``own``, where the band's maximum lies under other frames (each pad mode's and the
   periodic frame cut at the next-best peaks of the image's self-correlation): a maximum
   that stays in one place whatever fills the frame comes from the image's content;
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
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import machine  # noqa: E402
from fca_utils import features, localize  # noqa: E402
from fca_utils.core.images import to_image_tensor  # noqa: E402
from fca_utils.core.methods import PRESETS, preset_map  # noqa: E402
from fca_utils.core.ops import resize  # noqa: E402
from fca_utils.core.padding import MIN_OVERLAP, periodic_pad, shift_correlation  # noqa: E402
from fca_utils.datasets import open_dataset  # noqa: E402
from fca_utils.evaluation import metrics  # noqa: E402
from fca_utils.evaluation.runs import configure, select_entries  # noqa: E402
from fca_utils.pipeline import ALIGN, PAD_MODES, padded_features  # noqa: E402

#: What is compared: label -> preset (``own`` with each pad mode).
VARIANTS = {"paper": PRESETS["paper"],
            **{mode: replace(PRESETS["own"], name=f"own_{mode}", pad_mode=mode) for mode in PAD_MODES}}
#: Image paddings of the rejected cure (FCA on the padded image's features).
REJECTED = ("circular", "reflect")
BAND = 0.1
CRITERION = 1.2  # issue 12: the band's highest score at most 1.2 x the highest inside


def band_width(shape, band: float = BAND) -> int:
    """Pixels of the border band: ``band`` x the smaller side, rounded."""
    return int(round(band * min(shape)))


def border_ratio(scores: np.ndarray, band: float = BAND) -> float:
    """Highest score in the border band of ``band`` x the smaller side over the highest inside (0/0 -> 0)."""
    h, w = scores.shape
    b = band_width(scores.shape, band)
    inside = float(scores[b:h - b, b:w - b].max())
    ring = scores.copy()
    ring[b:h - b, b:w - b] = -np.inf
    edge = float(ring.max())
    if inside == 0.0:
        return 0.0 if edge == 0.0 else float("inf")
    return edge / inside


def control_ratio(scores: np.ndarray, band: float = BAND) -> float:
    """:func:`border_ratio` of the map's interior (its border band cut off): no image border in it."""
    h, w = scores.shape
    b = band_width(scores.shape, band)
    return border_ratio(scores[b:h - b, b:w - b], band)


def statistic_on_padding(image, extractor, mode: str) -> np.ndarray:
    """The rejected cure: preset ``own``'s map with FCA computed on the features of the image
    padded (``mode``) by half the receptive field plus T // 2 cells, the map cropped back."""
    preset = PRESETS["own"]
    img = to_image_tensor(image)
    height, width = img.shape[-2:]
    h, w = extractor.output_size(height, width)
    margin = preset.patch_size // 2
    pad = -(-(extractor.receptive_field // 2 + margin * extractor.stride) // ALIGN) * ALIGN
    with torch.no_grad():
        feats = extractor(torch.nn.functional.pad(img, (pad,) * 4, mode=mode))[0]
    cells = pad // extractor.stride
    feats = feats[:, cells - margin : cells + h + margin, cells - margin : cells + w + margin]
    fmap = preset_map(feats, preset)[margin : margin + h, margin : margin + w]
    return resize(fmap.float(), (height, width)).numpy()


def peak_shifts(gray: torch.Tensor, axis: int, pad: int, count: int) -> list[int]:
    """The ``count`` shifts along ``axis`` with the highest self-correlation that are peaks
    (no lower than either neighbour), in the range periodic padding searches."""
    n = gray.shape[axis]
    corr = shift_correlation(gray, axis)
    lo, hi = max(pad, 1), n - max(1, int(np.ceil(n * MIN_OVERLAP)))
    peaks = [s for s in range(lo, hi + 1) if corr[s] >= corr[s - 1] and (s + 1 == n or corr[s] >= corr[s + 1])]
    return sorted(peaks, key=lambda s: -float(corr[s]))[:count]


def framed_map(image, extractor, shifts) -> np.ndarray:
    """Preset ``own``'s map with the periodic frame cut at the translations ``shifts = (ty, tx)``."""
    preset = PRESETS["own"]
    img = to_image_tensor(image)
    height, width = img.shape[-2:]
    h, w = extractor.output_size(height, width)
    with torch.no_grad():
        feats = padded_features(extractor, img, preset.pad, "periodic", margin=preset.patch_size // 2, shifts=shifts)
    kept = (feats.shape[-2] - h) // 2
    fmap = preset_map(feats, preset)[kept : kept + h, kept : kept + w]
    return resize(fmap.float(), (height, width)).numpy()


def band_maximum(scores: np.ndarray, band: float = BAND) -> tuple[int, int]:
    """Where the border band of ``scores`` has its highest score, ``(y, x)``."""
    h, w = scores.shape
    b = band_width(scores.shape, band)
    ring = scores.copy()
    ring[b:h - b, b:w - b] = -np.inf
    return tuple(int(i) for i in np.unravel_index(np.argmax(ring), ring.shape))


def frames_report(image, extractor, maps: dict, shifts, count: int = 4) -> list[str]:
    """Lines saying where the band's maximum is under other frames: each pad mode's and
    periodic frames cut at the next-best peaks of the self-correlation. A maximum that
    stays in one place whatever fills the frame belongs to the image, not to its border."""
    gray = to_image_tensor(image)[0].mean(dim=0)
    pad = int(maps["periodic"][1])
    ys, xs = peak_shifts(gray, 0, pad, count), peak_shifts(gray, 1, pad, count)
    rows = [(label, f"shifts {shifts[0]},{shifts[1]}" if label == "periodic" else f"{pad_px} px pad", scores)
            for label, (scores, pad_px) in maps.items() if label != "paper"]
    for ty, tx in zip(ys, xs):
        if (ty, tx) != tuple(shifts):
            rows.append(("periodic", f"shifts {ty},{tx}", framed_map(image, extractor, (ty, tx))))
    check = np.abs(framed_map(image, extractor, shifts) - maps["periodic"][0]).max()
    lines = [f"    frame {label:8s} {how:16s}: ratio {border_ratio(scores):.2f}, band maximum at "
             f"{band_maximum(scores)}" for label, how, scores in rows]
    places = np.array([band_maximum(scores) for _, _, scores in rows])
    spread = int(np.abs(places - np.median(places, axis=0)).max())
    lines.append(f"    band maxima of these {len(rows)} frames lie within {spread} px of their median place "
                 f"(of a {image.shape[1]} x {image.shape[0]} image); own's frame rebuilt by framed_map differs "
                 f"from localize's map by {check:.1e}")
    return lines


def summary(values) -> str:
    values = np.asarray(values)
    return (f"median {np.median(values):.2f}, max {values.max():.2f}, "
            f"above {CRITERION}: {int((values > CRITERION).sum())} of {len(values)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print("\n".join(machine()))
    extractor, info = features.resolve_backbone("auto")
    print(f"backbone: {info}")
    print("variants: " + "; ".join(f"{k} = pad {v.pad!r}" + (f" {v.pad_mode}" if v.pad else "")
                                   for k, v in VARIANTS.items()) + f"; preset own pads {PRESETS['own'].pad_mode}")

    print("\n1. border ratio (max in the 10 % border band / max inside), preset as run on one's own image")
    gray = np.full((300, 300), 128, np.uint8)
    for name in (extractor.name, "random_wrn50"):
        for label, preset in VARIANTS.items():
            r = localize(gray, preset=preset, backbone=extractor if name == extractor.name else name)
            print(f"  constant gray 300x300, {name:18s} {label:8s}: image score {r.image_score:.3f}, "
                  f"ratio {border_ratio(r.scores):.2f}, pad {r.meta['pad']} px")
    dataset = open_dataset("embedded")
    ratios = {k: [] for k in VARIANTS}
    controls = {k: [] for k in VARIANTS}
    rejected = {m: [] for m in REJECTED}
    print(f"  {'defect-free image':18s} {'shifts':>9s} " + " ".join(f"{k:>8s}" for k in VARIANTS)
          + "   control: " + " ".join(f"{k:>8s}" for k in VARIANTS)
          + "   statistic on padding: " + " ".join(f"{m:>8s}" for m in REJECTED))
    above = []
    for cls in dataset.classes:
        good = dataset.entries(cls, "good")[: 2 if args.quick else None]
        for entry in good:
            image = dataset.load(entry).image
            maps = {}
            for label, preset in VARIANTS.items():
                r = localize(image, preset=preset, backbone=extractor)
                maps[label] = (r.scores, r.meta["pad"])
                ratios[label].append(border_ratio(r.scores))
                controls[label].append(control_ratio(r.scores))
                if label == "periodic":
                    shifts = periodic_pad(to_image_tensor(image), r.meta["pad"])[1]
            for mode in REJECTED:
                rejected[mode].append(border_ratio(statistic_on_padding(image, extractor, mode)))
            print(f"  {cls + '/' + entry.image_path.name:18s} {'%d,%d' % shifts:>9s} "
                  + " ".join(f"{ratios[k][-1]:8.2f}" for k in VARIANTS)
                  + "            " + " ".join(f"{controls[k][-1]:8.2f}" for k in VARIANTS)
                  + "                         " + " ".join(f"{rejected[m][-1]:8.2f}" for m in REJECTED), flush=True)
            if ratios["periodic"][-1] > CRITERION:
                above.append((f"{cls}/{entry.image_path.name}", image, maps, shifts))
    for label in VARIANTS:
        print(f"  {len(ratios[label])} defect-free embedded images, {extractor.name} {label:8s}: ratio "
              f"{summary(ratios[label])}; control {summary(controls[label])}")
    for mode in REJECTED:
        print(f"  {len(rejected[mode])} defect-free embedded images, {extractor.name} statistic on the "
              f"{mode} padding: ratio {summary(rejected[mode])}")
    for name, image, maps, shifts in above:
        print(f"  {name} (above {CRITERION} with {PRESETS['own'].name}): the band's maximum under other frames")
        print("\n".join(frames_report(image, extractor, maps, shifts)), flush=True)

    print("\n2. AU-PRO on the embedded benchmark, paper's protocol (T from the feature size), "
          f"{extractor.name}")
    print(f"  {'class':8s} " + " ".join(f"{k + ' b10%':>12s} {k + ' b0':>10s}" for k in VARIANTS))
    means = {(k, b): [] for k in VARIANTS for b in ("protocol", "none")}
    for cls in dataset.classes:
        entries = select_entries(dataset, cls, 3 if args.quick else None)
        samples = [dataset.load(e) for e in entries]
        masks = [s.mask for s in samples]
        cells = []
        for label, preset in VARIANTS.items():
            maps = []
            for s in samples:
                p = configure(preset, dataset, *s.image.shape[:2])
                maps.append(metrics.upsample_to(localize(s.image, preset=p, backbone=extractor).scores, s.mask.shape))
            border = dataset.protocol.border_for(*masks[0].shape)
            for key, b in (("protocol", border), ("none", 0)):
                value = metrics.au_pro(maps, masks, border=b)
                means[(label, key)].append(value)
                cells.append(f"{value:{12 if key == 'protocol' else 10}.4f}")
        print(f"  {cls:8s} " + " ".join(cells), flush=True)
    cells = [f"{np.mean(means[(k, b)]):{12 if b == 'protocol' else 10}.4f}" for k in VARIANTS
             for b in ("protocol", "none")]
    print(f"  {'mean':8s} " + " ".join(cells))


if __name__ == "__main__":
    main()
