"""Torch devices by name, checked before any work: extraction, training and inference all
take ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` and refuse the others naming the
option or config key at fault."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from wtal.errors import UsageError

DEVICES = "auto, cpu, cuda, cuda:N or mps"


def resolve_device(name: str, source: str = "training.device") -> torch.device:
    """The torch device ``name`` means (``auto``: CUDA when present), refused with ``source``
    named when it is not a device or this PyTorch and machine cannot run on it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError, TypeError):
        raise UsageError(f"{source} {name}: not a device (expected {DEVICES})") from None
    if device.type == "cuda":
        _check_cuda(device, name, source)
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise UsageError(f"{source} {name}: MPS is not available here; use cpu or auto")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise UsageError(f"{source} {name}: wtal runs on {DEVICES}, not on {device.type}")
    return device


def _check_cuda(device: torch.device, name: str, source: str) -> None:
    if torch.version.cuda is None:
        raise UsageError(
            f"{source} {name}: this PyTorch ({torch.__version__}) is built without CUDA; "
            "use cpu or auto"
        )
    if not torch.cuda.is_available():
        raise UsageError(f"{source} {name}: no CUDA device is visible; use cpu or auto")
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise UsageError(
            f"{source} {name}: there {'is' if count == 1 else 'are'} only {count} CUDA "
            f"device{'' if count == 1 else 's'} (cuda:0 to cuda:{count - 1})"
        )


@contextlib.contextmanager
def tf32(enabled: bool) -> Iterator[None]:
    """TF32 matmuls and cuDNN convolutions on or off inside the block (cuDNN convolutions use
    TF32 by default on Ampere and later GPUs); the previous settings are restored after."""
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = matmul
        torch.backends.cudnn.allow_tf32 = cudnn
