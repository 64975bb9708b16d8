"""Resumable downloads with a progress bar, checksums, and safe archive extraction.

A download goes to ``<dest>.part`` and is renamed to ``dest`` only once complete
(and, if a SHA-256 is known, verified). An interrupted download resumes where it
stopped with an HTTP ``Range`` request; a server that ignores the range restarts it.
"""
from __future__ import annotations

import hashlib
import os
import tarfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable

__all__ = ["DownloadError", "ChecksumError", "sha256sum", "verify_sha256", "download", "extract", "urlopen"]

urlopen = urllib.request.urlopen  # module attribute, so tests can replace the network
_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A download failed (network, HTTP status, or an incomplete transfer)."""


class ChecksumError(DownloadError):
    """A file's SHA-256 differs from the published one."""


def sha256sum(path: str | os.PathLike, progress: bool = False) -> str:
    """SHA-256 (hex) of a file, read in 1 MiB chunks."""
    from tqdm.auto import tqdm

    path = Path(path)
    digest = hashlib.sha256()
    with open(path, "rb") as handle, tqdm(total=path.stat().st_size, unit="B", unit_scale=True,
                                          desc=f"SHA-256 {path.name}", disable=not progress) as bar:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str, progress: bool = False) -> None:
    """Raise :class:`ChecksumError` naming the file unless its SHA-256 is ``expected``."""
    actual = sha256sum(path, progress)
    if actual != expected.lower():
        raise ChecksumError(f"SHA-256 of {path} is {actual}, expected {expected}: the file is corrupt or "
                            f"a different release; delete it and download again")


def download(url: str, dest: str | os.PathLike, sha256: str | None = None, progress: bool = True,
             timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest``, resuming a previous partial download.

    Parameters
    ----------
    url : str
    dest : path
        Final file name; data is written to ``dest + ".part"`` until complete.
    sha256 : str, optional
        Expected SHA-256; on mismatch the partial file is deleted.
    progress : bool
        Show a tqdm progress bar.
    timeout : float
        Seconds to wait for the server.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    DownloadError
        Network or HTTP failure, or fewer bytes than announced.
    ChecksumError
        The completed file does not have the expected SHA-256.
    """
    from tqdm.auto import tqdm

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "fca_utils"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        response = urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code != 416 or not have:  # 416: nothing left to fetch, the .part is complete
            raise DownloadError(f"downloading {url} failed: HTTP {err.code} {err.reason}") from err
        response = None
    except (urllib.error.URLError, OSError) as err:
        raise DownloadError(f"downloading {url} failed: {getattr(err, 'reason', err)}") from err
    if response is not None:
        with response:
            resumed = have > 0 and getattr(response, "status", 200) == 206
            if not resumed:
                have = 0
            length = response.headers.get("Content-Length")
            total = have + int(length) if length is not None else None
            with open(part, "ab" if resumed else "wb") as out, tqdm(
                    total=total, initial=have, unit="B", unit_scale=True, desc=dest.name,
                    disable=not progress) as bar:
                try:
                    for chunk in iter(lambda: response.read(_CHUNK), b""):
                        out.write(chunk)
                        bar.update(len(chunk))
                except OSError as err:
                    raise DownloadError(f"downloading {url} was interrupted ({err}); run again to resume") from err
        if total is not None and part.stat().st_size != total:
            raise DownloadError(f"downloading {url} stopped at {part.stat().st_size} of {total} bytes; "
                                f"run again to resume")
    if sha256 is not None:
        try:
            verify_sha256(part, sha256, progress)
        except ChecksumError:
            part.unlink()
            raise
    os.replace(part, dest)
    return dest


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
