"""Feature timing: the published I3D numbers unchanged, ActionFormer's centre convention, the
records it is read from (meta.json, config) and the errors for bad values."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wtal.data.activitynet import read_activitynet
from wtal.data.dataset import SEGMENT_SECONDS
from wtal.data.open import open_dataset
from wtal.data.timing import ACTIONFORMER_THUMOS, I3D_25FPS, FeatureTiming
from wtal.errors import InputFileError


def test_the_published_i3d_timing_gives_exactly_todays_numbers():
    index = np.arange(200, dtype=np.float64)
    assert np.array_equal(I3D_25FPS.to_seconds(index), index * (16.0 / 25.0))
    assert I3D_25FPS.seconds_per_segment == SEGMENT_SECONDS == 0.64
    assert I3D_25FPS.offset_seconds == 0.0
    assert I3D_25FPS.to_seconds(5) == 3.2
    assert I3D_25FPS.centre(0) == 0.32
    assert I3D_25FPS.expected_segments(32.0) == 50.0


def test_actionformer_features_sit_at_their_window_centres():
    t = ACTIONFORMER_THUMOS  # 16 frames every 4 at 30 fps
    assert t.seconds_per_segment == pytest.approx(4 / 30)
    # Feature 10 covers frames 40..55: centre frame 48 -> 1.6 s, ActionFormer's
    # (10 * 4 + 0.5 * 16) / 30.
    assert t.centre(10) == pytest.approx(1.6)
    assert t.window_start(10) == pytest.approx(40 / 30)
    # A run of features [10, 20) spans their cells: 2/30 s either side of centres 1.6, 2.8.
    assert t.to_seconds(10) == pytest.approx(46 / 30)
    assert t.to_seconds(20) == pytest.approx(86 / 30)
    # The boundary before feature i is ActionFormer's grid point i - 0.5.
    i = np.array([0.0, 3.0, 100.0])
    assert t.to_seconds(i) == pytest.approx(((i - 0.5) * 4 + 0.5 * 16) / 30)
    assert t.to_seconds(i + 0.5) == pytest.approx(t.centre(i))
    assert t.to_index(t.to_seconds(i)) == pytest.approx(i)
    # 60 s at 30 fps = 1800 frames hold (1800 - 16) / 4 + 1 = 447 windows.
    assert t.expected_segments(60.0) == 447.0


def test_meta_round_trip():
    timing = FeatureTiming(30.0, 16, 4)
    assert timing.to_meta() == {"fps": 30.0, "frames_per_segment": 16, "stride": 4}
    assert FeatureTiming.from_meta(timing.to_meta()) == timing
    assert FeatureTiming.from_meta({"fps": 25, "frames_per_segment": 16, "stride": 16}) == (
        I3D_25FPS
    )


@pytest.mark.parametrize(
    ("timing", "problem"),
    [
        ({"fps": 0, "frames_per_segment": 16, "stride": 16}, "fps 0 must be a positive"),
        ({"fps": float("nan"), "frames_per_segment": 16, "stride": 16}, "fps nan"),
        ({"fps": "25", "frames_per_segment": 16, "stride": 16}, "fps '25' is not a number"),
        ({"fps": True, "frames_per_segment": 16, "stride": 16}, "fps True is not a number"),
        ({"fps": 25, "frames_per_segment": 16, "stride": 0}, "stride 0 must be a whole"),
        ({"fps": 25, "frames_per_segment": 2.5, "stride": 1}, "frames_per_segment 2.5"),
        ({"fps": 25, "frames_per_segment": 8, "stride": 16}, "stride 16 is longer"),
        ({"fps": 25, "stride": 16}, "missing frames_per_segment"),
        ([25, 16, 16], "expected {fps, frames_per_segment, stride}"),
    ],
)
def test_bad_values_are_refused_naming_the_file(timing, problem):
    with pytest.raises(InputFileError, match=r"meta\.json: timing: ") as caught:
        FeatureTiming.from_meta(timing, "features/v/meta.json")
    assert problem in str(caught.value)
    with pytest.raises(ValueError, match="bad feature timing"):
        FeatureTiming(25.0, 8, 16)


def extracted_folder(root, vid, t, timing=None):
    """A `wtal extract`-style features folder for one video (meta.json with or without the
    timing record)."""
    folder = root / vid
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.save(folder / "rgb.npy", rng.normal(size=(t, 1024)).astype(np.float32))
    np.save(folder / "flow.npy", rng.normal(size=(t, 1024)).astype(np.float32))
    meta = {"segments": t, "segment_frames": 16, "identity": {"crop": 224}}
    if timing is not None:
        meta["timing"] = timing
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


def annotations(tmp_path, durations):
    path = tmp_path / "gt.json"
    database = {
        vid: {"subset": "test", "duration": d, "annotations": [{"segment": [1, 2], "label": "X"}]}
        for vid, d in durations.items()
    }
    path.write_text(json.dumps({"database": database}))
    return path


def test_the_activitynet_reader_reads_the_timing_wtal_extract_records(tmp_path):
    feats = tmp_path / "features"
    extracted_folder(feats, "a", 447, {"fps": 30.0, "frames_per_segment": 16, "stride": 4})
    extracted_folder(feats, "b", 222, {"fps": 30.0, "frames_per_segment": 16, "stride": 4})
    dataset = read_activitynet(annotations(tmp_path, {"a": 60.0, "b": 30.0}), feats)
    assert dataset.timing == FeatureTiming(30.0, 16, 4)
    assert all(v.timing is None for v in dataset.videos)
    # 447 rows for 60 s is right at 16 every 4 at 30 fps (it would be 94 at 25/16).
    assert not [q for q in dataset.quirks if q.kind == "feature-length-mismatch"]


def test_without_a_record_the_timing_is_the_config_or_the_i3d_default(tmp_path):
    feats = tmp_path / "features"
    extracted_folder(feats, "a", 94)  # a folder made before meta.json had a timing
    path = annotations(tmp_path, {"a": 60.0})
    assert read_activitynet(path, feats).timing == I3D_25FPS
    spec = {"format": "activitynet", "annotations": str(path), "features": str(feats)}
    configured = {"fps": 30.0, "frames_per_segment": 16, "stride": 4}
    dataset = open_dataset({**spec, "timing": configured})
    assert dataset.timing == FeatureTiming(30.0, 16, 4)
    kinds = [q.kind for q in dataset.quirks]
    assert kinds == ["feature-length-mismatch"]  # 94 rows for 60 s is not 16/4 at 30 fps
    with pytest.raises(InputFileError, match=r"dataset\.timing: stride 32 is longer"):
        open_dataset({**spec, "timing": {**configured, "stride": 32}})


def test_one_video_at_another_timing_carries_its_own(tmp_path):
    feats = tmp_path / "features"
    extracted_folder(feats, "a", 94, I3D_25FPS.to_meta())
    extracted_folder(feats, "b", 94, I3D_25FPS.to_meta())
    extracted_folder(feats, "c", 447, ACTIONFORMER_THUMOS.to_meta())
    dataset = read_activitynet(annotations(tmp_path, {"a": 60.0, "b": 60.0, "c": 60.0}), feats)
    assert dataset.timing == I3D_25FPS
    assert dataset.timing_of(dataset.video("a")) == I3D_25FPS
    assert (
        dataset.video("c").timing == dataset.timing_of(dataset.video("c")) == (ACTIONFORMER_THUMOS)
    )
    assert not [q for q in dataset.quirks if q.kind == "feature-length-mismatch"]


def test_a_meta_json_against_the_config_or_with_bad_values_is_refused(tmp_path):
    feats = tmp_path / "features"
    folder = extracted_folder(feats, "a", 94, I3D_25FPS.to_meta())
    path = annotations(tmp_path, {"a": 60.0})
    with pytest.raises(InputFileError, match="16-frame windows every 4 frames") as caught:
        read_activitynet(path, feats, timing=ACTIONFORMER_THUMOS)
    assert str(folder / "meta.json") in str(caught.value)
    (folder / "meta.json").write_text(
        json.dumps({"timing": {"fps": -25, "frames_per_segment": 16, "stride": 16}})
    )
    with pytest.raises(InputFileError, match="timing: fps -25 must be a positive") as caught:
        read_activitynet(path, feats)
    assert str(folder / "meta.json") in str(caught.value)
