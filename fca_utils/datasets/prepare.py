"""Turning a dataset download into the verified MVTec-layout folder the notebooks read.

``prepare(name)`` for

- ``mvtec``: download ``mvtec_anomaly_detection.tar.xz`` (or use yours), check its
  published SHA-256, extract the five texture classes;
- ``wft``: download ``textures.zip`` (or use yours), extract ``texture_1``, ``texture_2``;
- ``dtd_synthetic``: from your download (Google Drive, no direct link), resize every
  image and mask to 320 x 320 (bilinear / nearest);
- ``aitex``: download or use ``Defect_images`` and ``Mask_images``, then cut, filter
  and resize (:mod:`fca_utils.aitex`);
- ``embedded``: generate it (:func:`fca_utils.synthetic.generate_benchmark`).

When a download is impossible, :class:`ManualDownloadRequired` carries exactly what to
fetch and where to put it. Results are assembled in a hidden staging folder and moved
into place class by class, then verified (:func:`fca_utils.datasets.verify`); a
``fca_prepared.json`` records the SHA-256 of the archives used and the image counts,
so a later preparation from a different archive is noticed.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from ..core.io import DownloadError, sha256sum, verify_sha256
from ..core.io import download as fetch
from . import aitex
from .catalog import DATASETS, data_dir, default_root
from .dataset import verify
from .download import extract
from .layout import (
    GOOD,
    DatasetLayoutError,
    read_image,
    read_mask,
    scan_class,
    write_image,
    write_mask,
)

__all__ = ["ManualDownloadRequired", "RECORD", "prepare"]

RECORD = "fca_prepared.json"


class ManualDownloadRequired(RuntimeError):
    """The dataset must be fetched by hand; the message says what, from where, and where to put it."""


def _instructions(name: str, root: Path, cache: Path, reason: str = "") -> ManualDownloadRequired:
    info = DATASETS[name]
    text = f"{info['title']} must be downloaded by hand (licence: {info['licence']}).\n"
    text += info["manual"].format(root=root, cache=cache)
    if reason:
        text += f"\n({reason})"
    return ManualDownloadRequired(text)


def _find_base(folder: Path, classes: list[str], depth: int = 3) -> Path:
    """The folder at or below ``folder`` that holds the class folders."""
    if all((folder / cls).is_dir() for cls in classes):
        return folder
    if depth > 0:
        for child in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
            try:
                return _find_base(child, classes, depth - 1)
            except DatasetLayoutError:
                continue
    missing = next(cls for cls in classes if not (folder / cls).is_dir())
    raise DatasetLayoutError(f"missing class folder: {folder / missing} (no folder below {folder} holds all of "
                             f"{classes})")


def _acquire(name: str, root: Path, source: Path | None, cache: Path, allow_download: bool,
             ignore_checksum: bool, log: Callable[[str], None]) -> tuple[list[Path], dict[str, str]]:
    """The user's source, or the dataset's archives (downloaded if allowed); and their SHA-256."""
    known = {a["filename"]: a["sha256"] for a in DATASETS[name]["archives"]}
    checked: set[Path] = set()
    if source is not None:
        if not source.exists():
            raise FileNotFoundError(f"--source {source} does not exist")
        paths = [source]
    else:
        archives = DATASETS[name]["archives"]
        if not archives:
            raise _instructions(name, root, cache)
        paths = []
        for archive in archives:
            path = cache / archive["filename"]
            if not path.is_file():
                if not allow_download:
                    raise _instructions(name, root, cache, f"{path} not found and downloading is disabled")
                log(f"downloading {archive['url']}\n  to {path} (licence: {DATASETS[name]['licence']})")
                try:
                    fetch(archive["url"], path, None if ignore_checksum else archive["sha256"])
                except DownloadError as err:
                    raise _instructions(name, root, cache, f"automatic download failed: {err}") from err
                checked.add(path)
            paths.append(path)
    hashes = {}
    for path in paths:
        if not path.is_file():
            continue
        if known.get(path.name) and not ignore_checksum:
            if path not in checked:
                log(f"checking the SHA-256 of {path} (published: {known[path.name]})")
                verify_sha256(path, known[path.name], progress=True)
            hashes[path.name] = known[path.name]
        else:
            hashes[path.name] = sha256sum(path, progress=True)
    return paths, hashes


def _keep(classes: list[str]) -> Callable[[str], bool]:
    """Archive members inside one of ``classes``, except their (unused) train/ folders."""
    wanted = set(classes)

    def keep(member: str) -> bool:
        parts = member.replace("\\", "/").split("/")
        return any(part in wanted and parts[i + 1:i + 2] != ["train"] for i, part in enumerate(parts[:-1]))

    return keep


def _unpack(paths: list[Path], work: Path, keep: Callable[[str], bool]) -> Path:
    """A folder with the content of ``paths``: the folder itself, or the archives extracted into ``work``."""
    if len(paths) == 1 and paths[0].is_dir():
        return paths[0]
    for path in paths:
        extract(path, work, keep)
    return work


def _install(ready: Path, root: Path, classes: list[str]) -> None:
    """Move the class folders from ``ready`` into ``root``, replacing older copies."""
    root.mkdir(parents=True, exist_ok=True)
    for cls in classes:
        target = root / cls
        if target.exists():
            shutil.rmtree(target)
        os.replace(ready / cls, target)


def _resize_classes(base: Path, out: Path, classes: list[str], side: int) -> None:
    """Write the test images and masks of ``classes`` resized to ``side`` x ``side`` into ``out``."""
    for cls in classes:
        for entry in scan_class(base, cls):
            image = Image.fromarray(read_image(entry.image_path)).resize((side, side), Image.BILINEAR)
            write_image(out / cls / "test" / entry.defect_type / f"{entry.stem}.png", np.asarray(image))
            if entry.defect_type != GOOD:
                mask = Image.fromarray(read_mask(entry.mask_path)).resize((side, side), Image.NEAREST)
                write_mask(out / cls / "ground_truth" / entry.defect_type / f"{entry.stem}_mask.png",
                           np.asarray(mask))


def _previous_hashes(root: Path) -> dict[str, str]:
    try:
        return json.loads((root / RECORD).read_text()).get("archives", {})
    except (OSError, ValueError):
        return {}


def prepare(name: str, root: str | os.PathLike | None = None, source: str | os.PathLike | None = None,
            cache: str | os.PathLike | None = None, download: bool = True, force: bool = False,
            ignore_checksum: bool = False, log: Callable[[str], None] = print) -> Path:
    """Download (where possible), verify and prepare dataset ``name`` into ``root``.

    Parameters
    ----------
    name : str
        ``"embedded"``, ``"mvtec"``, ``"wft"``, ``"dtd_synthetic"`` or ``"aitex"``.
    root : path, optional
        Prepared dataset folder (default ``data/datasets/<name>``).
    source : path, optional
        An archive you downloaded or the folder you extracted it to.
    cache : path, optional
        Where archives are looked for and downloaded to (default ``data/cache/downloads``).
    download : bool
        Allow downloading; otherwise print what to fetch.
    force : bool
        Prepare again even if ``root`` already checks out.
    ignore_checksum : bool
        Accept an archive whose SHA-256 differs from the published one.
    log : callable
        Where progress messages go.

    Returns
    -------
    pathlib.Path
        ``root``.

    Raises
    ------
    ManualDownloadRequired
        With instructions, when the data must be fetched by hand.
    DatasetLayoutError
        When the source or the result is incomplete or unexpected (names the file).
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {list(DATASETS)}")
    root = Path(root) if root is not None else default_root(name)
    if name == "embedded":
        from .synthetic import generate_benchmark

        generate_benchmark(root, force=force)
        log(f"embedded benchmark ready in {root}")
        return root
    cache = Path(cache) if cache is not None else data_dir() / "cache" / "downloads"
    classes = list(DATASETS[name]["classes"])
    if not force and source is None and root.is_dir():
        try:
            counts = {cls: len(found) for cls, found in verify(name, root).items()}
        except DatasetLayoutError as err:
            log(f"{root} is not a complete copy yet ({err}); preparing it")
        else:
            if not (root / RECORD).is_file():
                _write_record(root, name, {}, counts, [])
            log(f"{name} is already prepared in {root}: {counts}")
            return root
    paths, hashes = _acquire(name, root, Path(source) if source is not None else None, cache, download,
                             ignore_checksum, log)
    previous = _previous_hashes(root)
    for filename, digest in hashes.items():
        if filename in previous and previous[filename] != digest:
            log(f"note: {filename} differs from the archive {root} was prepared from before "
                f"(SHA-256 {previous[filename]}, now {digest})")
    staging = root.parent / f".{root.name}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    notes: list[str] = []
    try:
        out = staging / "out"
        if name == "aitex":
            content = _unpack(paths, staging / "raw", lambda member: True)
            summary = aitex.prepare_aitex(_find_aitex(content), out)
            notes = summary["skipped"]
            classes = [cls for cls in classes if cls in summary["frames"]]
            ready = out
        else:
            base = _find_base(_unpack(paths, staging / "raw", _keep(classes)), classes)
            if "resize" in DATASETS[name]:
                _resize_classes(base, out, classes, DATASETS[name]["resize"])
                ready = out
            elif base.resolve() == root.resolve():
                ready, classes = base, []  # the source already is the dataset folder
            elif base.resolve().is_relative_to(staging.resolve()):
                ready = base  # freshly extracted: move, do not copy
            else:
                for cls in classes:
                    shutil.copytree(base / cls, out / cls, ignore=shutil.ignore_patterns("train"))
                ready = out
        _install(ready, root, classes)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    counts = {cls: len(found) for cls, found in verify(name, root).items()}
    _write_record(root, name, hashes, counts, notes)
    for note in notes:
        log(f"skipped {note}")
    log(f"{name} prepared in {root}: {counts}")
    return root


def _write_record(root: Path, name: str, hashes: dict[str, str], counts: dict[str, int], notes: list[str]) -> None:
    record = {"dataset": name, "archives": hashes, "test_images": counts, "notes": notes}
    (root / RECORD).write_text(json.dumps(record, indent=2) + "\n")


def _find_aitex(folder: Path) -> Path:
    """The folder at or below ``folder`` holding ``Defect_images/``."""
    for candidate in [folder, *sorted(p.parent for p in folder.rglob("Defect_images") if p.is_dir())]:
        if (candidate / "Defect_images").is_dir():
            return candidate
    raise DatasetLayoutError(f"missing Aitex folder: {folder / 'Defect_images'}")
