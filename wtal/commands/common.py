"""What the commands share: the arguments of those that read a dataset, and the checks of
command-line options made before any work starts (each error names the option)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from wtal.errors import InputFileError, UsageError

if TYPE_CHECKING:  # the readers load with the command, not with `wtal --help`
    from wtal.data.dataset import Dataset


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "annotations", metavar="ANNOTATIONS", help="W-TALC annotation folder or ActivityNet JSON"
    )
    parser.add_argument(
        "--format",
        choices=["wtalc", "activitynet", "actionformer"],
        default="wtalc",
        help="wtalc: W-TALC/CO2-Net .npy folder (default); activitynet: annotation JSON; "
        "actionformer: ActionFormer's THUMOS14 release (thumos14.json + <video>.npy)",
    )
    parser.add_argument(
        "--features",
        metavar="PATH",
        help="joint features .npy (wtalc) or per-video features folder (activitynet)",
    )
    parser.add_argument(
        "--ambiguous",
        metavar="FILE",
        help="ambiguous intervals (default: Ambiguous_test.txt in a W-TALC folder, if present)",
    )
    parser.add_argument("--name", help="dataset name (default: from the path)")


def dataset_from_arguments(args: argparse.Namespace, with_features: bool) -> Dataset:
    from wtal.data.open import open_dataset

    spec = {
        "format": args.format,
        "annotations": args.annotations,
        "features": args.features,
        "ambiguous": args.ambiguous,
        "name": args.name,
    }
    return open_dataset(spec, with_features=with_features)


def check_output_folder(path: str | os.PathLike[str], option: str = "--output") -> Path:
    """``path`` if it is a folder or does not exist yet; an existing file is refused."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise InputFileError(out, f"{option} must be a folder, and this is a file")
    return out


def check_at_least(value: int | None, minimum: int, option: str) -> None:
    """Refuse ``option`` when given with a value below ``minimum``."""
    if value is not None and value < minimum:
        raise UsageError(f"{option} {value}: must be {minimum} or more")
