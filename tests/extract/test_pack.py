"""Per-video features <-> W-TALC joint layout, both ways, readable by the W-TALC reader."""

from __future__ import annotations

import json

import numpy as np
import pytest

from extract.pack import pack_wtalc, split_wtalc
from wtal.data import read_activitynet, read_wtalc
from wtal.errors import InputFileError


@pytest.fixture
def per_video(tmp_path):
    rng = np.random.default_rng(3)
    annotations = {
        "classes": ["HighJump", "LongJump"],
        "database": {
            "a": {
                "subset": "validation",
                "duration": 6.4,
                "labels": ["HighJump"],
                "annotations": [{"segment": [1.0, 2.5], "label": "HighJump"}],
            },
            "b": {
                "subset": "test",
                "duration": 3.2,
                "ambiguous": [[0.5, 1.0]],
                "annotations": [
                    {"segment": [0.2, 1.2], "label": "LongJump"},
                    {"segment": [2.0, 3.0], "label": "HighJump"},
                ],
            },
        },
    }
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(annotations))
    features = tmp_path / "features"
    for vid, t in (("a", 10), ("b", 5)):
        (features / vid).mkdir(parents=True)
        np.save(features / vid / "rgb.npy", rng.standard_normal((t, 1024)).astype(np.float32))
        np.save(features / vid / "flow.npy", rng.standard_normal((t, 1024)).astype(np.float32))
    return path, features


def test_pack_then_read_with_the_wtalc_reader(per_video, tmp_path):
    annotations, features = per_video
    joint, folder = pack_wtalc(annotations, features, tmp_path / "out", "Tiny")
    assert joint.name == "Tiny-I3D-JOINTFeatures.npy" and folder.name == "Tiny-Annotations"
    packed = read_wtalc(folder, joint)
    original = read_activitynet(annotations, features)
    assert packed.classes == original.classes
    for p, o in zip(packed.videos, original.videos, strict=True):
        assert (p.video_id, p.subset, p.labels) == (o.video_id, o.subset, o.labels)
        assert p.segments.tolist() == o.segments.tolist()
        assert p.segment_labels == o.segment_labels
        assert np.array_equal(p.features, o.features)  # RGB first, then flow
    assert packed.video("b").ambiguous.tolist() == [[0.5, 1.0]]


def test_split_is_the_inverse_of_pack(per_video, tmp_path):
    annotations, features = per_video
    joint, folder = pack_wtalc(annotations, features, tmp_path / "out", "Tiny")
    split_wtalc(folder, joint, tmp_path / "split", name="tiny")
    for vid in ("a", "b"):
        for stream in ("rgb", "flow"):
            assert np.array_equal(
                np.load(tmp_path / "split" / "features" / vid / f"{stream}.npy"),
                np.load(features / vid / f"{stream}.npy"),
            )
    again = read_activitynet(tmp_path / "split" / "tiny.json", tmp_path / "split" / "features")
    assert again.classes == ("HighJump", "LongJump")


def test_pack_refuses_missing_features(per_video, tmp_path):
    annotations, features = per_video
    for stream in ("rgb", "flow"):
        (features / "b" / f"{stream}.npy").unlink()
    with pytest.raises(InputFileError, match=r"no features for 1 annotated videos: \['b'\]"):
        pack_wtalc(annotations, features, tmp_path / "out", "Tiny")
