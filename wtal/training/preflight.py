"""Checks made before any work starts (devices are checked by wtal.utils.devices): an output
that can be a folder, counts that make sense, the dataset subsets a command will need. Each
error names the option or the file at fault, so that a run never fails after hours of
training on something that was knowable at the start."""

from __future__ import annotations

import os
from pathlib import Path

from wtal.data.dataset import Dataset
from wtal.errors import InputFileError


def check_output_folder(path: str | os.PathLike[str], option: str = "--output") -> Path:
    """``path`` if it is a folder or does not exist yet; an existing file is refused."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise InputFileError(out, f"{option} must be a folder, and this is a file")
    return out


def check_at_least(value: int | None, minimum: int, option: str) -> None:
    """Refuse ``option`` when given with a value below ``minimum``."""
    if value is not None and value < minimum:
        raise ValueError(f"{option} {value}: must be {minimum} or more")


def check_subset(
    dataset: Dataset, name: str, key: str, source: str | os.PathLike[str], why: str
) -> Dataset:
    """The subset ``name`` of ``dataset`` (named by config key ``key`` in ``source``; either
    spelling, ``wtal.data.subsets``), which must exist and have at least one video with
    features; ``why`` says who needs it."""
    if not dataset.has_subset(name):
        raise InputFileError(
            source,
            f"{key} {name!r}: dataset {dataset.name!r} has no such subset (it has "
            f"{', '.join(dataset.subsets) or 'none'}); {why} needs it",
        )
    subset = dataset.subset(name)
    if not any(v.features is not None and len(v.features) for v in subset.videos):
        raise InputFileError(
            source,
            f"{key} {name!r}: none of its {len(subset.videos)} videos has features "
            f"(is dataset.features set?); {why} needs them",
        )
    return subset


def check_annotated(
    split: Dataset, name: str, key: str, source: str | os.PathLike[str], why: str
) -> None:
    """Refuse a split without ground-truth instances: its mAP would be undefined."""
    if not any(len(v.segments) for v in split.videos):
        raise InputFileError(
            source,
            f"{key} {name!r}: none of its {len(split.videos)} videos has annotated instances, "
            f"so its mAP is undefined; {why} needs them",
        )
