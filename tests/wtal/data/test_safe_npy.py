"""The restricted loader reads W-TALC pickles and refuses anything else."""

from __future__ import annotations

import json
import os
import re
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SHARED
from tests.wtal.data.fixtures import object_array
from wtal.data import Dataset, read_wtalc, wtalc
from wtal.data.safe_npy import load_npy
from wtal.errors import InputFileError


class Exploit:
    def __reduce__(self):
        return (os.system, ("echo owned",))


def test_refuses_arbitrary_globals(tmp_path):
    np.save(tmp_path / "evil.npy", object_array([Exploit()]), allow_pickle=True)
    with pytest.raises(InputFileError, match=r"evil\.npy: unsafe or corrupt pickle"):
        load_npy(tmp_path / "evil.npy")


def test_reads_object_arrays_of_arrays_and_strings(tmp_path):
    feats = object_array([np.ones((3, 4), np.float32), np.zeros((0, 4), np.float32)])
    np.save(tmp_path / "f.npy", feats, allow_pickle=True)
    out = load_npy(tmp_path / "f.npy")
    assert out[0].shape == (3, 4) and out[0].dtype == np.float32 and out[1].shape == (0, 4)
    np.save(tmp_path / "l.npy", object_array([[b"a", b"b"], []]), allow_pickle=True)
    assert load_npy(tmp_path / "l.npy").tolist() == [["a", "b"], []]
    np.save(tmp_path / "s.npy", np.array([b"x", b"yz"]))
    assert load_npy(tmp_path / "s.npy").tolist() == ["x", "yz"]


def test_reads_the_real_python2_pickles(thumos_annotations):
    segments = load_npy(thumos_annotations / "segments.npy")
    labels = load_npy(thumos_annotations / "labels.npy")
    assert segments.shape == (412,) and segments[0][0] == [67.5, 75.9]
    assert labels[0][0] == "Billiards"


def test_truncated_file(tmp_path):
    (tmp_path / "t.npy").write_bytes(b"\x93NUMPY\x01\x00")
    with pytest.raises(InputFileError, match=r"t\.npy: not a readable \.npy file"):
        load_npy(tmp_path / "t.npy")


# --- Bounded decoding: crafted files are refused in one line, quickly, without large allocations.
#
# The crafted files are written the way the released W-TALC files are: a numpy 1.0 header, then a
# Python-2 protocol-2 pickle of an object array. Each item list is hand-written opcodes, so each
# file has exactly the shape of the attack.

DEADLINE_S = 10.0


def _short_binstring(data: bytes) -> bytes:
    return b"U" + bytes([len(data)]) + data


def _long1(value: int) -> bytes:
    data = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(data)]) + data


def _put(index: int) -> bytes:
    return b"q" + bytes([index]) if index < 256 else b"r" + struct.pack("<I", index)


def _get(index: int) -> bytes:
    return b"h" + bytes([index]) if index < 256 else b"j" + struct.pack("<I", index)


def _dtype(code: bytes, flags: int, endian: bytes = b"|", state: bytes | None = None) -> bytes:
    """``numpy.dtype(code, 0, 1)`` and its version-3 state, as numpy pickles it."""
    if state is None:
        state = b"N" * 3 + b"J\xff\xff\xff\xffJ\xff\xff\xff\xff" + b"K" + bytes([flags])
    return (
        b"cnumpy\ndtype\n"
        + _short_binstring(code)
        + b"K\x00K\x01\x87R(K\x03"
        + _short_binstring(endian)
        + state
        + b"tb"
    )


def _array(
    shape: bytes, dtype: bytes, data: bytes, reconstruct_shape: bytes = b"K\x00\x85"
) -> bytes:
    """``_reconstruct(ndarray, (0,), 'b')``, then ``__setstate__`` with shape, dtype, data."""
    return (
        b"cnumpy.core.multiarray\n_reconstruct\nq\x01cnumpy\nndarray\nq\x02"
        + reconstruct_shape
        + _short_binstring(b"b")
        + b"\x87Rq\x03(K\x01"
        + shape
        + dtype
        + b"\x89"
        + data
        + b"tb"
    )


def _npy(path: Path, pickle_body: bytes, descr: str = "|O", shape: tuple[int, ...] = (1,)) -> Path:
    with open(path, "wb") as handle:
        header = {"descr": descr, "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_1_0(handle, header)
        handle.write(b"\x80\x02" + pickle_body + b".")
    return path


def object_npy(path: Path, items: bytes, count: int = 1) -> Path:
    """A W-TALC object array whose element list is pushed by ``items`` (memo 7 on is free)."""
    shape = (b"K" + bytes([count]) if count < 256 else b"M" + struct.pack("<H", count)) + b"\x85"
    body = _array(shape, _dtype(b"O8", 63), b"]q\x06(" + items + b"e")
    return _npy(path, body, shape=(count,))


def shared_levels(levels: int, leaf: bytes = b"]") -> bytes:
    """Level 0 is ``leaf``; level i is a list holding level i-1 twice (one memo entry, two
    references). The items push only the top level: 2**levels leaves once expanded."""
    ops = leaf + _put(7) + b"0"
    for level in range(1, levels + 1):
        ops += b"](" + _get(6 + level) * 2 + b"e" + _put(7 + level) + b"0"
    return ops + _get(7 + levels)


def nested(depth: int) -> bytes:
    """One item: ``depth`` lists, each the only element of the one above."""
    return b"]" * depth + b"a" * (depth - 1)


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail (rather than hang the suite) when the block runs past ``seconds``."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_shared_references_are_decoded_once_and_stay_shared(tmp_path):
    path = object_npy(
        tmp_path / "dag.npy", shared_levels(10, leaf=b"](" + _short_binstring(b"x") + b"e")
    )
    with deadline(DEADLINE_S):
        out = load_npy(path)
    top = out[0]
    assert top[0] is top[1]  # one decoded copy per pickled object
    leaves, stack = 0, [top]
    while stack:
        node = stack.pop()
        if node == ["x"]:
            leaves += 1
        else:
            stack.extend(node)
    assert leaves == 2**10


def test_an_exponential_dag_is_refused_quickly(tmp_path):
    # 30 levels, within the depth cap: 2**30 leaves once expanded, from a 562-byte file. The
    # recursive decoder visited every path (hours); the bounded one counts each node once.
    path = object_npy(tmp_path / "dag.npy", shared_levels(30))
    assert path.stat().st_size < 600
    with deadline(DEADLINE_S), pytest.raises(InputFileError) as error:
        load_npy(path)
    message = str(error.value)
    assert message.startswith(f"{path}: expands to more than ")
    assert "when shared references are copied" in message and "\n" not in message


def test_the_reported_943_byte_dag_is_refused_quickly(tmp_path):
    # The reported file's shape: each level references the previous twice, 68 levels in 942
    # bytes. Before, the decoder walked all 2**68 paths (> 120 s in `wtal dataset-info`).
    path = object_npy(tmp_path / "dag.npy", shared_levels(68))
    assert path.stat().st_size < 1000
    with (
        deadline(DEADLINE_S),
        pytest.raises(InputFileError, match=r"dag\.npy: nested more than 32 levels"),
    ):
        load_npy(path)


def test_a_small_file_that_expands_hugely_is_refused(tmp_path):
    # One list of 1000 floats referenced 10,000 times: 30 KB on disk, 10 million floats when
    # copied (the reported 1.4 MB file asked for ~200 GB this way).
    floats = b"".join(b"G" + struct.pack(">d", float(i)) for i in range(1000))
    items = b"](" + floats + b"e" + _put(7) + b"0" + b"](" + _get(7) * 10_000 + b"e"
    path = object_npy(tmp_path / "wide.npy", items)
    assert path.stat().st_size < 40_000
    with deadline(DEADLINE_S), pytest.raises(InputFileError) as error:
        load_npy(path)
    assert re.fullmatch(
        rf"{re.escape(str(path))}: expands to more than [\d,]+ elements when shared "
        r"references are copied \(a file of [\d,]+ bytes holds at most [\d,]+\)",
        str(error.value),
    )


def test_a_label_shared_by_many_rows_is_fine(tmp_path):
    # Python-2 pickles memoise a repeated label object: every row references the first one.
    rows = 3000
    items = b"](" + _short_binstring(b"Billiards") + _put(7) + b"e"
    items += (b"]" + _get(7) + b"a") * (rows - 1)
    path = object_npy(tmp_path / "labels.npy", items, count=rows)
    out = load_npy(path)
    assert out.shape == (rows,) and all(row == ["Billiards"] for row in out)
    assert out[0][0] is out[-1][0]
    assert load_npy(path, decode_strings=False)[5] == [b"Billiards"]


def test_deep_nesting_is_refused_in_one_line(tmp_path):
    path = object_npy(tmp_path / "deep.npy", nested(200_000))
    with deadline(DEADLINE_S), pytest.raises(InputFileError) as error:
        load_npy(path)
    assert str(error.value) == f"{path}: nested more than 32 levels deep (at most 32 are read)"


def test_the_depth_cap_counts_the_array_and_every_list(tmp_path):
    # The array is level 1, so 31 lists are the deepest file that is read.
    out = load_npy(object_npy(tmp_path / "ok.npy", nested(31)))
    assert len(out) == 1
    with pytest.raises(InputFileError, match=r"nested more than 32 levels deep \(at most 32"):
        load_npy(object_npy(tmp_path / "deep.npy", nested(32)))


def test_a_list_that_contains_itself_is_refused(tmp_path):
    path = object_npy(tmp_path / "cycle.npy", b"]" + _put(7) + _get(7) + b"a")
    with deadline(DEADLINE_S), pytest.raises(InputFileError) as error:
        load_npy(path)
    assert str(error.value) == f"{path}: holds a reference cycle (a container inside itself)"


def test_an_array_that_contains_itself_is_refused(tmp_path):
    path = object_npy(tmp_path / "cycle.npy", _get(3))  # memo 3: the array being rebuilt
    with pytest.raises(InputFileError, match=r"cycle\.npy: holds a reference cycle"):
        load_npy(path)


def test_containers_that_w_talc_files_never_hold_are_refused(tmp_path):
    # A dict's values would escape the depth and size bounds; no annotation file has one.
    path = object_npy(tmp_path / "dict.npy", b"}")
    with pytest.raises(InputFileError) as error:
        load_npy(path)
    assert str(error.value) == (
        f"{path}: holds a dict (only arrays, lists, tuples, strings and numbers are read)"
    )


def test_a_declared_shape_larger_than_the_file_is_refused(tmp_path):
    path = tmp_path / "duration.npy"
    with open(path, "wb") as handle:
        header = {"descr": "<f8", "fortran_order": False, "shape": (1_000_000_000, 1)}
        np.lib.format.write_array_header_1_0(handle, header)
        handle.write(bytes(128))
    with pytest.raises(InputFileError) as error:
        load_npy(path)
    assert str(error.value) == (
        f"{path}: declares shape (1000000000, 1) float64, 7.45 GiB, but holds 128 bytes of data"
    )


def test_zero_size_elements_count_against_the_file_size(tmp_path):
    # 10**12 elements of a zero-byte dtype fit in no bytes at all; iterating them would not end.
    path = tmp_path / "void.npy"
    with open(path, "wb") as handle:
        header = {"descr": "|V0", "fortran_order": False, "shape": (10**12,)}
        np.lib.format.write_array_header_1_0(handle, header)
    with pytest.raises(InputFileError, match=r"void\.npy: declares 1,000,000,000,000 elements"):
        load_npy(path)


def test_honest_numeric_arrays_still_load(tmp_path):
    for array in (np.arange(12.0).reshape(3, 4), np.zeros((0, 2048), np.float32), np.array(7)):
        np.save(tmp_path / "a.npy", array)
        out = load_npy(tmp_path / "a.npy")
        assert out.dtype == array.dtype and np.array_equal(out, array)


@pytest.mark.parametrize("decode", [True, False])
def test_arrays_come_back_plain_and_in_place(tmp_path, decode):
    inner = object_array([b"x", np.ones(2, np.float32)])
    grid = np.empty((2, 3), dtype=object, order="F")
    for index in np.ndindex(grid.shape):
        grid[index] = [b"r%dc%d" % index, (np.full(2, index[1]), inner)]
    np.save(tmp_path / "g.npy", grid, allow_pickle=True)
    out = load_npy(tmp_path / "g.npy", decode_strings=decode)
    assert type(out) is np.ndarray and out.shape == (2, 3)
    for index in np.ndindex(grid.shape):
        label, (numbers, nested) = out[index]
        assert label == (f"r{index[0]}c{index[1]}" if decode else b"r%dc%d" % index)
        assert type(numbers) is np.ndarray and numbers.tolist() == [index[1]] * 2
        assert type(nested) is np.ndarray and type(nested[1]) is np.ndarray
        assert nested[0] == ("x" if decode else b"x")
    assert out[0, 0][1][1] is out[1, 2][1][1]  # one pickled object, one result


def _crafted_allocations(folder: Path) -> dict[str, Path]:
    """Tiny files each of which used to make numpy or pickle reserve gigabytes first."""
    big = b"(" + _long1(8 * 10**9) + b"t"  # the shape tuple (8000000000,)
    files = {}
    path = folder / "header.npy"
    with open(path, "wb") as handle:
        header = {"descr": "<f8", "fortran_order": False, "shape": (1_000_000_000, 1)}
        np.lib.format.write_array_header_1_0(handle, header)
        handle.write(bytes(128))
    files["header"] = path
    # An object array declaring 8 * 10**9 elements but listing two: numpy allocates, then compares.
    files["object_state"] = _npy(
        folder / "state.npy", _array(big, _dtype(b"O8", 63), b"](K\x01K\x02e")
    )
    # _reconstruct asked for the full shape at once (numpy's own pickles ask for (0,)).
    files["reconstruct"] = _npy(
        folder / "rec.npy",
        _array(b"K\x00\x85", _dtype(b"O8", 63), b"]", reconstruct_shape=big),
    )
    # numpy.ndarray((8 * 10**9,), 'O') called directly.
    files["ndarray_call"] = _npy(
        folder / "call.npy", b"cnumpy\nndarray\n(" + big + _short_binstring(b"O") + b"tR"
    )
    # One element of a dtype that is 8 * 10**9 objects wide.
    wide = _dtype(b"O8", 63) + big + b"\x86" + b"NN" + _long1(64 * 10**9) + b"K\x08K?"
    files["object_subarray"] = _npy(
        folder / "sub.npy",
        _array(b"K\x01\x85", _dtype(b"V8", 63, state=wide), b"](K\x01e"),
    )
    # A bytes string declaring 2 GiB in a 200-byte file.
    files["binbytes"] = _npy(folder / "bytes.npy", b"B\x00\x00\x00\x80abc")
    return files


PROBE = """
import json, resource, sys
from wtal.data.safe_npy import load_npy

def vm_size():
    for line in open("/proc/self/status"):
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024

limit = vm_size() + (1 << 30)
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
for path in sys.argv[1:]:
    try:
        load_npy(path)
        result = ["loaded", ""]
    except BaseException as error:
        result = [type(error).__name__, str(error)]
    print(json.dumps(result), flush=True)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_crafted_files_are_refused_before_anything_large_is_allocated(tmp_path):
    # The loader runs with its address space capped at 1 GiB above what it already holds: a
    # gigabyte-sized reservation would raise MemoryError instead of the one-line refusal.
    files = _crafted_allocations(tmp_path)
    run = subprocess.run(
        [sys.executable, "-c", PROBE, *map(str, files.values())],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert run.returncode == 0, run.stderr
    results = dict(zip(files, (json.loads(line) for line in run.stdout.splitlines()), strict=True))
    for name, (kind, message) in results.items():
        assert kind == "InputFileError", (name, kind, message)
        assert message.startswith(str(files[name]) + ": ") and "\n" not in message


REAL_FOLDERS = ("thumos14", "activitynet13")


@pytest.fixture(params=REAL_FOLDERS)
def real_annotations(request: pytest.FixtureRequest) -> Path:
    folder = SHARED / request.param
    if not (folder / "videoname.npy").is_file():
        pytest.skip(f"real {request.param} annotations not found at {folder}")
    return folder


def _reference(path: Path) -> np.ndarray:
    """The trusted way (for the real, known files only): ``np.load`` with pickles allowed, then
    the Python-2 byte strings decoded the way the loader always has."""

    def decode(value: object) -> object:
        if isinstance(value, bytes):
            return value.decode("utf-8")
        if isinstance(value, list | tuple):
            return type(value)(decode(v) for v in value)
        return value

    array = np.load(path, allow_pickle=True, encoding="bytes")
    if array.dtype.kind == "S":
        return np.char.decode(array, "utf-8")
    if array.dtype.hasobject:
        out = np.empty(array.shape, dtype=object)
        for index, value in np.ndenumerate(array):
            out[index] = decode(value)
        return out
    return array


def _summary(data: Dataset) -> tuple:
    videos = [
        (v.video_id, v.subset, v.duration, v.labels, v.segments.tolist(), v.segment_labels)
        for v in data.videos
    ]
    return data.name, data.classes, videos, [v.ambiguous.tolist() for v in data.videos], data.quirks


def test_the_real_annotation_folders_load_identically_and_quickly(real_annotations, monkeypatch):
    for path in sorted(real_annotations.glob("*.npy")):
        out, expected = load_npy(path), _reference(path)
        assert (out.shape, out.dtype) == (expected.shape, expected.dtype), path.name
        assert repr(out.tolist()) == repr(expected.tolist()), path.name
    start = time.perf_counter()
    data = read_wtalc(real_annotations)
    seconds = time.perf_counter() - start
    assert seconds < 10.0  # 0.1 s (THUMOS14), 0.6 s (ActivityNet1.3) on one core
    monkeypatch.setattr(wtalc, "load_npy", _reference)
    assert _summary(data) == _summary(read_wtalc(real_annotations))
