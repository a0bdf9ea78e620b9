"""A pickle loader that admits numpy arrays and plain containers, nothing else.

Research data (W-TALC ``.npy`` object arrays, model checkpoints stored as pickles) is often
pickled; ``pickle.load`` would run whatever a file asks for. This unpickler resolves only the
globals needed to rebuild numpy arrays, dtypes and scalars; lists, tuples, dicts, numbers and
strings need no globals at all.
"""

from __future__ import annotations

import importlib
import io
import pickle
from typing import Any

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
