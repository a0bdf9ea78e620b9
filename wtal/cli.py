"""The ``wtal`` command: a thin face over the libraries."""

from __future__ import annotations

import argparse
import os
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

#: The environment variable that, set to anything but "" or "0", acts as ``--debug``.
DEBUG_ENV = "WTAL_DEBUG"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wtal",
        description="Weakly-supervised temporal action localization (TSM + VLC) toolkit.",
        epilog=(
            "Errors: a problem with what you gave (an option, a config value, a file) is one "
            "line and exit status 1; Ctrl-C is one line and exit status 130; anything else is a "
            "bug in wtal and shows Python's traceback."
        ),
    )
    parser.add_argument("--version", action="version", version=f"wtal {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help=(
            "show the full traceback of every error, the one-line ones included (also set by "
            f"the environment variable {DEBUG_ENV}=1); give it before the command: "
            "wtal --debug COMMAND ..."
        ),
    )
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


def debugging(args: argparse.Namespace) -> bool:
    """Whether ``--debug`` was given or :data:`DEBUG_ENV` is set (not empty, not 0)."""
    return bool(getattr(args, "debug", False)) or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` is a Ctrl-C or was raised while one was handled: its ``__cause__`` /
    ``__context__`` chain holds a KeyboardInterrupt (torch.save's zip writer raises a
    RuntimeError when a Ctrl-C stops it)."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, KeyboardInterrupt):
            return True
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]
    return False


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    if debugging(args):
        return int(args.run(args) or 0)  # every error raises, with its traceback
    prefix = f"wtal {args.command}"
    try:
        return int(args.run(args) or 0)
    except Interrupted as exc:
        print(f"{prefix}: {exc}", file=sys.stderr)
        return INTERRUPTED_STATUS
    except BaseException as exc:
        if interrupted(exc):  # a Ctrl-C, or an error it caused (a write cut short)
            print(f"{prefix}: interrupted; outputs already written are complete", file=sys.stderr)
            return INTERRUPTED_STATUS
        if isinstance(exc, WtalError):  # the user's input or environment: one line
            print(f"{prefix}: error: {exc}", file=sys.stderr)
            return 1
        if isinstance(exc, OSError):
            print(f"{prefix}: error: {describe_os_error(exc)}", file=sys.stderr)
            return 1
        if isinstance(exc, MemoryError):
            asked = f" ({exc})" if str(exc) else ""
            print(f"{prefix}: error: out of memory{asked}", file=sys.stderr)
            return 1
        if isinstance(exc, Exception):
            print(
                f"{prefix}: internal error (a bug in wtal); the traceback follows, please "
                "report it",
                file=sys.stderr,
            )
        raise  # a bug: Python prints the traceback (SystemExit and the like pass through)


if __name__ == "__main__":
    sys.exit(main())
