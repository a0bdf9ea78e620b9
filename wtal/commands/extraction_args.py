"""Arguments shared by the commands that compute flow or features: where they run
(``--device``, ``--flow-backend``, ``--flow-batch``, ``--autocast``) and how many threads."""

from __future__ import annotations

import argparse
import os

from extract.presets import BACKENDS


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, as a SLURM or container limit
    sets it), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def add_backend_arguments(
    parser: argparse.ArgumentParser,
    *,
    backend_option: str = "--flow-backend",
    device: bool = True,
) -> None:
    """``--flow-backend`` (named ``backend_option``), ``--device`` (unless the command has its
    own) and ``--flow-batch``."""
    parser.add_argument(
        backend_option,
        dest="flow_backend",
        choices=BACKENDS,
        default="auto",
        help="TV-L1 implementation: opencv (CPU threads, the published protocol), torch (the "
        "same algorithm in PyTorch on --device) or auto (torch on CUDA, else opencv; default)",
    )
    if device:
        parser.add_argument(
            "--device",
            default="auto",
            help="torch device for I3D and the torch TV-L1: auto (CUDA when present; default), "
            "cpu, cuda, cuda:N",
        )
    parser.add_argument(
        "--flow-batch",
        type=int,
        default=16,
        metavar="N",
        help="frame pairs per batch of the torch TV-L1 (default 16)",
    )


def add_autocast_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--autocast",
        choices=["none", "bf16", "fp16"],
        default="none",
        help="run I3D under torch.autocast at this precision (default none: float32, the "
        "published protocol; bf16/fp16 are for GPUs, see README for their feature cosine)",
    )


def check_counts(args: argparse.Namespace) -> None:
    """Counts that must be positive, refused naming the option before any work."""
    for option in ("workers", "flow_batch", "batch"):
        value = getattr(args, option, None)
        if value is not None and value < 1:
            raise ValueError(f"--{option.replace('_', '-')} must be at least 1, not {value}")
