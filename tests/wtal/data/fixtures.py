"""Small W-TALC-format folders written the way the released files are laid out."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def object_array(items: list) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out


def write_wtalc(folder: Path, with_features: bool = True, missing_last: bool = False) -> Path:
    """Three videos, two classes, with the quirks the real data has.

    v_train: a clean training video; v_test_empty: instances but an empty ``labels_all``
    (THUMOS14's video_test_0000270); v_test_bad: a reversed instance.
    """
    folder.mkdir(parents=True, exist_ok=True)
    names = [b"v_train", b"v_test_empty", b"v_test_bad"]
    np.save(folder / "videoname.npy", np.array(names))
    np.save(folder / "subset.npy", np.array([b"validation", b"test", b"test"]))
    np.save(folder / "duration.npy", np.array([[32.0], [16.0], [20.0]]))
    np.save(folder / "classlist.npy", np.array([b"HighJump", b"LongJump"]))
    np.save(
        folder / "labels_all.npy",
        object_array([[b"HighJump"], [], [b"LongJump"]]),
        allow_pickle=True,
    )
    np.save(
        folder / "segments.npy",
        object_array([[[1.0, 5.0], [10.0, 12.5]], [[2.0, 4.0]], [[9.0, 3.0], [4.0, 8.0]]]),
        allow_pickle=True,
    )
    np.save(
        folder / "labels.npy",
        object_array([[b"HighJump", b"HighJump"], [b"LongJump"], [b"LongJump", b"LongJump"]]),
        allow_pickle=True,
    )
    (folder / "Ambiguous_test.txt").write_text("v_test_bad  0.5 1.0\n")
    if with_features:
        rng = np.random.default_rng(0)
        lengths = [50, 25, 31]  # 32 s and 16 s at 25/16 segments per second; 20 s -> 31
        feats = [rng.standard_normal((t, 2048)).astype(np.float32) for t in lengths]
        if missing_last:
            feats = feats[:2]
        np.save(folder / "features.npy", object_array(feats), allow_pickle=True)
    return folder


def assert_same_annotations(first, second) -> None:
    """Two sequences of VideoRecord carry the same identity, labels and instances."""
    assert len(first) == len(second)
    for a, b in zip(first, second, strict=True):
        assert (a.video_id, a.subset, a.duration, a.labels) == (
            b.video_id,
            b.subset,
            b.duration,
            b.labels,
        )
        assert a.segments.tolist() == b.segments.tolist()
        assert a.segment_labels == b.segment_labels
