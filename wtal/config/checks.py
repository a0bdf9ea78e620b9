"""The dataset subsets a config names, checked before any work starts: each error names the
config key and the file, so that a run never fails after hours of training on something that
was knowable at the start."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from wtal.errors import InputFileError

if TYPE_CHECKING:
    from wtal.data.dataset import Dataset


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
