"""The restricted unpicklers: honest numpy pickles load; array states that declare more than
they hold are refused before numpy allocates them."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
from numpy._core.multiarray import _reconstruct

from wtal.utils.safe_pickle import ShapeCheckedUnpickler, restricted_loads

HUGE = 10**12  # elements: 7.3 TiB as an object array, were it allocated


def checked_loads(data: bytes) -> object:
    return ShapeCheckedUnpickler(io.BytesIO(data), encoding="bytes").load()


class ArrayState:
    """Pickles as numpy does (``_reconstruct`` then ``__setstate__``), with any state."""

    def __init__(self, state: tuple, reconstruct_shape: tuple = (0,)) -> None:
        self.state = state
        self.reconstruct_shape = reconstruct_shape

    def __reduce__(self):
        return (_reconstruct, (np.ndarray, self.reconstruct_shape, b"b"), self.state)


class NdarrayCall:
    """Pickles as a direct call ``numpy.ndarray(shape, dtype)``."""

    def __reduce__(self):
        return (np.ndarray, ((HUGE,), "O"))


def honest_arrays() -> list[np.ndarray]:
    ragged = np.empty(3, dtype=object)
    ragged[:] = [[[1.0, 2.0]], np.ones((2, 3), np.float32), b"label"]
    return [
        np.arange(12.0).reshape(3, 4),
        np.asfortranarray(np.arange(6, dtype=np.int16).reshape(2, 3)),
        np.zeros((0, 2048), np.float32),
        np.array(3.5),
        np.array([b"a", b"bc"]),
        ragged,
    ]


def plain(value: object) -> object:
    """Arrays (``CheckedArray`` included) as (dtype, shape, items), recursively."""
    if isinstance(value, np.ndarray):
        return str(value.dtype), value.shape, [plain(v) for v in value.reshape(-1).tolist()]
    if isinstance(value, list | tuple):
        return type(value)(plain(v) for v in value)
    return value


@pytest.mark.parametrize("protocol", [3, 4, 5])
def test_honest_numpy_pickles_load(protocol):
    for array in honest_arrays():
        out = checked_loads(pickle.dumps(array, protocol=protocol))
        assert isinstance(out, np.ndarray)
        assert plain(out) == plain(array)


@pytest.mark.parametrize(
    ("crafted", "refusal"),
    [
        (
            ArrayState((1, (HUGE,), np.dtype(object), False, [1, 2])),
            "object array of 1,000,000,000,000 elements is given 2 elements",
        ),
        (
            ArrayState((1, (HUGE,), np.dtype("<f8"), False, b"\0" * 16)),
            r"array of 1,000,000,000,000 x float64 \(8,000,000,000,000 bytes\) is given 16 bytes",
        ),
        (
            ArrayState((1, (1000,), np.dtype(("O", (10**8,))), False, [None] * 1000)),
            r"refused an array of dtype \('O', \(100000000,\)\) holding objects",
        ),
        (
            ArrayState((1, (2,), np.dtype(object), False, [1, 2]), reconstruct_shape=(HUGE,)),
            r"_reconstruct asked for shape \(1000000000000,\), not \(0,\)",
        ),
        (NdarrayCall(), "refused to call numpy.ndarray directly"),
    ],
)
def test_states_that_declare_more_than_they_hold_are_refused(crafted, refusal):
    with pytest.raises(pickle.UnpicklingError, match=refusal):
        checked_loads(pickle.dumps(crafted, protocol=3))


def test_other_globals_are_still_refused():
    with pytest.raises(pickle.UnpicklingError, match=r"refused to load posix\.system"):
        checked_loads(b"cposix\nsystem\n.")


def test_restricted_loads_still_returns_plain_arrays():
    state = {"conv": {"kernel": np.ones((2, 2), np.float32)}}
    out = restricted_loads(pickle.dumps(state, protocol=4))
    assert type(out["conv"]["kernel"]) is np.ndarray
