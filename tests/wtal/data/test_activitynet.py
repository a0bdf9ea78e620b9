"""The project's own format: ActivityNet JSON + per-video features."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.wtal.data.fixtures import assert_same_annotations, write_wtalc
from wtal.data import read_activitynet, read_wtalc, write_activitynet
from wtal.errors import InputFileError


def test_round_trip_from_wtalc_keeps_everything(tmp_path):
    source = read_wtalc(write_wtalc(tmp_path / "ann", with_features=False), name="tiny")
    write_activitynet(source, tmp_path / "gt.json")
    again = read_activitynet(tmp_path / "gt.json", name="tiny")
    assert again.classes == source.classes
    assert_same_annotations(source.videos, again.videos)
    for a, b in zip(source.videos, again.videos, strict=True):
        assert a.ambiguous.tolist() == b.ambiguous.tolist()
    assert {q.kind for q in again.quirks} >= {"bad-segment", "empty-video-labels"}
    data = json.loads((tmp_path / "gt.json").read_text())
    assert data["database"]["v_test_bad"]["ambiguous"] == [[0.5, 1.0]]


def test_round_trip_of_real_thumos14(thumos_annotations, tmp_path):
    source = read_wtalc(thumos_annotations, name="thumos14")
    write_activitynet(source, tmp_path / "gt.json")
    again = read_activitynet(tmp_path / "gt.json")
    assert sum(len(v.segments) for v in again.videos) == 6365
    assert again.video("video_test_0000270").labels == ("HammerThrow",)


def annotation(tmp_path, videos):
    path = tmp_path / "ann.json"
    path.write_text(json.dumps({"database": videos}))
    return path


def test_per_video_features_in_both_layouts(tmp_path):
    feats = tmp_path / "features"
    (feats / "b").mkdir(parents=True)
    np.save(feats / "a.npy", np.ones((10, 2048), np.float32))
    np.save(feats / "b" / "rgb.npy", np.full((6, 1024), 1.0, np.float32))
    np.save(feats / "b" / "flow.npy", np.full((6, 1024), 2.0, np.float32))
    path = annotation(
        tmp_path,
        {
            "a": {
                "subset": "train",
                "duration": 6.4,
                "annotations": [{"segment": [1, 2], "label": "X"}],
            },
            "b": {
                "subset": "train",
                "duration": 3.84,
                "annotations": [{"segment": [0, 1], "label": "Y"}],
            },
            "c": {"subset": "test", "duration": 2.0, "annotations": []},
        },
    )
    data = read_activitynet(path, feats)
    assert data.classes == ("X", "Y")
    b = data.video("b").features
    assert b.shape == (6, 2048) and b[0, 0] == 1.0 and b[0, 1024] == 2.0  # RGB first, then flow
    assert data.video("c").features is None
    assert ("missing-features", "c") in {(q.kind, q.video_id) for q in data.quirks}


def test_feature_problems_are_errors_naming_the_file(tmp_path):
    feats = tmp_path / "features"
    (feats / "b").mkdir(parents=True)
    np.save(feats / "b" / "rgb.npy", np.ones((6, 1024), np.float32))
    np.save(feats / "b" / "flow.npy", np.ones((5, 1024), np.float32))
    path = annotation(tmp_path, {"b": {"subset": "train", "annotations": []}})
    with pytest.raises(InputFileError, match=r"b/flow.npy: 5 segments but rgb.npy has 6"):
        read_activitynet(path, feats)
    np.save(feats / "b" / "flow.npy", np.ones((6,), np.float32))
    with pytest.raises(InputFileError, match=r"flow.npy: features must be \(segments, channels\)"):
        read_activitynet(path, feats)


def test_feature_length_disagreeing_with_duration_is_reported(tmp_path):
    feats = tmp_path / "features"
    feats.mkdir()
    np.save(feats / "a.npy", np.ones((100, 8), np.float32))  # 10 s at 25/16 gives ~16
    path = annotation(tmp_path, {"a": {"subset": "train", "duration": 10.0, "annotations": []}})
    quirks = read_activitynet(path, feats).quirks
    assert [q.kind for q in quirks] == ["feature-length-mismatch"]
    assert "100 segments" in quirks[0].message


def test_labels_outside_the_class_list_are_an_error(tmp_path):
    path = tmp_path / "ann.json"
    path.write_text(
        json.dumps(
            {
                "classes": ["X"],
                "database": {
                    "a": {"subset": "t", "annotations": [{"segment": [0, 1], "label": "Y"}]}
                },
            }
        )
    )
    with pytest.raises(InputFileError, match=r"labels \['Y'\] are not in 'classes'"):
        read_activitynet(path)


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"annotations": [{"segment": [1, 2], "label": None}]},
         "database/v/annotations/0: label None is not a string"),
        ({"annotations": [{"segment": [1, 2], "label": 5}]},
         "database/v/annotations/0: label 5 is not a string"),
        ({"annotations": [{"segment": [1], "label": "X"}]},
         "database/v/annotations/0: segment [1] is not [s, e]"),
        ({"annotations": [{"segment": [1, 10**400], "label": "X"}]},
         "database/v/annotations/0/segment: an integer of 401 digits, too large for a float"),
        ({"annotations": [{"segment": [1, "2"], "label": "X"}]},
         "database/v/annotations/0/segment: '2' is not a number"),
        ({"duration": 10**400},
         "database/v/duration: an integer of 401 digits, too large for a float"),
        ({"duration": "long"}, "database/v/duration: 'long' is not a number"),
        ({"labels": ["X", None]}, "database/v/labels: ['X', None] is not a list of strings"),
    ],
)  # fmt: skip
def test_malformed_entries_are_refused_naming_the_file_and_entry(tmp_path, entry, problem):
    path = annotation(tmp_path, {"v": {"subset": "train", "duration": 10.0, **entry}})
    with pytest.raises(InputFileError) as caught:
        read_activitynet(path)
    assert str(caught.value) == f"{path}: {problem}"


def test_wtalc_segments_that_do_not_match_the_instances_are_refused(tmp_path):
    """[[1], [2]] was silently read as one instance [1, 2] of two labels."""
    folder = write_wtalc(tmp_path / "ann", with_features=False)
    segments = np.empty(3, dtype=object)
    segments[:] = [[[1.0], [5.0]], [[2.0, 4.0]], [[9.0, 3.0], [4.0, 8.0]]]
    np.save(folder / "segments.npy", segments, allow_pickle=True)
    with pytest.raises(InputFileError) as caught:
        read_wtalc(folder)
    assert str(caught.value) == (
        f"{folder / 'segments.npy'}: row 0: segments of shape (2, 1), but labels.npy lists 2 "
        "instances (one [start, end] each)"
    )
