"""Reading ``.npy`` files that hold pickled object arrays, without running arbitrary pickles.

W-TALC-format files (``labels.npy``, ``segments.npy``, the joint features) are Python-2
pickles of object arrays. ``np.load(allow_pickle=True)`` would execute whatever a file asks
for; this reader admits only what such files contain: numpy arrays, dtypes and scalars,
lists, tuples, numbers and strings.

Decoding is bounded by the file's size: a pickle can reference one object many times (a small
file that is huge once expanded), nest lists without end, or contain itself, and a header can
declare a shape far larger than the data behind it. Each is refused in one line before
anything large is allocated.
"""

from __future__ import annotations

import os
import pickle
from typing import IO, Any

import numpy as np

from wtal.errors import InputFileError, WtalError
from wtal.utils.safe_pickle import ShapeCheckedUnpickler

# Real W-TALC files nest 3 levels (the array, a list per video, [start, end] lists; features:
# the array, then a (T, D) array). 32 leaves ample room for any honest variant, stays far below
# Python's recursion limit (1000) and numpy's 64 dimensions for whatever recursive code later
# consumes the values (repr, np.asarray, json), and keeps the decoder's own stack tiny.
MAX_DEPTH = 32

# Without shared references every element costs at least one byte of pickle (an opcode per
# list item, number or string; a numeric array's element costs its itemsize), so an honest
# file expands to at most its own size in elements. The slack admits legitimately shared
# leaves (Python-2 pickles reference one label object from many rows: a reference costs 2-5
# bytes and counts 1) and bounds what a crafted file can make downstream code build to its
# size plus a million elements.
SLACK_ELEMENTS = 1_000_000

_ATOMS = (float, int, str, type(None), np.generic, np.dtype)  # bool is an int
_PLAIN_ATOMS = frozenset({float, int, str, bool, type(None)})
_CYCLE = "holds a reference cycle (a container inside itself)"


class _Refused(WtalError):
    """A bound was exceeded; ``load_npy`` turns the problem into an ``InputFileError``."""


class _TooDeep(_Refused):
    """Nested deeper than ``MAX_DEPTH`` (``_bounded`` words the message)."""


class _TooMany(_Refused):
    """More elements than the budget once shared references are copied."""


def element_budget(file_size: int) -> int:
    """The most elements a file of ``file_size`` bytes may expand to (see ``SLACK_ELEMENTS``)."""
    return file_size + SLACK_ELEMENTS


def _size_text(size: int) -> str:
    """``128 bytes``, ``7.45 GiB``."""
    if size < 1024:
        return f"{size} byte" + ("" if size == 1 else "s")
    units = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    power = min(len(units), (size.bit_length() - 1) // 10)
    return f"{size / 1024**power:.2f} {units[power - 1]}"


def _read_header(handle: IO[bytes]) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
    return shape, dtype


def _check_declared_size(
    shape: tuple[int, ...], dtype: np.dtype, data_bytes: int, budget: int, file_size: int
) -> None:
    """A non-object array must fit in the bytes after the header, checked before numpy
    allocates it (and, for zero-byte dtypes, hold no more elements than the budget)."""
    count = 1
    for size in shape:
        count *= size
    needed = count * dtype.itemsize
    if needed > data_bytes:
        raise _Refused(
            f"declares shape {shape} {dtype}, {_size_text(needed)}, "
            f"but holds {_size_text(data_bytes)} of data"
        )
    if count > budget:
        raise _Refused(
            f"declares {count:,} elements of {dtype} "
            f"(a file of {file_size:,} bytes holds at most {budget:,})"
        )


def _plain(array: np.ndarray) -> np.ndarray:
    """The unpickler's ``CheckedArray`` seen as a plain ``numpy.ndarray``."""
    return array if type(array) is np.ndarray else array.view(np.ndarray)


def _is_container(value: object) -> bool:
    return isinstance(value, list | tuple) or (
        isinstance(value, np.ndarray) and value.dtype.hasobject
    )


def _children(node: list | tuple | np.ndarray) -> list | tuple:
    return node.reshape(-1).tolist() if isinstance(node, np.ndarray) else node


def _rebuild(node: list | tuple | np.ndarray, results: list, changed: bool) -> Any:
    """``node`` with its children replaced by ``results`` (``node`` itself if none changed)."""
    if isinstance(node, np.ndarray):
        if not changed:
            return _plain(node)
        out = np.fromiter(results, dtype=object, count=len(results))
        return out.reshape(node.shape)
    if not changed:
        return node
    return results if isinstance(node, list) else tuple(results)


def _without_frame(value: object, decode: bool) -> tuple[Any, int, int] | None:
    """(result, height, elements) of a value that needs no frame of its own: atoms, byte
    strings, numeric arrays and lists of plain numbers or strings (most of a real file).
    None for a container whose children must be walked."""
    if type(value) is list or type(value) is tuple:
        if _PLAIN_ATOMS.issuperset(map(type, value)):
            return value, 1, 1 + len(value)
        return None
    if isinstance(value, bytes):
        return (value.decode("utf-8") if decode else value), 0, 1
    if isinstance(value, np.ndarray):
        return None if value.dtype.hasobject else (_plain(value), 1, max(1, value.size))
    if isinstance(value, _ATOMS):
        return value, 0, 1
    if isinstance(value, list | tuple):
        return None
    raise _Refused(
        f"holds a {type(value).__name__} (only arrays, lists, tuples, strings and numbers are read)"
    )


class _Frame:
    """One container on the decoder's explicit stack, with what its children gave so far."""

    __slots__ = ("changed", "children", "elements", "height", "next", "node", "results")

    def __init__(self, node: list | tuple | np.ndarray) -> None:
        self.node = node
        self.children = _children(node)
        self.next = 0
        self.results: list = []
        self.changed = False
        self.height = 0
        self.elements = 1

    def add(self, child: object, seen: tuple[Any, int, int], depth: int, budget: int) -> None:
        """Take a child's (result, height, elements); ``depth`` is this frame's level."""
        result, height, elements = seen
        self.results.append(result)
        self.changed = self.changed or result is not child
        self.height = max(self.height, height)
        self.elements += elements
        if depth + height > MAX_DEPTH:
            raise _TooDeep
        if self.elements > budget:
            raise _TooMany

    def finish(self) -> tuple[Any, int, int]:
        return _rebuild(self.node, self.results, self.changed), self.height + 1, self.elements


def _expand(root: np.ndarray, decode: bool, budget: int) -> np.ndarray:
    """Decode an object array's Python-2 byte strings to ``str`` (when ``decode``), visiting
    every pickled object once.

    Results are memoised by object identity, so shared references stay shared and cost one
    visit; the walk keeps its own stack (no recursion) and counts, per object, its nesting
    height and its elements as if every shared reference were copied. Refuses reference
    cycles, nesting deeper than ``MAX_DEPTH`` and more than ``budget`` elements.
    """
    done: dict[int, tuple[Any, int, int]] = {}
    active = {id(root)}
    stack = [_Frame(root)]
    while True:
        frame = stack[-1]
        children, results = frame.children, frame.results
        for index in range(frame.next, len(children)):
            child = children[index]
            if type(child) in _PLAIN_ATOMS:
                results.append(child)
                frame.elements += 1
                continue
            seen = done.get(id(child))
            if seen is None:
                seen = _without_frame(child, decode)
                if seen is None:
                    if id(child) in active:
                        raise _Refused(_CYCLE)
                    if len(stack) == MAX_DEPTH:
                        raise _TooDeep
                    frame.next = index + 1
                    active.add(id(child))
                    stack.append(_Frame(child))
                    break
                done[id(child)] = seen
            frame.add(child, seen, len(stack), budget)
        else:
            stack.pop()
            active.discard(id(frame.node))
            seen = done[id(frame.node)] = frame.finish()
            if not stack:
                if seen[2] > budget:
                    raise _TooMany
                return seen[0]
            stack[-1].add(frame.node, seen, len(stack), budget)


def _bounded(root: np.ndarray, decode: bool, budget: int, file_size: int) -> np.ndarray:
    """``_expand`` with its refusals spelled out for the user."""
    if not root.dtype.hasobject:
        if root.size > budget:
            raise _Refused(f"holds {root.size:,} elements (at most {budget:,} are read)")
        return _plain(root)
    try:
        return _expand(root, decode, budget)
    except _TooDeep:
        # Not measured further: the exact depth would take a walk as deep as the file.
        raise _Refused(
            f"nested more than {MAX_DEPTH} levels deep (at most {MAX_DEPTH} are read)"
        ) from None
    except _TooMany:
        raise _Refused(
            f"expands to more than {budget:,} elements when shared references are copied "
            f"(a file of {file_size:,} bytes holds at most {budget:,})"
        ) from None


def _read_bounded(handle: IO[bytes], decode: bool) -> np.ndarray:
    """The array in ``handle``, every size checked against the file's."""
    file_size = os.fstat(handle.fileno()).st_size
    budget = element_budget(file_size)
    shape, dtype = _read_header(handle)
    if not dtype.hasobject:
        _check_declared_size(shape, dtype, file_size - handle.tell(), budget, file_size)
        handle.seek(0)
        return np.lib.format.read_array(handle, allow_pickle=False)
    try:
        array = ShapeCheckedUnpickler(handle, encoding="bytes").load()
    except MemoryError:
        raise _Refused(
            f"ran out of memory unpickling it (the file holds {_size_text(file_size)}; "
            "a length it declares is corrupt or crafted)"
        ) from None
    if not isinstance(array, np.ndarray):
        raise _Refused("the pickle does not hold a numpy array")
    return _bounded(array, decode, budget, file_size)


def load_npy(path: str | os.PathLike[str], decode_strings: bool = True) -> np.ndarray:
    """Load a ``.npy`` file; object arrays go through the restricted unpickler.

    Byte strings (numpy ``S`` arrays and Python-2 ``str`` in object arrays) are decoded to
    ``str`` when ``decode_strings`` is true. Files that would expand beyond what their size
    can honestly hold are refused (see ``MAX_DEPTH`` and ``SLACK_ELEMENTS``).
    """
    try:
        with open(path, "rb") as handle:
            array = _read_bounded(handle, decode_strings)
    except FileNotFoundError:
        raise InputFileError(path, "file not found") from None
    except _Refused as refusal:
        raise InputFileError(path, str(refusal)) from None
    except pickle.UnpicklingError as exc:
        raise InputFileError(path, f"unsafe or corrupt pickle ({exc})") from None
    except (ValueError, EOFError, OSError) as exc:
        raise InputFileError(path, f"not a readable .npy file ({exc})") from None
    if decode_strings and array.dtype.kind == "S":
        return np.char.decode(array, "utf-8")
    return array
