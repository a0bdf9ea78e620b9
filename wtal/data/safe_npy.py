"""Reading ``.npy`` files that hold pickled object arrays, without running arbitrary pickles.

W-TALC-format files (``labels.npy``, ``segments.npy``, the joint features) are Python-2
pickles of object arrays. ``np.load(allow_pickle=True)`` would execute whatever a file asks
for; this reader admits only what such files contain: numpy arrays, dtypes and scalars,
lists, tuples, numbers and strings.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

import numpy as np

from wtal.errors import InputFileError
from wtal.utils.safe_pickle import ArraysOnlyUnpickler


def _decode(value: Any) -> Any:
    """Python-2 ``str`` arrives as ``bytes``: turn it (and containers of it) into ``str``."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, list | tuple):
        return type(value)(_decode(v) for v in value)
    return value


def load_npy(path: str | os.PathLike[str], decode_strings: bool = True) -> np.ndarray:
    """Load a ``.npy`` file; object arrays go through the restricted unpickler.

    Byte strings (numpy ``S`` arrays and Python-2 ``str`` in object arrays) are decoded to
    ``str`` when ``decode_strings`` is true.
    """
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                dtype = np.lib.format.read_array_header_1_0(handle)[2]
            else:
                dtype = np.lib.format.read_array_header_2_0(handle)[2]
            if not dtype.hasobject:
                array = np.load(path, allow_pickle=False)
            else:
                array = ArraysOnlyUnpickler(handle, encoding="bytes").load()
                if not isinstance(array, np.ndarray):
                    raise InputFileError(path, "the pickle does not hold a numpy array")
    except FileNotFoundError:
        raise InputFileError(path, "file not found") from None
    except pickle.UnpicklingError as exc:
        raise InputFileError(path, f"unsafe or corrupt pickle ({exc})") from None
    except (ValueError, EOFError, OSError) as exc:
        raise InputFileError(path, f"not a readable .npy file ({exc})") from None
    if not decode_strings:
        return array
    if array.dtype.kind == "S":
        return np.char.decode(array, "utf-8")
    if array.dtype.hasobject:
        out = np.empty(array.shape, dtype=object)
        for index, value in np.ndenumerate(array):
            out[index] = _decode(value)
        return out
    return array
