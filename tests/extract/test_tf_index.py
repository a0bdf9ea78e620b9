"""The TensorFlow checkpoint index reader, on DeepMind's four I3D ``.index`` files."""

from __future__ import annotations

import itertools
import math
import shutil
from pathlib import Path

import pytest

from tests.extract.kinetics import CHECKPOINTS, require_kinetics
from tests.extract.tf_index import (
    IndexFormatError,
    bundle_header,
    mask_crc,
    read_index,
    snappy_decompress,
    unmask_crc,
)


@pytest.fixture(scope="module")
def kinetics_i3d() -> Path:
    return require_kinetics()


def tf_trainable(entries) -> int:
    """Number of trainable values (moving statistics are not trainable)."""
    return sum(
        math.prod(e.shape)
        for name, e in entries.items()
        if not name.endswith(("moving_mean", "moving_variance"))
    )


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_all_four_indexes(kinetics_i3d, name):
    path = kinetics_i3d / f"{name}.ckpt.index"
    entries = read_index(path)
    assert bundle_header(path) == {"num_shards": 1, "endianness": 0, "version_producer": 1}
    # 57 BN units (beta, moving mean, moving variance) + 57 conv kernels + the logits w and b
    assert len(entries) == 230
    prefix = "RGB" if name.startswith("rgb") else "Flow"
    assert all(key.startswith(f"{prefix}/inception_i3d/") for key in entries)
    channels = 3 if prefix == "RGB" else 2
    first = entries[f"{prefix}/inception_i3d/Conv3d_1a_7x7/conv_3d/w"]
    assert first.shape == (7, 7, 7, channels, 64)
    assert first.dtype == "float32" and first.size == 7 * 7 * 7 * channels * 64 * 4
    logits = f"{prefix}/inception_i3d/Logits/Conv3d_0c_1x1/conv_3d/"
    assert entries[logits + "w"].shape == (1, 1, 1, 1024, 400)
    assert entries[logits + "b"].shape == (400,)
    beta = entries[f"{prefix}/inception_i3d/Mixed_4f/Branch_1/Conv3d_0b_3x3/batch_norm/beta"]
    assert beta.shape == (320,)
    # DeepMind's name typo survives in the checkpoints
    assert f"{prefix}/inception_i3d/Mixed_5b/Branch_2/Conv3d_0a_3x3/conv_3d/w" in entries
    assert tf_trainable(entries) == (12_689_984 if prefix == "RGB" else 12_668_032)
    # tensors are laid end to end in the single data shard
    spans = sorted((e.offset, e.size) for e in entries.values())
    assert spans[0][0] == 0
    assert all(a + n == b for (a, n), (b, _) in itertools.pairwise(spans))
    assert all(e.shard_id == 0 and e.size == 4 * math.prod(e.shape) for e in entries.values())


def test_scratch_and_imagenet_checkpoints_differ(kinetics_i3d):
    scratch = read_index(kinetics_i3d / "rgb_scratch.ckpt.index")
    imagenet = read_index(kinetics_i3d / "rgb_imagenet.ckpt.index")
    assert scratch.keys() == imagenet.keys()
    assert all(scratch[k].shape == imagenet[k].shape for k in scratch)
    assert sum(scratch[k].crc32c == imagenet[k].crc32c for k in scratch) == 0


def test_corrupt_index_is_refused(kinetics_i3d, tmp_path):
    copy = tmp_path / "corrupt.index"
    shutil.copyfile(kinetics_i3d / "rgb_scratch.ckpt.index", copy)
    data = bytearray(copy.read_bytes())
    data[100] ^= 0x01  # inside the data block
    copy.write_bytes(bytes(data))
    with pytest.raises(IndexFormatError, match="CRC32C"):
        read_index(copy)
    copy.write_bytes(bytes(data[:-1]))
    with pytest.raises(IndexFormatError, match="magic"):
        read_index(copy)
    (tmp_path / "short").write_bytes(b"abc")
    with pytest.raises(IndexFormatError, match="too short"):
        read_index(tmp_path / "short")


def test_crc_mask_roundtrip():
    for crc in (0, 1, 0xFFFFFFFF, 0xB59B4CCD, 0x12345678):
        assert unmask_crc(mask_crc(crc)) == crc
        assert mask_crc(crc) != crc
    assert mask_crc(0) == 0xA282EAD8


def test_snappy_decompress_literals_and_overlapping_copies():
    # "abc" literal, then a 1-byte-offset copy of 9 bytes from 3 back (overlapping)
    block = bytes([12, (3 - 1) << 2]) + b"abc" + bytes([((9 - 4) << 2) | 1, 3])
    assert snappy_decompress(block) == b"abcabcabcabc"
    # 2-byte-offset copy (tag kind 2) of 4 bytes from 5 back
    block = bytes([9, (5 - 1) << 2]) + b"hello" + bytes([((4 - 1) << 2) | 2, 5, 0])
    assert snappy_decompress(block) == b"hellohell"
    with pytest.raises(IndexFormatError):
        snappy_decompress(bytes([5, (3 - 1) << 2]) + b"abc")  # wrong length
