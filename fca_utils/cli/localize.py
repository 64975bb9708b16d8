"""``fca-localize``: anomaly maps of one's own texture images from the command line.

    fca-localize IMAGE [-o OUT.png] [--preset own] [--backbone auto] [--device cpu]
    fca-localize FOLDER|FILE|'GLOB' ... -o OUT_DIR [--masks MASK_DIR] [--overwrite]

One image (a single file and no output folder): writes ``OUT.tiff`` (float32 scores at
the image's resolution, the format MVTec's evaluation reads) and ``OUT.png`` (the image
with a "Reds" overlay of its scores).

Many images (a folder, a glob pattern, several files, or ``-o`` naming an existing
folder): with a progress bar, writes into ``OUT_DIR``, for each image at its path
relative to the inputs' common folder, ``<stem>_fca.tiff`` and ``<stem>_fca.png``, and
one ``scores.csv`` (path, image_score, seconds, backbone, preset). A re-run skips the
images whose map is written and listed in ``scores.csv`` with the same backbone and
preset (``--overwrite`` recomputes them). The overlays of a run share one colour scale:
the paper's per-class normalization (Appendix B.2), the smallest and largest score over
all the run's maps, 10 % borders ignored, mapped to 0 and 1 and clipped;
``--normalize image`` scales each overlay to its own map instead.

With ``--masks DIR`` (ground truth in MVTec AD naming: ``<stem>_mask.png``, or the
image's own file name, at the image's relative path or directly in DIR) it prints
AU-PRO, pixel AUROC and F1-max of the run's maps (:func:`fca_utils.evaluation.metrics.evaluate`),
and image AUROC when defect-free images are among them: an image is defect-free when
it has no mask file or its mask has no nonzero pixel. ``--border paper`` crops 10 % of
the side before scoring (the paper's rule, Sec. 4.1); the default scores every pixel.

Errors: an unreadable file (missing, not an image, truncated) is one line on stderr
naming it and the reason; a single image exits with status 2; in a run of many it is
listed at the end with the others that failed, the rest are processed, and the exit
status is 1. Every file is written to a temporary name first and renamed, so an
interrupted run leaves nothing half-written.
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import sys
from pathlib import Path

import numpy as np

from ..core.io import atomic_path, write_text

__all__ = ["main", "write_outputs", "BORDER_FRACTION"]

#: Border ignored by the shared colour scale and cropped by ``--border paper`` (Sec. 4.1, Appendix B.2: ~10 %).
BORDER_FRACTION = 0.1
CSV_COLUMNS = ("path", "image_score", "seconds", "backbone", "preset", "precision")


def _border(shape) -> int:
    return int(round(BORDER_FRACTION * min(shape[:2])))


def write_outputs(image: np.ndarray, scores: np.ndarray, png_path: Path, normalizer=None) -> tuple[Path, Path]:
    """Write ``scores`` as float32 TIFF and an overlay PNG next to each other; return both paths.

    ``normalizer`` maps scores to [0, 1] (default: the map's own range, 10 % borders ignored).
    """
    png_path = Path(png_path)
    tiff_path = png_path.with_suffix(".tiff")
    write_tiff(scores, tiff_path)
    write_overlay(image, scores, png_path, normalizer)
    return tiff_path, png_path


def write_tiff(scores: np.ndarray, path: Path) -> None:
    import tifffile

    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, scores.astype(np.float32))


def write_overlay(image: np.ndarray, scores: np.ndarray, path: Path, normalizer=None) -> None:
    from PIL import Image

    from ..evaluation.viz import class_normalizer, overlay

    normalizer = normalizer or class_normalizer([scores], _border(scores.shape))
    picture = overlay(image, normalizer(scores))
    with atomic_path(path) as tmp:
        Image.fromarray(picture).save(tmp, format="PNG")


def build_parser() -> argparse.ArgumentParser:
    from ..core.methods import PRESETS

    parser = argparse.ArgumentParser(
        prog="fca-localize",
        description="Zero-shot texture anomaly localization with Feature Correspondence Analysis (WACV 2024).",
    )
    parser.add_argument("inputs", nargs="+", metavar="IMAGE",
                        help="image files (PNG, JPEG, TIFF; gray, RGB, RGBA, 8 or 16 bit), folders (searched "
                             "recursively) or glob patterns (quote them)")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="one image: output PNG path (default: IMAGE_fca.png; the float map goes to the same "
                             "name .tiff); many images: output folder (default: fca_results)")
    parser.add_argument("--preset", default="own", choices=sorted(PRESETS),
                        help="configuration (default: own, the paper's with the image padded with its own texture "
                             "against border artifacts; paper: exactly as the authors run it)")
    parser.add_argument("--backbone", default="auto",
                        help="feature extractor: auto (WideResNet-50-2 if its weights are available, "
                             "else efficientnet_lite0), wide_resnet50_2, efficientnet_lite0, vgg19, ...")
    parser.add_argument("--weights", type=Path, default=None,
                        help="WideResNet-50-2 ImageNet weight file (torchvision's wide_resnet50_2-95faca4d.pth) "
                             "from anywhere; checked by its SHA-256")
    parser.add_argument("--device", default=None, help="torch device, e.g. cpu (default) or cuda")
    parser.add_argument("--precision", default="auto", choices=("auto", "float32", "bfloat16"),
                        help="the backbone's arithmetic: auto (default; bfloat16 on CPUs with avx512_bf16 or "
                             "amx_bf16 for wide_resnet50_2 and efficientnet_lite0, else float32), float32 "
                             "(the paper's, the same on any CPU) or bfloat16 (CPU only)")
    parser.add_argument("--patch-size", type=int, default=None, help="override the preset's patch size T")
    parser.add_argument("--overwrite", action="store_true", help="recompute images whose outputs are complete")
    parser.add_argument("--normalize", choices=("run", "image"), default="run",
                        help="overlay colour scale: run (one scale for all images, default) or image")
    parser.add_argument("--masks", type=Path, default=None,
                        help="folder of ground-truth masks (<stem>_mask.png or <stem>.png): print the metrics")
    parser.add_argument("--border", choices=("none", "paper"), default="none",
                        help="with --masks: pixels scored; paper: crop 10%% of the side (Sec. 4.1)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _error(message: str) -> None:
    print(f"fca-localize: error: {message}", file=sys.stderr)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from ..features import MissingWeightsError

    single = (len(args.inputs) == 1 and not Path(args.inputs[0]).is_dir() and not _is_pattern(args.inputs[0])
              and not (args.output is not None and args.output.is_dir()) and args.masks is None)
    try:
        return _single(args) if single else _many(args)
    except MissingWeightsError as err:
        _error(str(err))
        return 2


def _is_pattern(text: str) -> bool:
    import glob

    return glob.has_magic(text) and not Path(text).exists()


def _options(args) -> dict:
    return dict(preset=args.preset, backbone=args.backbone, device=args.device, patch_size=args.patch_size,
                weights=args.weights, precision=args.precision)


def _single(args) -> int:
    from ..core.images import load_image
    from ..pipeline import localize

    source = Path(args.inputs[0])
    try:
        image = load_image(source)
        result = localize(image, **_options(args))
    except (ValueError, TypeError, FileNotFoundError) as err:
        _error(str(err))
        return 2
    output = args.output or source.with_name(f"{source.stem}_fca.png")
    if output.suffix.lower() != ".png":
        output = output.with_suffix(".png")
    tiff_path, png_path = write_outputs(image, result.scores, output)
    meta = result.meta
    print(f"backbone: {meta['backbone_info']}")
    print(f"preset: {meta['preset']}  precision: {meta['precision']}  image score (max): {result.image_score:.5f}  "
          f"time: {meta['seconds']['total']:.2f} s")
    print(f"wrote {tiff_path} and {png_path}")
    return 0


def _read_rows(path: Path) -> dict[str, dict]:
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        return {row["path"]: row for row in csv.DictReader(f) if row.get("path")}


def _write_rows(path: Path, rows: dict[str, dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for key in sorted(rows):
        writer.writerow({c: rows[key].get(c, "") for c in CSV_COLUMNS})
    write_text(path, buffer.getvalue())


def _many(args) -> int:
    import tifffile

    from .. import features
    from ..core.images import load_image
    from ..core.methods import PRESETS
    from ..pipeline import find_images, localize_many

    out_dir = args.output or Path("fca_results")
    if out_dir.exists() and not out_dir.is_dir():
        _error(f"output {out_dir} exists and is not a folder; many images need an output folder (-o DIR)")
        return 2
    try:
        paths = find_images(args.inputs, exclude=out_dir)
    except ValueError as err:
        _error(str(err))
        return 2
    common = Path(os.path.commonpath([p.resolve().parent for p in paths]))
    relative = {p: p.resolve().relative_to(common) for p in paths}
    stem_of = {p: out_dir / r.parent / f"{r.stem}_fca" for p, r in relative.items()}

    try:
        extractor, info = features.resolve_backbone(args.backbone, device=args.device, weights_file=args.weights)
        precision = features.resolve_precision(args.precision, extractor, args.device)
    except ValueError as err:
        _error(str(err))
        return 2
    preset_name = args.preset if args.patch_size is None else f"{args.preset}+T{args.patch_size}"
    csv_path = out_dir / "scores.csv"
    rows = _read_rows(csv_path)

    def complete(p: Path) -> bool:
        row = rows.get(str(p))
        return (row is not None and row.get("backbone") == extractor.name and row.get("preset") == preset_name
                and row.get("precision") == precision
                and stem_of[p].with_suffix(".tiff").is_file())

    todo = paths if args.overwrite else [p for p in paths if not complete(p)]
    print(f"backbone: {info}")
    print(f"precision: {precision}")
    if len(todo) < len(paths):
        print(f"{len(paths) - len(todo)} of {len(paths)} images already done in {out_dir} (--overwrite recomputes)")
    failed: list[tuple[Path, Exception]] = []
    options = dict(preset=PRESETS[args.preset], backbone=extractor, device=args.device, patch_size=args.patch_size,
                   precision=precision)
    for outcome in localize_many(todo, progress=not args.no_progress, errors="collect", **options):
        if not outcome.ok:
            failed.append((outcome.path, outcome.error))
            continue
        result = outcome.result
        write_tiff(result.scores, stem_of[outcome.path].with_suffix(".tiff"))
        rows[str(outcome.path)] = {"path": str(outcome.path), "image_score": f"{result.image_score:.6g}",
                                   "seconds": f"{result.meta['seconds']['total']:.3f}",
                                   "backbone": extractor.name, "preset": preset_name, "precision": precision}
        _write_rows(csv_path, rows)

    done = [p for p in paths if p not in {f for f, _ in failed}]
    _write_overlays(done, stem_of, args.normalize, load_image, tifffile.imread)
    print(f"wrote {len(done)} maps and overlays to {out_dir}, scores in {csv_path}")
    status = 0
    if args.masks is not None and done:
        status = _print_metrics(done, relative, stem_of, args, tifffile.imread)
    if failed:
        print(f"fca-localize: {len(failed)} of {len(paths)} images failed:", file=sys.stderr)
        for path, err in failed:
            message = str(err) if str(path) in str(err) else f"{path}: {err}"
            print(f"  {message}", file=sys.stderr)
        return 1
    return status


def _write_overlays(done, stem_of, normalize: str, load_image, read_map) -> None:
    """Overlay PNGs of all ``done`` images: one colour scale for the run (Appendix B.2) or one per image."""
    from ..evaluation.viz import inner_range, range_normalizer

    normalizer = None
    if normalize == "run":
        ranges = []
        for p in done:
            scores = read_map(stem_of[p].with_suffix(".tiff"))
            ranges.append(inner_range(scores, _border(scores.shape)))
        normalizer = range_normalizer(min(lo for lo, _ in ranges), max(hi for _, hi in ranges))
    for p in done:
        scores = read_map(stem_of[p].with_suffix(".tiff"))
        write_overlay(load_image(p), scores, stem_of[p].with_suffix(".png"), normalizer)


def find_mask(mask_dir: Path, relative: Path) -> Path | None:
    """The mask of an image at ``relative`` (to the run's common folder): ``<stem>_mask.png`` (MVTec AD)
    or the image's own name, at the same relative folder below ``mask_dir`` or directly in it."""
    for folder in dict.fromkeys((mask_dir / relative.parent, mask_dir)):
        for name in (f"{relative.stem}_mask.png", relative.name):
            if (folder / name).is_file():
                return folder / name
    return None


def _print_metrics(done, relative, stem_of, args, read_map) -> int:
    from ..core.images import ImageReadError, load_image
    from ..evaluation import metrics

    maps, masks, defect_free = [], [], 0
    for p in done:
        scores = read_map(stem_of[p].with_suffix(".tiff"))
        mask_path = find_mask(args.masks, relative[p])
        mask = None
        if mask_path is not None:
            try:
                mask = load_image(mask_path)
            except ImageReadError as err:
                _error(str(err))
                return 2
            mask = (mask[..., 0] if mask.ndim == 3 else mask) > 0
            if mask.shape != scores.shape:
                _error(f"mask {mask_path} is {mask.shape[1]}x{mask.shape[0]} but image {p} is "
                       f"{scores.shape[1]}x{scores.shape[0]}; expected the same size")
                return 2
            if not mask.any():
                mask = None
        defect_free += mask is None
        maps.append(scores)
        masks.append(mask)
    if defect_free == len(maps):
        _error(f"no defect in the masks of {args.masks}: every image is defect-free (no mask file or an empty "
               f"mask), so there is nothing to score; expected <stem>_mask.png files with nonzero defect pixels")
        return 2
    border = min(_border(m.shape) for m in maps) if args.border == "paper" else 0
    result = metrics.evaluate(maps, masks, border=border)
    print(f"metrics on {len(maps)} images ({len(maps) - defect_free} with defects, {defect_free} defect-free), "
          f"border {border} px:")
    print(f"  AU-PRO (FPR <= 0.3): {result['au_pro']:.4f}")
    print(f"  pixel AUROC:        {result['pixel_auroc']:.4f}")
    print(f"  F1-max:             {result['f1_max']:.4f}")
    if defect_free:
        print(f"  image AUROC:        {result['image_auroc']:.4f}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
