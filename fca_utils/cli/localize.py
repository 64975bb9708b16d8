"""``fca-localize``: anomaly map of one's own texture image from the command line.

    fca-localize IMAGE [-o OUT.png] [--preset paper] [--backbone auto] [--device cpu]

Writes ``OUT.tiff`` (float32 scores at the image's resolution, the format MVTec's
evaluation reads) and ``OUT.png`` (the image with a "Reds" overlay of the scores
scaled to their own min and max). Files are written to temporary names first and
renamed, so an interrupted run leaves nothing half-written.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ..core.io import atomic_path

__all__ = ["main", "write_outputs"]


def write_outputs(image: np.ndarray, scores: np.ndarray, png_path: Path) -> tuple[Path, Path]:
    """Write ``scores`` as float32 TIFF and an overlay PNG next to each other; return both paths."""
    import tifffile
    from PIL import Image

    from ..evaluation.viz import class_normalizer, overlay

    png_path = Path(png_path)
    tiff_path = png_path.with_suffix(".tiff")
    with atomic_path(tiff_path) as tmp:
        tifffile.imwrite(tmp, scores.astype(np.float32))
    picture = overlay(image, class_normalizer([scores])(scores))
    with atomic_path(png_path) as tmp:
        Image.fromarray(picture).save(tmp, format="PNG")
    return tiff_path, png_path


def build_parser() -> argparse.ArgumentParser:
    from ..core.methods import PRESETS

    parser = argparse.ArgumentParser(
        prog="fca-localize",
        description="Zero-shot texture anomaly localization with Feature Correspondence Analysis (WACV 2024).",
    )
    parser.add_argument("image", type=Path, help="input image (PNG, JPEG, TIFF; gray, RGB, RGBA, 8 or 16 bit)")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="output PNG path (default: IMAGE_fca.png); the float map goes to the same name .tiff")
    parser.add_argument("--preset", default="paper", choices=sorted(PRESETS), help="configuration (default: paper)")
    parser.add_argument("--backbone", default="auto",
                        help="feature extractor: auto (WideResNet-50-2 if its weights are available, "
                             "else efficientnet_lite0), wide_resnet50_2, efficientnet_lite0, vgg19, ...")
    parser.add_argument("--device", default=None, help="torch device, e.g. cpu (default) or cuda")
    parser.add_argument("--patch-size", type=int, default=None, help="override the preset's patch size T")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from ..core.images import load_image
    from ..pipeline import localize

    try:
        image = load_image(args.image)
        result = localize(image, preset=args.preset, backbone=args.backbone, device=args.device,
                          patch_size=args.patch_size)
    except (FileNotFoundError, ValueError, TypeError) as err:
        print(f"fca-localize: error: {err}", file=sys.stderr)
        return 2
    output = args.output or args.image.with_name(f"{args.image.stem}_fca.png")
    if output.suffix.lower() != ".png":
        output = output.with_suffix(".png")
    tiff_path, png_path = write_outputs(image, result.scores, output)
    meta = result.meta
    print(f"backbone: {meta['backbone_info']}")
    print(f"preset: {meta['preset']}  image score (max): {result.image_score:.5f}  "
          f"time: {meta['seconds']['total']:.2f} s")
    print(f"wrote {tiff_path} and {png_path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
