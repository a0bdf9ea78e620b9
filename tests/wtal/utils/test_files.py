"""Atomic writes: a failure leaves the old file (or nothing), never a partial one."""

from __future__ import annotations

import numpy as np
import pytest

from wtal.utils.files import atomic_open, write_json, write_npy


def test_failed_write_leaves_previous_content_and_no_temporary(tmp_path):
    path = tmp_path / "out.json"
    write_json(path, {"a": 1})
    with pytest.raises(RuntimeError), atomic_open(path) as handle:
        handle.write('{"half": ')
        raise RuntimeError("killed")
    assert path.read_text() == '{\n "a": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_nan_is_refused_and_nothing_is_written(tmp_path):
    with pytest.raises(ValueError):
        write_json(tmp_path / "m.json", {"x": float("nan")})
    assert not any(tmp_path.iterdir())


def test_npy_round_trip_and_permissions(tmp_path):
    write_npy(tmp_path / "sub" / "f.npy", np.arange(6, dtype=np.float32).reshape(2, 3))
    assert np.load(tmp_path / "sub" / "f.npy").tolist() == [[0, 1, 2], [3, 4, 5]]
    assert (tmp_path / "sub" / "f.npy").stat().st_mode & 0o044  # readable by others (umask)
