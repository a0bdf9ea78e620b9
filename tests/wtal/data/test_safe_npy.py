"""The restricted loader reads W-TALC pickles and refuses anything else."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.wtal.data.fixtures import object_array
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
