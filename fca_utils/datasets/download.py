"""Safe extraction of the downloaded dataset archives (``.zip``, ``.tar*``, ``.7z``).

The downloads themselves, with their SHA-256 checks, are :func:`fca_utils.core.io.download`;
its errors :class:`DownloadError` and :class:`ChecksumError` are re-exported here.
"""
from __future__ import annotations

import os
import tarfile
import zipfile
from pathlib import Path
from typing import Callable

from ..core.io import ChecksumError, DownloadError

__all__ = ["DownloadError", "ChecksumError", "extract"]


def extract(archive: str | os.PathLike, dest: str | os.PathLike,
            keep: Callable[[str], bool] = lambda name: True) -> list[str]:
    """Extract the members of a ``.zip``, ``.tar*`` or ``.7z`` archive whose name ``keep`` accepts.

    Members that would land outside ``dest`` (absolute paths, ``..``) are refused;
    ``.7z`` needs the optional package ``py7zr``.

    Returns
    -------
    list of str
        Names of the extracted members.
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    name = archive.name.lower()
    if name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.namelist() if keep(m) and not m.endswith("/")]
            for member in members:
                _check_inside(dest, member)
            zf.extractall(dest, members)
        return members
    if name.endswith(".7z"):
        try:
            import py7zr
        except ImportError as err:
            raise DownloadError(f"extracting {archive} needs the package py7zr (pip install py7zr, or the project's datasets extra), "
                                f"or extract it yourself with '7z x {archive.name}'") from err
        with py7zr.SevenZipFile(archive) as sz:
            members = [m for m in sz.getnames() if keep(m)]
            for member in members:
                _check_inside(dest, member)
            sz.extract(dest, targets=members)
        return members
    with tarfile.open(archive) as tf:
        members = [m for m in tf if m.isfile() and keep(m.name)]
        tf.extractall(dest, members=members, filter="data")
    return [m.name for m in members]


def _check_inside(dest: Path, member: str) -> None:
    target = (dest / member).resolve()
    if not target.is_relative_to(dest.resolve()):
        raise DownloadError(f"refusing to extract {member!r}: it would be written outside {dest}")
