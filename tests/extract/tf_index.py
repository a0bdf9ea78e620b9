"""Reader for TensorFlow checkpoint ``.index`` files (tensor bundle index), without TensorFlow:
a test helper, for checking the converted I3D weights against DeepMind's checkpoints.

A ``.index`` file is a LevelDB-style SSTable: data blocks of prefix-compressed key/value
entries with restart points, an index block pointing at the data blocks, a metaindex block
(empty here) and a 48-byte footer holding the two block handles and a magic number. Every
block is followed by a 5-byte trailer: one compression-type byte (0 none, 1 snappy) and the
masked CRC32C of the block contents plus that byte.

The key ``""`` holds a ``BundleHeaderProto``; every other key is a tensor name whose value is
a ``BundleEntryProto`` (dtype, shape, shard_id, offset, size, crc32c). The ``crc32c`` stored
there is *masked* the LevelDB way (``mask_crc``); ``IndexEntry.crc32c`` keeps the stored
value and ``IndexEntry.raw_crc32c`` gives the CRC32C of the tensor bytes. Protobuf is decoded
by hand (varints and length-delimited fields only), so no protobuf dependency is needed.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

import crc32c as _crc32c

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48  # two block handles padded to 40 bytes, then the 8-byte magic
BLOCK_TRAILER_SIZE = 5
_MASK_DELTA = 0xA282EAD8

# tensorflow/core/framework/types.proto (the ones a checkpoint index can hold).
DTYPES = {
    1: "float32",
    2: "float64",
    3: "int32",
    4: "uint8",
    5: "int16",
    6: "int8",
    7: "string",
    8: "complex64",
    9: "int64",
    10: "bool",
    14: "bfloat16",
    17: "uint16",
    18: "complex128",
    19: "float16",
    22: "uint32",
    23: "uint64",
}


class IndexFormatError(ValueError):
    """The file is not a readable TensorFlow checkpoint index."""


@dataclass(frozen=True)
class IndexEntry:
    """One tensor of a checkpoint bundle, as its index describes it."""

    dtype: str
    shape: tuple[int, ...]
    offset: int
    size: int
    crc32c: int  # as stored: masked CRC32C of the tensor's bytes
    shard_id: int = 0

    @property
    def raw_crc32c(self) -> int:
        """The plain CRC32C of the tensor's bytes (the stored value unmasked)."""
        return unmask_crc(self.crc32c)


def mask_crc(crc: int) -> int:
    """LevelDB/TensorFlow CRC masking: rotate right by 15 bits and add a constant."""
    crc &= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def unmask_crc(masked: int) -> int:
    """Inverse of ``mask_crc``."""
    rot = (masked - _MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


def _varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    """Decode one base-128 varint at ``pos``; return (value, next position)."""
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise IndexFormatError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise IndexFormatError("varint longer than 10 bytes")


def _proto_fields(buf: bytes) -> list[tuple[int, int, int | bytes]]:
    """Split a protobuf message into (field number, wire type, value) triples."""
    fields: list[tuple[int, int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        value: int | bytes
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value = struct.unpack_from("<Q", buf, pos)[0]
            pos += 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value = bytes(buf[pos : pos + length])
            if len(value) != length:
                raise IndexFormatError("truncated length-delimited field")
            pos += length
        elif wire == 5:
            value = struct.unpack_from("<I", buf, pos)[0]
            pos += 4
        else:
            raise IndexFormatError(f"unsupported protobuf wire type {wire}")
        fields.append((number, wire, value))
    return fields


def _parse_shape(buf: bytes) -> tuple[int, ...]:
    """TensorShapeProto: repeated Dim dim = 2 (Dim: int64 size = 1); unknown_rank = 3."""
    dims: list[int] = []
    for number, _, value in _proto_fields(buf):
        if number == 2:
            size = 0
            for dnum, _, dval in _proto_fields(value):  # type: ignore[arg-type]
                if dnum == 1:
                    size = int(dval)  # type: ignore[arg-type]
                    if size >= 1 << 63:
                        size -= 1 << 64  # -1 = unknown
            dims.append(size)
        elif number == 3 and value:
            raise IndexFormatError("tensor of unknown rank in checkpoint index")
    return tuple(dims)


def parse_bundle_entry(buf: bytes) -> IndexEntry:
    """Decode a ``BundleEntryProto``."""
    dtype_code, shape, shard, offset, size, crc = 0, (), 0, 0, 0, 0
    for number, _, value in _proto_fields(buf):
        if number == 1:
            dtype_code = int(value)  # type: ignore[arg-type]
        elif number == 2:
            shape = _parse_shape(value)  # type: ignore[arg-type]
        elif number == 3:
            shard = int(value)  # type: ignore[arg-type]
        elif number == 4:
            offset = int(value)  # type: ignore[arg-type]
        elif number == 5:
            size = int(value)  # type: ignore[arg-type]
        elif number == 6:
            crc = int(value)  # type: ignore[arg-type]
        elif number == 7:
            raise IndexFormatError("sliced (partitioned) tensors are not supported")
    dtype = DTYPES.get(dtype_code, f"dtype{dtype_code}")
    return IndexEntry(dtype, shape, offset, size, crc, shard)


def snappy_decompress(data: bytes) -> bytes:
    """Decompress a raw snappy block (the format LevelDB uses for compressed blocks)."""
    length, pos = _varint(data, 0)
    out = bytearray()
    while pos < len(data):
        tag = data[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:  # literal
            n = tag >> 2
            if n >= 60:
                extra = n - 59
                n = int.from_bytes(data[pos : pos + extra], "little")
                pos += extra
            n += 1
            out += data[pos : pos + n]
            pos += n
            continue
        if kind == 1:
            n = ((tag >> 2) & 7) + 4
            offset = ((tag >> 5) << 8) | data[pos]
            pos += 1
        elif kind == 2:
            n = (tag >> 2) + 1
            offset = int.from_bytes(data[pos : pos + 2], "little")
            pos += 2
        else:
            n = (tag >> 2) + 1
            offset = int.from_bytes(data[pos : pos + 4], "little")
            pos += 4
        if offset == 0 or offset > len(out):
            raise IndexFormatError("corrupt snappy block (bad copy offset)")
        for _ in range(n):  # byte by byte: copies may overlap their own output
            out.append(out[-offset])
    if len(out) != length:
        raise IndexFormatError(f"corrupt snappy block ({len(out)} bytes, expected {length})")
    return bytes(out)


def _read_block(data: bytes, offset: int, size: int, name: str) -> bytes:
    """Read, check (CRC) and if needed decompress the block at ``offset``."""
    end = offset + size
    if end + BLOCK_TRAILER_SIZE > len(data):
        raise IndexFormatError(f"{name}: block [{offset}, {end}) runs past the end of the file")
    contents = data[offset:end]
    kind = data[end]
    stored = struct.unpack_from("<I", data, end + 1)[0]
    actual = mask_crc(_crc32c.crc32c(contents + bytes([kind])))
    if stored != actual:
        raise IndexFormatError(f"{name}: block at {offset} fails its CRC32C check")
    if kind == 0:
        return contents
    if kind == 1:
        return snappy_decompress(contents)
    raise IndexFormatError(f"{name}: unknown block compression type {kind}")


def _block_entries(block: bytes, name: str) -> list[tuple[bytes, bytes]]:
    """All (key, value) pairs of a block, keys rebuilt from their shared prefixes."""
    if len(block) < 4:
        raise IndexFormatError(f"{name}: block too short")
    num_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    limit = len(block) - 4 - 4 * num_restarts
    if limit < 0:
        raise IndexFormatError(f"{name}: bad restart count {num_restarts}")
    entries: list[tuple[bytes, bytes]] = []
    key = b""
    pos = 0
    while pos < limit:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
        if shared > len(key) or pos + unshared + value_len > limit:
            raise IndexFormatError(f"{name}: corrupt block entry at {pos}")
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        entries.append((key, block[pos : pos + value_len]))
        pos += value_len
    return entries


def _handle(buf: bytes, pos: int) -> tuple[int, int, int]:
    offset, pos = _varint(buf, pos)
    size, pos = _varint(buf, pos)
    return offset, size, pos


def read_index_raw(path: str | os.PathLike[str]) -> dict[bytes, bytes]:
    """All key/value pairs of an SSTable file, in key order."""
    name = os.fspath(path)
    with open(path, "rb") as handle:
        data = handle.read()
    if len(data) < FOOTER_SIZE:
        raise IndexFormatError(f"{name}: too short to be a checkpoint index")
    footer = data[-FOOTER_SIZE:]
    magic = struct.unpack_from("<Q", footer, FOOTER_SIZE - 8)[0]
    if magic != TABLE_MAGIC:
        raise IndexFormatError(f"{name}: not an SSTable (bad magic {magic:#x})")
    _, _, pos = _handle(footer, 0)  # metaindex: unused by tensor bundles
    index_offset, index_size, _ = _handle(footer, pos)
    index_block = _read_block(data, index_offset, index_size, name)
    pairs: dict[bytes, bytes] = {}
    for _, handle_bytes in _block_entries(index_block, name):
        offset, size, _ = _handle(handle_bytes, 0)
        for key, value in _block_entries(_read_block(data, offset, size, name), name):
            pairs[key] = value
    return pairs


def read_index(path: str | os.PathLike[str]) -> dict[str, IndexEntry]:
    """``{tensor_name: IndexEntry}`` for every tensor of a checkpoint ``.index`` file.

    The bundle header (key ``""``) is checked (one shard, little endian) and left out.
    """
    name = os.fspath(path)
    pairs = read_index_raw(path)
    header = pairs.pop(b"", None)
    if header is None:
        raise IndexFormatError(f"{name}: no bundle header (empty key)")
    for number, _, value in _proto_fields(header):
        if number == 2 and value != 0:  # endianness: 0 little, 1 big
            raise IndexFormatError(f"{name}: big-endian bundles are not supported")
    return {key.decode("utf-8"): parse_bundle_entry(value) for key, value in pairs.items()}


def bundle_header(path: str | os.PathLike[str]) -> dict[str, int]:
    """The ``BundleHeaderProto`` fields: num_shards, endianness, version.producer."""
    header = read_index_raw(path).get(b"", b"")
    out = {"num_shards": 0, "endianness": 0, "version_producer": 0}
    for number, _, value in _proto_fields(header):
        if number == 1:
            out["num_shards"] = int(value)  # type: ignore[arg-type]
        elif number == 2:
            out["endianness"] = int(value)  # type: ignore[arg-type]
        elif number == 3:
            for vnum, _, vval in _proto_fields(value):  # type: ignore[arg-type]
                if vnum == 1:
                    out["version_producer"] = int(vval)  # type: ignore[arg-type]
    return out
