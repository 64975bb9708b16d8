"""Writing files so that nothing half-written is ever left behind.

Every file the package writes (images, masks, anomaly maps, tables, figures, caches)
goes through :func:`atomic_path`: the writer fills a temporary file in the target's
folder, which then replaces the target in one ``os.replace``. An interrupted or
failing write leaves the previous file (or none) and no temporary file.

Progress bars go through :func:`progress_bar`, which the environment variable
``FCA_PROGRESS=0`` silences everywhere (``python -m fca_utils.reproduce`` sets it for the
notebook kernels it starts, so executed notebooks keep no frozen bars).

Downloads (the paper's datasets, the ImageNet weights of the torchvision networks)
go through :func:`download`, which writes the same way and checks the SHA-256 of
the result before it takes the target's place.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_path", "write_text", "PROGRESS_ENV", "progress_enabled", "progress_bar", "DownloadError", "ChecksumError", "download", "sha256sum", "verify_sha256"]


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write ``path``'s content to; move it into place on success.

    The temporary file sits in the same folder (created if missing) and keeps the
    target's suffix, so writers that pick a format from the suffix (PIL, tifffile,
    matplotlib, pandas) work unchanged. The result gets the usual 0644 mode, or the
    replaced file's mode.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
    ('done', ['a.txt'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


#: Environment variable that turns every progress bar of the package off when set to ``0``
#: (also ``false``, ``no``, ``off``).
PROGRESS_ENV = "FCA_PROGRESS"


def progress_enabled() -> bool:
    """False when :data:`PROGRESS_ENV` says ``0`` / ``false`` / ``no`` / ``off``, True otherwise.

    >>> import os
    >>> os.environ[PROGRESS_ENV] = "0"; progress_enabled()
    False
    >>> del os.environ[PROGRESS_ENV]; progress_enabled()
    True
    """
    return os.environ.get(PROGRESS_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def progress_bar(iterable=None, *, enabled: bool = True, **kwargs):
    """A ``tqdm.auto`` progress bar (a widget in Jupyter, text on a terminal), or a silent one.

    The bar is shown when ``enabled`` and :func:`progress_enabled`; otherwise tqdm runs
    with ``disable=True`` (it still iterates and counts, printing nothing). A bar shown in
    a notebook becomes a frozen output once the notebook is saved, which is why
    headless runs set ``FCA_PROGRESS=0``. ``kwargs`` go to ``tqdm`` (``total``, ``desc``,
    ``unit``, ``leave``, ...).

    >>> import os
    >>> os.environ[PROGRESS_ENV] = "0"
    >>> bar = progress_bar(range(3), desc="x"); bar.disable, list(bar)
    (True, [0, 1, 2])
    >>> del os.environ[PROGRESS_ENV]
    """
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=not (enabled and progress_enabled()), **kwargs)


class DownloadError(RuntimeError):
    """A download failed: the server could not be reached, answered with an error, or the transfer broke off."""


class ChecksumError(DownloadError):
    """A file's SHA-256 differs from the published one."""


def sha256sum(path: str | os.PathLike, progress: bool = False) -> str:
    """SHA-256 (hex) of a file, read in 1 MiB chunks."""
    path = Path(path)
    digest = hashlib.sha256()
    with open(path, "rb") as handle, progress_bar(total=path.stat().st_size, unit="B", unit_scale=True,
                                                  desc=f"SHA-256 {path.name}", enabled=progress) as bar:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def verify_sha256(path: str | os.PathLike, expected: str, progress: bool = False) -> None:
    """Raise :class:`ChecksumError` naming the file unless its SHA-256 is ``expected``."""
    actual = sha256sum(path, progress)
    if actual != expected.lower():
        raise ChecksumError(f"SHA-256 of {path} is {actual}, expected {expected}: the file is corrupt or "
                            f"a different release; delete it and download again")


def _reason(err: Exception) -> str:
    """What went wrong, in one line, without urllib's wrapping."""
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        return str(err.reason)
    return f"{type(err).__name__}: {err}"


def _unreachable_reason(url: str, timeout: float) -> str | None:
    """``None`` when the server of ``url`` answers within ``timeout`` seconds, otherwise why not.

    Any HTTP status counts as an answer (the transfer itself then reports it). The
    ``HEAD`` request runs in a daemon thread, so that a name lookup that hangs, which
    urllib's own timeout does not cover, cannot block the caller either.
    """
    result = []

    def attempt():
        try:
            request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "fca_utils"})
            urllib.request.urlopen(request, timeout=timeout).close()
            result.append(None)
        except urllib.error.HTTPError:
            result.append(None)
        except (OSError, http.client.HTTPException, ValueError) as err:
            result.append(_reason(err))

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout)
    return result[0] if result else f"no answer within {timeout:g} s"


def download(url: str, dest: str | os.PathLike, sha256: str | None = None, progress: bool = True, *,
             hash_prefix: str | None = None, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` with :func:`torch.hub.download_url_to_file`, then check its SHA-256.

    The server is first given ``timeout`` seconds to answer, so that a machine without
    network gives up quickly; the transfer itself then has no time limit. The data go
    to a temporary file next to ``dest`` (:func:`atomic_path`), which replaces ``dest``
    only once complete and verified: a failed, interrupted or corrupt download leaves
    no file behind (and an older ``dest`` unchanged). An interrupted download starts
    again from the beginning.

    Parameters
    ----------
    url : str
        ``https://``, ``http://`` or ``file://`` URL.
    dest : path
        Final file name.
    sha256 : str, optional
        Expected SHA-256 (hex) of the whole file.
    progress : bool
        Show progress bars (download and checksum) on stderr.
    hash_prefix : str, optional
        Expected first hex digits of the SHA-256, as in torchvision's weight file names
        ``<name>-<hash prefix>.pth``.
    timeout : float
        Seconds the server gets to answer the first request.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    DownloadError
        The server is unreachable, answered with an HTTP error, or the transfer broke
        off; the message names the URL and the reason.
    ChecksumError
        The downloaded file does not have the expected SHA-256 (it is deleted).
    """
    from torch.hub import download_url_to_file

    dest = Path(dest)
    reason = _unreachable_reason(url, timeout)
    if reason is not None:
        raise DownloadError(f"cannot download {url}: {reason}")
    with atomic_path(dest) as tmp:
        try:
            download_url_to_file(url, str(tmp), progress=progress)
        except (OSError, http.client.HTTPException, ValueError) as err:
            raise DownloadError(f"downloading {url} failed: {_reason(err)}; run again to retry") from err
        if sha256 is not None or hash_prefix is not None:
            actual = sha256sum(tmp, progress)
            if sha256 is not None and actual != sha256.lower():
                expected = sha256
            elif hash_prefix is not None and not actual.startswith(hash_prefix.lower()):
                expected = f"{hash_prefix}... (the hash prefix in the file name)"
            else:
                expected = None
            if expected is not None:
                raise ChecksumError(f"SHA-256 of {url} is {actual}, expected {expected}: the download is corrupt "
                                    f"or a different release, so it was deleted instead of saved as {dest}")
    return dest
