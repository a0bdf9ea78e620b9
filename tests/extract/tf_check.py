"""The converted I3D weights checked against DeepMind's TensorFlow checkpoint index, tensor by
tensor (a test helper: the package itself never reads a TF checkpoint).

CRC convention (checked on all 230 tensors of ``rgb_scratch.ckpt.index``): a
``BundleEntryProto.crc32c`` is the *masked* CRC32C of the tensor's bytes (LevelDB mask:
``((crc >> 15) | (crc << 17)) + 0xa282ead8`` mod 2**32), not the raw one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import crc32c as _crc32c
import numpy as np
import torch

from extract.weights import WeightsError, scope_to_module
from tests.extract.tf_index import IndexEntry, mask_crc, read_index

# Index entries that are not network weights (TF checkpoints may carry them).
_NON_WEIGHT = {"global_step"}


def tf_name_to_key(name: str) -> tuple[str, str] | None:
    """DeepMind TF variable name -> (state-dict key, kind) with kind in ``conv``, ``vector``;
    ``None`` for names that are not I3D weights. Example:
    ``RGB/inception_i3d/Mixed_3b/Branch_1/Conv3d_0b_3x3/conv_3d/w``
    -> ``Mixed_3b.b1b.conv3d.weight``.
    """
    if "inception_i3d/" not in name:
        return None
    parts = name.split("inception_i3d/", 1)[1].split("/")
    leaves = {
        ("conv_3d", "w"): ("conv3d.weight", "conv"),
        ("conv_3d", "b"): ("conv3d.bias", "vector"),
        ("batch_norm", "beta"): ("bn.bias", "vector"),
        ("batch_norm", "moving_mean"): ("bn.running_mean", "vector"),
        ("batch_norm", "moving_variance"): ("bn.running_var", "vector"),
    }
    if len(parts) < 3 or (parts[-2], parts[-1]) not in leaves:
        return None
    try:
        module = scope_to_module("/".join(parts[:-2]))
    except WeightsError:
        return None
    leaf, kind = leaves[parts[-2], parts[-1]]
    return f"{module}.{leaf}", kind


def tf_bytes(tensor: torch.Tensor, kind: str) -> bytes:
    """A tensor's bytes as TF stores them: float32, C order, conv kernels (T, H, W, Cin, Cout)."""
    value = tensor.detach().to(torch.float32)
    if kind == "conv":
        value = value.permute(2, 3, 4, 1, 0)
    return value.contiguous().numpy().tobytes()


@dataclass
class IndexVerification:
    """Outcome of ``verify_against_index``."""

    index_path: str
    matched: list[str] = field(default_factory=list)  # CRC32C, shape and size equal
    mismatched: list[tuple[str, str]] = field(default_factory=list)  # (TF name, why)
    missing: list[str] = field(default_factory=list)  # index tensors absent from the state dict
    extra: list[str] = field(default_factory=list)  # state-dict tensors the index lacks
    ignored: list[str] = field(default_factory=list)  # non-weight index entries
    raw_crc_matches: int = 0  # how many stored CRCs equal the *unmasked* CRC32C (expected 0)

    @property
    def ok(self) -> bool:
        return bool(self.matched) and not (self.mismatched or self.missing or self.extra)

    def summary(self) -> str:
        head = "OK" if self.ok else "FAILED"
        return (
            f"{head}: {self.index_path}: {len(self.matched)} matched, "
            f"{len(self.mismatched)} mismatched, {len(self.missing)} missing, "
            f"{len(self.extra)} extra, {len(self.ignored)} ignored"
        )


def _check_entry(tensor: torch.Tensor, kind: str, entry: IndexEntry) -> tuple[str | None, bool]:
    """(reason for a mismatch or None, whether the stored CRC equals the raw CRC32C)."""
    data = tf_bytes(tensor, kind)
    raw = _crc32c.crc32c(data)
    shape = tuple(tensor.shape)
    if kind == "conv":
        shape = (shape[2], shape[3], shape[4], shape[1], shape[0])
    if entry.dtype != "float32":
        return f"index dtype {entry.dtype}", False
    if int(np.prod(entry.shape)) != int(np.prod(shape)) or len(data) != entry.size:
        return f"shape {shape} vs index {entry.shape}", False
    if mask_crc(raw) != entry.crc32c:
        return f"CRC32C {mask_crc(raw):#010x} (masked) vs index {entry.crc32c:#010x}", False
    return None, raw == entry.crc32c


def verify_against_index(
    state: Mapping[str, torch.Tensor], index_path: str | os.PathLike[str]
) -> IndexVerification:
    """Compare every weight tensor with DeepMind's checkpoint index by CRC32C.

    Each index tensor must have its counterpart in ``state`` (same size, masked CRC32C of its
    TF-layout bytes equal to the stored one); every state tensor except BN scales that are
    exactly 1 (DeepMind's BN has no scale) and ``num_batches_tracked`` counters must be covered.
    A BN scale other than 1 counts as extra."""
    report = IndexVerification(str(index_path))
    covered: set[str] = set()
    for name, entry in read_index(index_path).items():
        if name.rsplit("/", 1)[-1] in _NON_WEIGHT:
            report.ignored.append(name)
            continue
        mapped = tf_name_to_key(name)
        if mapped is None or mapped[0] not in state:
            report.missing.append(name)
            continue
        key, kind = mapped
        covered.add(key)
        reason, raw_equal = _check_entry(state[key], kind, entry)
        report.raw_crc_matches += int(raw_equal)
        if reason is None:
            report.matched.append(name)
        else:
            report.mismatched.append((name, reason))
    for key, value in state.items():
        if key in covered or key.endswith("num_batches_tracked"):
            continue
        if key.endswith("bn.weight") and bool((value == 1).all()):
            continue
        report.extra.append(key)
    return report
