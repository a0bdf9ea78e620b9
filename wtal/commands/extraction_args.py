"""Arguments shared by the commands that compute flow or features: where they run
(``--device``, ``--flow-backend``, ``--flow-batch``, ``--autocast``) and how many threads.
Names, choices, defaults and help come from :class:`extract.settings.ExtractionSettings`."""

from __future__ import annotations

import argparse
import os

from extract.settings import add_option
from wtal.errors import UsageError


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, as a SLURM or container limit
    sets it), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def add_workers_argument(parser: argparse._ActionsContainer) -> None:
    """``--workers``, by default the cores this process may use."""
    parser.add_argument(
        "--workers",
        type=int,
        default=available_cores(),
        help="OpenCV flow worker threads (default: the cores this process may use, "
        f"{available_cores()} here)",
    )


def add_backend_arguments(parser: argparse._ActionsContainer, *, device: bool = True) -> None:
    """``--flow-backend``, ``--device`` (unless the command has its own) and
    ``--flow-batch``."""
    add_option(parser, "flow_backend", "extract")
    if device:
        add_option(parser, "device", "extract")
    add_option(parser, "flow_batch", "extract")


def add_autocast_argument(parser: argparse._ActionsContainer) -> None:
    add_option(parser, "autocast", "extract")


def check_counts(args: argparse.Namespace) -> None:
    """Counts that must be positive, refused naming the option before any work."""
    options = {"workers": "--workers", "flow_batch": "--flow-batch", "batch_segments": "--batch"}
    for key, option in options.items():
        value = getattr(args, key, None)
        if value is not None and value < 1:
            raise UsageError(f"{option} must be at least 1, not {value}")
