"""A pickle loader that admits numpy arrays and plain containers, nothing else.

Research data (W-TALC ``.npy`` object arrays, model checkpoints stored as pickles) is often
pickled; ``pickle.load`` would run whatever a file asks for. This unpickler resolves only the
globals needed to rebuild numpy arrays, dtypes and scalars; lists, tuples, dicts, numbers and
strings need no globals at all.
"""

from __future__ import annotations

import importlib
import io
import operator
import pickle
import reprlib
from typing import Any

import numpy as np
from numpy._core.multiarray import _reconstruct

_NUMPY_MODULES = {
    "numpy.core.multiarray": "numpy._core.multiarray",
    "numpy._core.multiarray": "numpy._core.multiarray",
    "numpy.core.numeric": "numpy._core.numeric",
    "numpy._core.numeric": "numpy._core.numeric",
    "numpy": "numpy",
}
_ALLOWED = {
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class ArraysOnlyUnpickler(pickle.Unpickler):
    """Refuses every global except numpy's array, dtype and scalar constructors."""

    def find_class(self, module: str, name: str) -> Any:
        target = _NUMPY_MODULES.get(module)
        if target is None or (target, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refused to load {module}.{name}")
        return getattr(importlib.import_module(target), name)


def restricted_loads(data: bytes, encoding: str = "ASCII") -> Any:
    """``pickle.loads`` limited to numpy arrays and plain containers."""
    return ArraysOnlyUnpickler(io.BytesIO(data), encoding=encoding).load()


def _element_count(shape: object) -> int:
    """The number of elements of a pickled shape (an int or a sequence of ints)."""
    try:
        dims = [operator.index(shape)] if not isinstance(shape, tuple | list) else shape
        sizes = [operator.index(dim) for dim in dims]
    except TypeError:
        raise pickle.UnpicklingError(
            f"array shape {reprlib.repr(shape)} is not a tuple of ints"
        ) from None
    if any(size < 0 for size in sizes):
        raise pickle.UnpicklingError(
            f"array shape {reprlib.repr(tuple(sizes))} has a negative dimension"
        )
    count = 1
    for size in sizes:
        count *= size
    return count


def _check_array_state(state: object) -> None:
    """Refuse an ``ndarray.__setstate__`` state whose shape does not match its data.

    numpy allocates an object array of the declared shape first and compares the element list
    with it afterwards: a 200-byte pickle declaring 10**9 elements asks for 7.45 GiB.
    """
    if not isinstance(state, tuple) or len(state) not in (4, 5):
        raise pickle.UnpicklingError("malformed numpy array state")
    shape, dtype, data = state[-4], state[-3], state[-1]
    if not isinstance(dtype, np.dtype):
        raise pickle.UnpicklingError("numpy array state without a dtype")
    count = _element_count(shape)
    if dtype.hasobject:
        if dtype != np.dtype(object):
            raise pickle.UnpicklingError(f"refused an array of dtype {dtype} holding objects")
        if not isinstance(data, list) or len(data) != count:
            held = len(data) if isinstance(data, list) else type(data).__name__
            raise pickle.UnpicklingError(
                f"object array of {count:,} elements is given {held} elements"
            )
    elif not isinstance(data, bytes | str) or len(data) != count * dtype.itemsize:
        held = len(data) if isinstance(data, bytes | str) else type(data).__name__
        raise pickle.UnpicklingError(
            f"array of {count:,} x {dtype} ({count * dtype.itemsize:,} bytes) is given {held} bytes"
        )


class CheckedArray(np.ndarray):
    """Stands in for ``numpy.ndarray`` while unpickling, so that the declared shape is checked
    against the data before numpy allocates anything. Convert results with
    ``value.view(np.ndarray)``."""

    def __new__(cls, *args: Any, **kwargs: Any) -> CheckedArray:
        # numpy's pickles pass ndarray to _reconstruct; they never call it.
        raise pickle.UnpicklingError("refused to call numpy.ndarray directly")

    def __setstate__(self, state: Any) -> None:
        _check_array_state(state)
        super().__setstate__(state)


def _checked_reconstruct(subtype: object, shape: object, dtype: object) -> np.ndarray:
    """``numpy._core.multiarray._reconstruct``, which numpy's pickles always call with shape
    ``(0,)`` (the real shape comes with the data, in ``__setstate__``)."""
    if subtype is not CheckedArray:
        raise pickle.UnpicklingError("_reconstruct is only given numpy.ndarray")
    if _element_count(shape) != 0:
        raise pickle.UnpicklingError(
            f"_reconstruct asked for shape {reprlib.repr(shape)}, not (0,)"
        )
    return _reconstruct(subtype, shape, dtype)


_CHECKED = {
    ("numpy._core.multiarray", "_reconstruct"): _checked_reconstruct,
    ("numpy", "ndarray"): CheckedArray,
}


class ShapeCheckedUnpickler(ArraysOnlyUnpickler):
    """``ArraysOnlyUnpickler`` that also refuses arrays whose declared size does not match the
    data the pickle holds, before numpy allocates them.

    Arrays come back as ``CheckedArray`` (a subclass of ``numpy.ndarray``); callers view them
    as plain ``numpy.ndarray``.
    """

    def find_class(self, module: str, name: str) -> Any:
        found = super().find_class(module, name)
        return _CHECKED.get((_NUMPY_MODULES[module], name), found)
