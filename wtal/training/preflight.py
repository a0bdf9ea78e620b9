"""Checks made before any work starts: a device that exists, an output that can be a folder,
counts that make sense, the dataset subsets a command will need. Each error names the option
or the file at fault, so that a run never fails after hours of training on something that
was knowable at the start."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from wtal.data.dataset import Dataset
from wtal.errors import InputFileError

DEVICES = "auto, cpu, cuda, cuda:N or mps"


def resolve_device(name: str, source: str = "training.device") -> torch.device:
    """The torch device ``name`` means (``auto``: CUDA when present), refused with ``source``
    named when it is not a device or this PyTorch and machine cannot run on it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError, TypeError):
        raise ValueError(f"{source} {name}: not a device (expected {DEVICES})") from None
    if device.type == "cuda":
        _check_cuda(device, name, source)
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{source} {name}: MPS is not available here; use cpu or auto")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"{source} {name}: wtal runs on {DEVICES}, not on {device.type}")
    return device


def _check_cuda(device: torch.device, name: str, source: str) -> None:
    if torch.version.cuda is None:
        raise ValueError(
            f"{source} {name}: this PyTorch ({torch.__version__}) is built without CUDA; "
            "use cpu or auto"
        )
    if not torch.cuda.is_available():
        raise ValueError(f"{source} {name}: no CUDA device is visible; use cpu or auto")
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise ValueError(
            f"{source} {name}: there {'is' if count == 1 else 'are'} only {count} CUDA "
            f"device{'' if count == 1 else 's'} (cuda:0 to cuda:{count - 1})"
        )


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
    """The subset ``name`` of ``dataset`` (named by config key ``key`` in ``source``), which
    must exist and have at least one video with features; ``why`` says who needs it."""
    if name not in dataset.subsets:
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
