"""Command line of the data layer: ``python -m fca_utils.datasets prepare|verify|info NAME``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .catalog import DATASETS, default_root
from .dataset import NAMES, verify
from .download import DownloadError
from .layout import DatasetLayoutError
from .prepare import ManualDownloadRequired, prepare


def _print_info(name: str) -> None:
    info = DATASETS[name]
    print(f"{name}: {info['title']}")
    for key in ("homepage", "licence", "citation"):
        if key in info:
            print(f"  {key}: {info[key]}")
    for key, proto in info["protocols"].items():
        print(f"  protocol {key}: image_size={proto.image_size}, T={proto.patch_size or 'from feature size'}, "
              f"border={proto.border}, preset={proto.preset} ({proto.source})")
    for archive in info.get("archives", []):
        digest = f"{archive['sha256']} ({archive['sha256_source']})" if archive["sha256"] else archive["sha256_source"]
        print(f"  archive {archive['filename']}: {archive['url']}\n    SHA-256: {digest}; size: {archive['size']}")
    print(f"  default root: {default_root(name)}")


def main(argv: list[str] | None = None) -> int:
    """Command line: ``prepare``, ``verify`` and ``info`` (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m fca_utils.datasets",
                                     description="Prepare and check the datasets of the FCA paper.")
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="download (where possible), verify and prepare a dataset")
    check = sub.add_parser("verify", help="check a prepared dataset")
    info = sub.add_parser("info", help="where a dataset comes from, its licence and protocol")
    for p in (prep, check, info):
        p.add_argument("name", choices=NAMES)
    for p in (prep, check):
        p.add_argument("--root", type=Path, default=None, help="dataset folder (default: data/datasets/NAME)")
    prep.add_argument("--source", type=Path, default=None,
                      help="an archive you downloaded, or the folder you extracted it to")
    prep.add_argument("--cache", type=Path, default=None, help="where archives are kept (default: data/cache/downloads)")
    prep.add_argument("--no-download", action="store_true", help="never download; print what to fetch instead")
    prep.add_argument("--force", action="store_true", help="prepare again even if the folder checks out")
    prep.add_argument("--ignore-checksum", action="store_true",
                      help="accept an archive whose SHA-256 differs from the published one")
    args = parser.parse_args(argv)
    if args.command == "info":
        _print_info(args.name)
        return 0
    try:
        if args.command == "verify":
            root = args.root or default_root(args.name)
            counts = {cls: len(e) for cls, e in verify(args.name, root).items()}
            print(f"{args.name} at {root} is complete: {counts}")
            return 0
        prepare(args.name, root=args.root, source=args.source, cache=args.cache, download=not args.no_download,
                force=args.force, ignore_checksum=args.ignore_checksum)
    except ManualDownloadRequired as err:
        print(err)
        return 2
    except (DatasetLayoutError, DownloadError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
