"""W-TALC reader on the real THUMOS14 annotations and on generated folders."""

from __future__ import annotations

import numpy as np
import pytest

from tests.wtal.data.fixtures import write_wtalc
from wtal.data import read_wtalc
from wtal.errors import InputFileError


def test_real_thumos14_annotations(thumos_annotations):
    data = read_wtalc(thumos_annotations, name="thumos14")
    assert len(data.classes) == 20 and data.classes[0] == "BaseballPitch"
    val, test = data.subset("validation"), data.subset("test")
    assert (len(val), len(test)) == (200, 212)
    assert sum(len(v.segments) for v in val.videos) == 3007
    assert sum(len(v.segments) for v in test.videos) == 3358
    # Known quirks are handled and reported, not hidden.
    quirks = {(q.kind, q.video_id) for q in data.quirks}
    assert ("empty-video-labels", "video_test_0000270") in quirks
    assert data.video("video_test_0000270").labels == ("HammerThrow",)
    assert any(
        q.kind == "nested-class" and "CliffDiving" in q.message and "Diving" in q.message
        for q in data.quirks
    )
    assert ("ambiguous-unknown-video", None) in quirks  # video_test_0001292 is not in the 212
    # Ambiguous intervals arrive with their videos: 99 lines, 3 of them for video_test_0001292.
    assert sum(len(v.ambiguous) for v in data.videos) == 99 - 3
    assert data.video("video_test_0000278").ambiguous.tolist()[0] == [0.0, 1.4]
    # labels_all are the training labels (not the instance labels).
    assert data.video("video_validation_0000171").labels == ("CricketBowling",)
    assert data.label_matrix().shape == (412, 20)


def test_generated_folder_with_features(tmp_path):
    folder = write_wtalc(tmp_path / "ann")
    data = read_wtalc(folder, folder / "features.npy", name="tiny")
    assert data.feature_dim == 2048
    train = data.video("v_train")
    assert train.features.shape == (50, 2048) and train.features.dtype == np.float32
    assert train.segments.tolist() == [[1.0, 5.0], [10.0, 12.5]]
    bad = data.video("v_test_bad")
    assert bad.segments.tolist() == [[4.0, 8.0]]  # the reversed instance is dropped ...
    kinds = {(q.kind, q.video_id) for q in data.quirks}
    assert ("bad-segment", "v_test_bad") in kinds  # ... and reported
    assert ("empty-video-labels", "v_test_empty") in kinds
    assert bad.ambiguous.tolist() == [[0.5, 1.0]]


def test_missing_features_are_reported(tmp_path):
    folder = write_wtalc(tmp_path / "ann", missing_last=True)
    data = read_wtalc(folder, folder / "features.npy")
    assert data.video("v_test_bad").features is None
    assert any(q.kind == "missing-features" for q in data.quirks)


def test_inconsistent_folder_is_an_error(tmp_path):
    folder = write_wtalc(tmp_path / "ann", with_features=False)
    np.save(folder / "subset.npy", np.array([b"test"]))
    with pytest.raises(InputFileError, match=r"subset.npy: has 1 entries but videoname.npy has 3"):
        read_wtalc(folder)
    with pytest.raises(InputFileError, match="annotation folder not found"):
        read_wtalc(tmp_path / "nowhere")


def test_segment_variant_file_name(tmp_path):
    folder = write_wtalc(tmp_path / "ann", with_features=False)
    (folder / "segments.npy").rename(folder / "segment.npy")
    assert len(read_wtalc(folder).video("v_train").segments) == 2
