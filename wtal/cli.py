"""The ``wtal`` command: a thin face over the libraries."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from wtal import __version__
from wtal.commands import (
    compare,
    convert,
    dataset_info,
    demo_videos,
    evaluate,
    extract,
    features,
    infer,
    localize,
    report,
    stages,
    synthetic,
    train,
)
from wtal.errors import WtalError

COMMANDS = (
    evaluate,
    convert,
    dataset_info,
    extract,
    features,
    synthetic,
    train,
    infer,
    compare,
    localize,
    demo_videos,
    stages,
    report,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wtal",
        description="Weakly-supervised temporal action localization (TSM + VLC) toolkit.",
    )
    parser.add_argument("--version", action="version", version=f"wtal {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except (WtalError, ValueError) as exc:
        print(f"wtal {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
