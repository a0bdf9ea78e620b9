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
from wtal.errors import Interrupted, WtalError

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


def describe_os_error(exc: OSError) -> str:
    """``<file>: <problem>`` for an operating-system error (disk full, read-only, a folder
    where a file was expected, no permission), without Python's ``[Errno N]`` prefix."""
    problem = (exc.strerror or str(exc)).lower()
    if exc.filename is None:
        return problem
    other = f" -> {exc.filename2}" if exc.filename2 else ""
    return f"{exc.filename}{other}: {problem}"


#: Exit status of a command stopped by Ctrl-C (128 + SIGINT), as shells and Snakemake expect.
INTERRUPTED_STATUS = 130


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    prefix = f"wtal {args.command}"
    try:
        return int(args.run(args) or 0)
    except Interrupted as exc:
        print(f"{prefix}: {exc}", file=sys.stderr)
        return INTERRUPTED_STATUS
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted; outputs already written are complete", file=sys.stderr)
        return INTERRUPTED_STATUS
    except (WtalError, ValueError) as exc:
        print(f"{prefix}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{prefix}: error: {describe_os_error(exc)}", file=sys.stderr)
        return 1
    except MemoryError as exc:
        asked = f" ({exc})" if str(exc) else ""
        print(f"{prefix}: error: out of memory{asked}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
