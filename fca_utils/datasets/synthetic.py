"""The embedded benchmark (no download) and the synthetic examples of the paper's Figure 3.

Embedded benchmark
------------------
:func:`generate_benchmark` writes, deterministically from a seed, a texture anomaly
benchmark in MVTec AD layout (see :mod:`fca_utils.datasets.layout`)::

    data/embedded/<class>/test/<defect>/000.png
    data/embedded/<class>/ground_truth/<defect>/000_mask.png
    data/embedded/<class>/test/good/000.png
    data/embedded/<class>/train/good/000.png
    data/embedded/report.json, report.md, manifest.json

Its seven classes (:data:`CLASSES`) are three real photographs that ship with
scikit-image and four procedural textures, one per texture family of the paper's
datasets (:mod:`fca_utils.datasets.textures`); the defects are planted and blended by
:mod:`fca_utils.datasets.defects`, whose masks hold every changed pixel. Each class has
two test images per defect type, four defect-free test images and three training
images. ``manifest.json`` (seed, generator version, SHA-256 of every file) is written
last and the folder is assembled under a temporary name and renamed into place, so
an interrupted run never looks complete; a current copy is not regenerated.

Command line::

    python -m fca_utils.datasets.synthetic --root data/embedded [--seed 0] [--force]

Figure 3
--------
:func:`toy_examples` returns the two synthetic problems of the paper's Figure 3.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, NamedTuple

import numpy as np

from ..core.io import progress_bar
from . import defects, layout, textures
from .catalog import default_root

__all__ = [
    "GENERATOR_VERSION", "ClassSpec", "CLASSES", "CLASS_NAMES", "RenderedSample",
    "render_class", "generate_benchmark", "is_current", "ToyExample", "TOY_CELL", "toy_examples", "main",
]

GENERATOR_VERSION = "2"  # 2: masks without fragments or holes under defects.MIN_FRAGMENT pixels
PER_DEFECT = 2   # test images per defect type and class
GOOD_TEST = 4    # defect-free test images per class
TRAIN_GOOD = 3   # defect-free training images per class
_MANIFEST = "manifest.json"


@dataclass(frozen=True)
class ClassSpec:
    """One class of the embedded benchmark.

    Attributes
    ----------
    name : str
        Folder name.
    texture : str
        Key of :data:`fca_utils.datasets.textures.SOURCES`.
    size : int
        Image side in pixels (at ``scale=1``).
    family : str
        Texture family, as in the paper's datasets.
    defects : tuple of str
        Defect types planted (keys of :data:`fca_utils.datasets.defects.DEFECT_TYPES`).
    donors : tuple of str
        Textures the ``foreign`` defect takes its material from.
    anisotropic : bool
        Whether the texture has a dominant orientation.
    """

    name: str
    texture: str
    size: int
    family: str
    defects: tuple[str, ...]
    donors: tuple[str, ...]
    anisotropic: bool = False


_ALL_BUT_PHASE = ("foreign", "color", "scratch", "hole", "blur", "distortion")

CLASSES: tuple[ClassSpec, ...] = (
    ClassSpec("brick", "brick", 384, "regular (photograph, CC0)", _ALL_BUT_PHASE + ("phase",),
              ("gravel", "wood"), anisotropic=True),
    ClassSpec("grass", "grass", 320, "stochastic (photograph, CC0)", _ALL_BUT_PHASE, ("gravel", "marble")),
    ClassSpec("gravel", "gravel", 256, "stochastic (photograph, CC0)", _ALL_BUT_PHASE, ("grass", "marble")),
    ClassSpec("woven", "woven", 1024, "regular (procedural twill, MVTec-size 1024 x 1024)",
              ("foreign", "color", "scratch", "hole", "distortion", "phase"), ("wood", "marble"), anisotropic=True),
    ClassSpec("marble", "marble", 256, "stochastic (procedural)", _ALL_BUT_PHASE, ("gravel", "wood")),
    ClassSpec("wood", "wood", 512, "anisotropic (procedural)", _ALL_BUT_PHASE, ("marble", "grass"),
              anisotropic=True),
    ClassSpec("tiles", "tiles", 512, "bimodal, period larger than the patch (procedural, Figure 7)",
              ("foreign", "color", "scratch", "hole", "distortion", "phase"), ("gravel", "marble")),
)
CLASS_NAMES: tuple[str, ...] = tuple(spec.name for spec in CLASSES)


@dataclass(frozen=True)
class RenderedSample:
    """One image of the benchmark together with the clean texture it was made from.

    ``clean`` and ``image`` are uint8 ``(H, W, 3)``; ``mask`` is bool ``(H, W)``
    (all False for defect-free images, whose ``image`` equals ``clean``).
    """

    cls: str
    split: str  # "test" or "train"
    defect_type: str
    stem: str
    clean: np.ndarray
    image: np.ndarray
    mask: np.ndarray

    @property
    def image_relpath(self) -> str:
        return f"{self.cls}/{self.split}/{self.defect_type}/{self.stem}.png"

    @property
    def mask_relpath(self) -> str | None:
        if self.defect_type == layout.GOOD:
            return None
        return f"{self.cls}/ground_truth/{self.defect_type}/{self.stem}_mask.png"


def _side(spec: ClassSpec, scale: float) -> int:
    return max(64, int(round(spec.size * scale / 8)) * 8)


def _rng(seed: int, spec: ClassSpec, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(spec.name.encode()), *key]))


def _context(spec: ClassSpec, clean: np.ndarray) -> defects.Context:
    def donor(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        return textures.render(spec.donors[int(rng.integers(len(spec.donors)))], rng, shape)

    period = textures.period(spec.texture, clean.shape[:2])
    if period is None and "phase" in spec.defects:
        p = defects.estimate_period(clean.mean(-1), axis=1)
        period = (p, p)
    return defects.Context(donor=donor, period=period, anisotropic=spec.anisotropic)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8)


def render_class(spec: ClassSpec, seed: int = 0, scale: float = 1.0) -> Iterator[RenderedSample]:
    """Render every image of one class, in a fixed order; each image has its own seed.

    Parameters
    ----------
    spec : ClassSpec
    seed : int
        Benchmark seed.
    scale : float
        Image sides are ``spec.size * scale`` (multiple of 8, at least 64); tests use
        small scales, the benchmark ``1``.
    """
    side = _side(spec, scale)
    for d, defect in enumerate(spec.defects):
        for k in range(PER_DEFECT):
            rng = _rng(seed, spec, 0, d, k)
            clean = textures.render(spec.texture, rng, (side, side))
            planted = defects.plant(clean, defect, rng, _context(spec, clean))
            yield RenderedSample(spec.name, "test", defect, f"{k:03d}", _to_uint8(clean), planted.image, planted.mask)
    for split, code, count in (("test", 1, GOOD_TEST), ("train", 2, TRAIN_GOOD)):
        for k in range(count):
            clean = _to_uint8(textures.render(spec.texture, _rng(seed, spec, code, 0, k), (side, side)))
            yield RenderedSample(spec.name, split, layout.GOOD, f"{k:03d}", clean, clean,
                                 np.zeros((side, side), bool))


def _threshold_auroc(image: np.ndarray, mask: np.ndarray) -> float:
    """Best pixel AUROC of a plain threshold on R, G, B or gray, in either direction.

    How well the defect could be found by colour alone (0.5 = not at all, 1 = trivially).
    """
    best = 0.5
    channels = [image[..., k] for k in range(3)] + [np.rint(image.mean(-1)).astype(np.uint8)]
    for channel in channels:
        pos = np.bincount(channel[mask], minlength=256).astype(np.float64)
        neg = np.bincount(channel[~mask], minlength=256).astype(np.float64)
        below = np.concatenate([[0.0], np.cumsum(neg)[:-1]])
        auc = float((pos * (below + 0.5 * neg)).sum() / (pos.sum() * neg.sum()))
        best = max(best, auc, 1 - auc)
    return best


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _manifest_header(seed: int, scale: float) -> dict:
    return {"generator": "fca_utils.datasets.synthetic", "generator_version": GENERATOR_VERSION,
            "seed": int(seed), "scale": float(scale), "classes": list(CLASS_NAMES)}


def is_current(root: str | os.PathLike, seed: int = 0, scale: float = 1.0) -> bool:
    """Whether ``root`` holds a complete benchmark of this generator version, seed and scale.

    Reads ``manifest.json`` and checks the SHA-256 of every file it lists.
    """
    root = Path(root)
    try:
        manifest = json.loads((root / _MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    if {k: manifest.get(k) for k in _manifest_header(seed, scale)} != _manifest_header(seed, scale):
        return False
    files = manifest.get("files", {})
    return bool(files) and all((root / rel).is_file() and _sha256(root / rel) == digest
                               for rel, digest in files.items())


def _report(stats: dict[str, dict], seed: int, scale: float) -> tuple[dict, str]:
    classes = {}
    for spec in CLASSES:
        s = stats[spec.name]
        cov = np.asarray(s["coverage"]) * 100
        classes[spec.name] = {
            "texture": spec.texture, "family": spec.family, "size": [s["side"], s["side"]],
            "test_defective": s["defects"], "test_good": GOOD_TEST, "train_good": TRAIN_GOOD,
            "mask_coverage_percent": {"min": round(float(cov.min()), 3), "median": round(float(np.median(cov)), 3),
                                      "max": round(float(cov.max()), 3)},
            "color_threshold_auroc_mean": round(float(np.mean(s["auroc"])), 4),
        }
    total_def = sum(sum(c["test_defective"].values()) for c in classes.values())
    report = {**_manifest_header(seed, scale), "classes": classes,
              "totals": {"test_defective": total_def, "test_good": GOOD_TEST * len(CLASSES),
                         "train_good": TRAIN_GOOD * len(CLASSES)}}
    lines = [
        "# Embedded benchmark report", "",
        f"Generated by `fca_utils.datasets.synthetic` version {GENERATOR_VERSION}, seed {seed}, scale {scale:g}.",
        "Mask coverage is the percentage of image pixels in a defect's mask. The colour-threshold AUROC is",
        "the best pixel AUROC of a single threshold on R, G, B or gray (0.5: colour says nothing, 1: trivial).",
        "",
        "| class | family | size | defective (per type) | good test | train | mask coverage % min / median / max "
        "| colour-threshold AUROC |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, c in classes.items():
        per_type = ", ".join(f"{k} {v}" for k, v in c["test_defective"].items())
        cov = c["mask_coverage_percent"]
        lines.append(f"| {name} | {c['family']} | {c['size'][0]}x{c['size'][1]} | "
                     f"{sum(c['test_defective'].values())} ({per_type}) | {c['test_good']} | {c['train_good']} | "
                     f"{cov['min']:.2f} / {cov['median']:.2f} / {cov['max']:.2f} | {c['color_threshold_auroc_mean']:.3f} |")
    t = report["totals"]
    lines += ["", f"Totals: {t['test_defective']} defective and {t['test_good']} defect-free test images, "
                  f"{t['train_good']} training images.", ""]
    return report, "\n".join(lines)


def _write_tree(tmp: Path, seed: int, scale: float, progress: bool) -> None:
    total = sum(len(s.defects) * PER_DEFECT + GOOD_TEST + TRAIN_GOOD for s in CLASSES)
    stats: dict[str, dict] = {}
    with progress_bar(total=total, desc="embedded benchmark", unit="img", enabled=progress) as bar:
        for spec in CLASSES:
            s = stats[spec.name] = {"side": _side(spec, scale), "defects": {}, "coverage": [], "auroc": []}
            for sample in render_class(spec, seed, scale):
                layout.write_image(tmp / sample.image_relpath, sample.image)
                if sample.mask_relpath is not None:
                    layout.write_mask(tmp / sample.mask_relpath, sample.mask)
                    s["defects"][sample.defect_type] = s["defects"].get(sample.defect_type, 0) + 1
                    s["coverage"].append(float(sample.mask.mean()))
                    s["auroc"].append(_threshold_auroc(sample.image, sample.mask))
                bar.update()
    report, markdown = _report(stats, seed, scale)
    (tmp / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (tmp / "report.md").write_text(markdown)
    files = {p.relative_to(tmp).as_posix(): _sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
    (tmp / _MANIFEST).write_text(json.dumps({**_manifest_header(seed, scale), "files": files}, indent=1) + "\n")


def _remove_stale(root: Path) -> None:
    """Delete work folders left next to ``root`` by generator processes that no longer run."""
    for work in root.parent.glob(f".{root.name}.*-*"):
        pid = work.name.rsplit("-", 1)[-1]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(work, ignore_errors=True)
        except PermissionError:  # a live process of another user
            continue


def generate_benchmark(root: str | os.PathLike | None = None, seed: int = 0, force: bool = False,
                       progress: bool = True, scale: float = 1.0) -> Path:
    """Generate the embedded benchmark into ``root`` unless a current copy is there.

    Parameters
    ----------
    root : path, optional
        Target folder; default ``data/embedded`` of the project (see
        :func:`fca_utils.datasets.catalog.data_dir`).
    seed : int
        Same seed, same bytes (with the same library versions).
    force : bool
        Regenerate even if ``root`` is current.
    progress : bool
        Show a progress bar.
    scale : float
        Multiplies every image side (tests use small scales; the benchmark is ``1``).

    Returns
    -------
    pathlib.Path
        ``root``.

    Examples
    --------
    >>> from fca_utils.datasets import synthetic
    >>> root = synthetic.generate_benchmark()            # doctest: +SKIP
    >>> sorted(p.name for p in root.iterdir())[:3]       # doctest: +SKIP
    ['brick', 'grass', 'gravel']
    """
    root = Path(root) if root is not None else default_root("embedded")
    if not force and is_current(root, seed, scale):
        return root
    if root.exists() and any(root.iterdir()) and not (root / _MANIFEST).is_file():
        raise FileExistsError(f"{root} exists and is not an embedded benchmark (no {_MANIFEST}); "
                              f"refusing to replace it, choose another --root")
    root.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(root)
    tmp = root.parent / f".{root.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        _write_tree(tmp, seed, scale, progress)
        old = root.parent / f".{root.name}.old-{os.getpid()}"
        if root.exists():
            os.replace(root, old)
        os.replace(tmp, root)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


class ToyExample(NamedTuple):
    """A synthetic example of Figure 3: float32 ``(H, W, 3)`` gray image in [0, 1] and bool ``(H, W)`` mask."""

    name: str
    image: np.ndarray
    mask: np.ndarray
    description: str


#: Side of the checkerboard cells of the contextual toy: larger than the small histogram patch
#: of Figure 3 (T = 5, so a small patch fits inside one cell) while two cells, one period, stay
#: smaller than the large patch (T = 25, so a large patch always sees both gray levels).
TOY_CELL = 8


def toy_examples(size: int = 256, seed: int = 0) -> tuple[ToyExample, ToyExample]:
    """The two synthetic problems of the paper's Figure 3 (Sec. 3.2), as gray images.

    Sec. 3.2 names them by what they contain: the first a *source of error* that FCA
    localizes and a small histogram patch "would improve", the second a *contextual*
    (conditional) anomaly on which a small histogram patch "would fail". Their pixels are
    the features (``F(I) = I``, :func:`fca_utils.paper.demos.intensity_features`).

    1. ``"outlier"`` -- a *localized outlier*: i.i.d. gray values uniform in [0.25, 0.75]
       in which a compact group of about a dozen pixels takes values in [0.95, 1]. Those
       values occur nowhere else in the image: a large histogram patch around them changes
       little and everywhere at once (a blob), FCA's rank matching sends the whole mismatch
       to exactly those pixels.
    2. ``"contextual"`` -- a *contextual* anomaly: a checkerboard of :data:`TOY_CELL`-pixel
       cells, dark cells uniform in [0.25, 0.35], bright cells uniform in [0.65, 0.75], in
       which one cell has the other colour (its values are drawn like those of the cells
       of that colour). Every value of the anomaly occurs elsewhere, and every small patch
       over it (smaller than a cell) holds what some small patch of the normal texture
       holds; only a patch larger than a period sees that one colour is in surplus there.

    Parameters
    ----------
    size : int
        Image side; 256 matches the preliminary experiment (Tables 1, 2; Appendix E).
    seed : int

    Returns
    -------
    (ToyExample, ToyExample)
        ``outlier`` and ``contextual``; each mask is exactly the pixels that were changed.
    """
    if size < 64:
        raise ValueError(f"size must be at least 64, got {size}")
    rng = np.random.default_rng(seed)
    # 1. localized outlier
    image = rng.uniform(0.25, 0.75, (size, size)).astype(np.float32)
    cy, cx = (int(v) for v in rng.integers(size // 3, 2 * size // 3, 2))
    v, u = np.mgrid[-2:3, -2:3]
    blob = (v**2 + u**2 <= 4) & (rng.random((5, 5)) < 0.75)
    mask = np.zeros((size, size), bool)
    mask[cy - 2:cy + 3, cx - 2:cx + 3] = blob
    image[mask] = rng.uniform(0.95, 1.0, int(mask.sum()))
    outlier = ToyExample("outlier", np.repeat(image[..., None], 3, 2), mask,
                         "localized outlier: a few pixels with values that occur nowhere else")
    # 2. contextual anomaly: one checkerboard cell of the wrong colour
    y, x = np.mgrid[:size, :size]
    bright = ((y // TOY_CELL + x // TOY_CELL) % 2).astype(bool)
    cy, cx = (int(v) // TOY_CELL * TOY_CELL for v in rng.integers(size // 3, 2 * size // 3, 2))
    mask = np.zeros((size, size), bool)
    mask[cy:cy + TOY_CELL, cx:cx + TOY_CELL] = True
    bright ^= mask
    image = np.where(bright, rng.uniform(0.65, 0.75, (size, size)),
                     rng.uniform(0.25, 0.35, (size, size))).astype(np.float32)
    contextual = ToyExample("contextual", np.repeat(image[..., None], 3, 2), mask,
                            "contextual anomaly: one checkerboard cell of the wrong colour; "
                            "every value occurs elsewhere, only the arrangement is wrong")
    return outlier, contextual


def main(argv: list[str] | None = None) -> int:
    """``python -m fca_utils.datasets.synthetic --root DIR [--seed 0] [--force]``."""
    parser = argparse.ArgumentParser(prog="python -m fca_utils.datasets.synthetic",
                                     description="Generate the embedded texture anomaly benchmark (MVTec AD layout).")
    parser.add_argument("--root", type=Path, default=None, help="target folder (default: data/embedded)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--force", action="store_true", help="regenerate even if a current copy exists")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply image sides (default: 1)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    root = args.root if args.root is not None else default_root("embedded")
    current = not args.force and is_current(root, args.seed, args.scale)
    try:
        root = generate_benchmark(root, seed=args.seed, force=args.force, progress=not args.quiet, scale=args.scale)
    except FileExistsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    verb = "up to date" if current else "generated"
    print(f"embedded benchmark {verb} in {root} ({time.perf_counter() - start:.1f} s); see {root / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
