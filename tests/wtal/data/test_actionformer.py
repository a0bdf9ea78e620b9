"""ActionFormer's THUMOS14 I3D release, on files made to its specification: the reader, the
seconds a feature index stands for, and a whole round trip that only scores well when the
30 fps / stride 4 timing is really read."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wtal.data.actionformer import read_actionformer
from wtal.data.open import open_dataset
from wtal.data.timing import ACTIONFORMER_THUMOS, I3D_25FPS, FeatureTiming
from wtal.errors import InputFileError
from wtal.evaluation.metrics import evaluate_detection
from wtal.evaluation.tables import ground_truth_from_dict, predictions_from_dict
from wtal.inference.postprocess import detect
from wtal.inference.predict import video_results

CLASSES = ("BaseballPitch", "Diving")  # label_id 0 and 1 (ids deliberately not alphabetical)

#: Per video: subset, duration (s), fps, instances (label, start, end).
VIDEOS = {
    "video_validation_0000051": ("Validation", 40.0, 30.0, [("Diving", 5.0, 9.0)]),
    "video_test_0000004": ("Test", 60.0, 30.0, [("Diving", 10.0, 14.0)]),
    "video_test_0000006": (
        "Test",
        50.0,
        30.0,
        [("BaseballPitch", 3.0, 5.5), ("BaseballPitch", 30.0, 36.5)],
    ),
    "video_test_0000007": ("Test", 45.0, 30.0, [("Diving", 20.0, 26.0)]),
    # One video at another frame rate, as a few THUMOS14 videos are: its fps must be used.
    "video_test_0000010": ("Test", 48.0, 25.0, [("BaseballPitch", 12.0, 18.0)]),
}


def label_id(label):
    return {"Diving": 0, "BaseballPitch": 1}[label]


def write_release(root, rng):
    """``annotations/thumos14.json`` and ``i3d_features/<vid>.npy`` as the release has them:
    float32 (T, 2048), T = (frames - 16) // 4 + 1; RGB 1024 then flow 1024. Channel
    ``label_id`` lights up (1.0) where a feature's window centre lies inside an instance."""
    features = root / "i3d_features"
    features.mkdir(parents=True)
    database = {}
    for vid, (subset, duration, fps, instances) in VIDEOS.items():
        frames = int(duration * fps)
        t = (frames - 16) // 4 + 1
        centres = (np.arange(t) * 4 + 8) / fps
        array = rng.normal(0.0, 0.01, size=(t, 2048)).astype(np.float32)
        for label, start, end in instances:
            array[(centres >= start) & (centres < end), label_id(label)] = 1.0
        np.save(features / f"{vid}.npy", array)
        database[vid] = {
            "subset": subset,
            "duration": duration,
            "fps": fps,
            "annotations": [
                {
                    "label": label,
                    "segment": [start, end],
                    "segment(frames)": [start * fps, end * fps],
                    "label_id": label_id(label),
                }
                for label, start, end in instances
            ],
        }
    path = root / "annotations" / "thumos14.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"version": "Thumos14-30fps", "database": database}))
    return path, features


@pytest.fixture
def release(tmp_path):
    return write_release(tmp_path, np.random.default_rng(0))


def test_the_reader_follows_the_release(release):
    annotations, features = release
    dataset = read_actionformer(annotations, features)
    assert dataset.classes == ("Diving", "BaseballPitch")  # by label_id
    assert dataset.subsets == ("validation", "test")  # lowercased, as ActionFormer does
    assert len(dataset.subset("test")) == 4
    assert dataset.timing == ACTIONFORMER_THUMOS == FeatureTiming(30.0, 16, 4)
    first = dataset.video("video_test_0000004")
    assert first.features.shape == ((1800 - 16) // 4 + 1, 2048) == (447, 2048)
    assert first.timing is None and dataset.timing_of(first) == ACTIONFORMER_THUMOS
    assert first.labels == ("Diving",) and first.segments.tolist() == [[10.0, 14.0]]
    other = dataset.video("video_test_0000010")
    assert other.timing == FeatureTiming(25.0, 16, 4)
    assert not [q for q in dataset.quirks if q.kind == "feature-length-mismatch"]
    assert dataset.name == "thumos14"


def test_open_dataset_reads_the_format_and_a_configured_timing_replaces_the_json_fps(release):
    annotations, features = release
    spec = {"format": "actionformer", "annotations": str(annotations), "features": str(features)}
    assert open_dataset(spec).timing == ACTIONFORMER_THUMOS
    forced = open_dataset({**spec, "timing": I3D_25FPS.to_meta()})
    assert forced.timing == I3D_25FPS
    assert all(v.timing is None for v in forced.videos)
    # 447 rows for 60 s are far from the 94 that 16-frame segments at 25 fps would give.
    assert {q.kind for q in forced.quirks} >= {"feature-length-mismatch"}


def test_a_prediction_at_feature_index_i_maps_to_actionformers_seconds(release):
    annotations, features = release
    dataset = read_actionformer(annotations, features)
    video = dataset.video("video_test_0000004")
    t = video.features.shape[0]
    attention = np.zeros(t)
    attention[10:20] = 1.0  # features 10..19: window centres (4i + 8) / 30 = 1.6 .. 2.8 s
    cas = np.zeros((t, 3))
    cas[10:20, 0] = 5.0
    found, _ = detect(cas, attention, timing=dataset.timing_of(video))
    best = int(np.argmax(found.score))
    # Their cells: 2/30 s before the first centre and after the last.
    assert found.start[best] == pytest.approx(46 / 30)  # 1.5333 s
    assert found.end[best] == pytest.approx(86 / 30)  # 2.8667 s
    # The 25 fps video: feature i's centre is (4i + 8) / 25, so [10, 20) -> [1.84, 3.44).
    other = dataset.video("video_test_0000010")
    found, _ = detect(cas, attention, timing=dataset.timing_of(other))
    best = int(np.argmax(found.score))
    assert (found.start[best], found.end[best]) == pytest.approx((1.84, 3.44))


def predictions(dataset, timing_of):
    """Hand-made CAS and attention from the lit feature channels, through wtal's
    post-processing at ``timing_of(video)``."""
    results, scores, foreground = {}, {}, {}
    n = len(dataset.classes)
    for video in dataset.videos:
        lit = np.asarray(video.features[:, :n], dtype=np.float64) > 0.5
        attention = lit.any(axis=1).astype(np.float64)
        cas = np.concatenate([5.0 * lit, np.zeros((lit.shape[0], 1))], axis=1)
        timing = timing_of(video)
        found, p = detect(cas, attention, timing=timing)
        results[video.video_id], scores[video.video_id], foreground[video.video_id] = video_results(
            found, p, attention, dataset.classes, timing
        )
    return {"results": results, "video_scores": scores, "foreground": foreground}


def mean_ap(dataset, predicted):
    gt = ground_truth_from_dict(dataset.to_activitynet(), "test")
    metrics = evaluate_detection(gt, predictions_from_dict(predicted), np.array([0.3, 0.5, 0.7]))
    return metrics.map


def test_round_trip_scores_only_when_the_timing_is_read(release):
    annotations, features = release
    dataset = read_actionformer(annotations, features).subset("test")
    right = mean_ap(dataset, predictions(dataset, dataset.timing_of))
    assert right.min() == pytest.approx(1.0)
    # The same files read as the published 25 fps / 16-frame features: every detection lands
    # 4.8x too late (0.64 s per row instead of 4/30 s), far from its instance.
    as_i3d = read_actionformer(annotations, features, timing=I3D_25FPS).subset("test")
    assert as_i3d.timing == I3D_25FPS
    wrong = mean_ap(as_i3d, predictions(as_i3d, as_i3d.timing_of))
    assert wrong.max() == pytest.approx(0.0)
    # Ignoring the one video's own 25 fps costs its class at strict tIoU.
    flat = mean_ap(dataset, predictions(dataset, lambda _: ACTIONFORMER_THUMOS))
    assert flat[-1] < right[-1]


def test_the_foreground_record_places_the_cells(release):
    annotations, features = release
    dataset = read_actionformer(annotations, features).subset("test")
    record = predictions(dataset, dataset.timing_of)["foreground"]["video_test_0000004"]
    assert record["segment_seconds"] == pytest.approx(4 / 30)
    assert record["start_seconds"] == pytest.approx(0.2)  # (16 - 4) / 2 frames at 30 fps
    assert record["duration"] == pytest.approx((447 * 4 + 6) / 30)
    # Lit features: centres in [10, 14) -> features 73..102 -> cells [298/30, 418/30).
    assert record["intervals"] == [pytest.approx([298 / 30, 418 / 30])]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"fps": 0}, "database/video_test_0000004: fps 0 must be a positive"),
        ({"fps": "thirty"}, "fps 'thirty' is not a number"),
        ({"subset": None}, "database/video_test_0000004: needs at least 'subset'"),
        ({"annotations": [{"label": "Diving"}]}, "each needs 'segment' [s, e] and 'label'"),
        ({"duration": "long"}, "duration: 'long' is not a number"),
        ({"duration": 10**400}, "duration: an integer of 401 digits, too large for a float"),
        # every segment malformed: was "cannot reshape", naming no file
        ({"annotations": [{"label": "Diving", "segment": [1.0]}]}, "segment [1.0] is not [s, e]"),
        (
            {"annotations": [{"label": "Diving", "segment": [1.0, 2.0, 3.0]}]},
            "annotations/0: segment [1.0, 2.0, 3.0] is not [s, e]",
        ),
        # a label that is not a string: was silently a class named "None" or "5"
        (
            {"annotations": [{"label": None, "segment": [1.0, 2.0]}]},
            "annotations/0: label None is not a string",
        ),
        (
            {"annotations": [{"label": 5, "segment": [1.0, 2.0]}]},
            "annotations/0: label 5 is not a string",
        ),
    ],
)
def test_bad_entries_are_refused_naming_the_file(release, change, problem):
    annotations, features = release
    data = json.loads(annotations.read_text())
    data["database"]["video_test_0000004"].update(change)
    annotations.write_text(json.dumps(data))
    with pytest.raises(InputFileError) as caught:
        read_actionformer(annotations, features)
    assert str(annotations) in str(caught.value) and problem in str(caught.value)


def test_conflicting_label_ids_and_missing_fps(release):
    annotations, features = release
    data = json.loads(annotations.read_text())
    entry = data["database"]["video_test_0000006"]
    del entry["fps"]
    annotations.write_text(json.dumps(data))
    dataset = read_actionformer(annotations, features)
    assert [q.kind for q in dataset.quirks if q.video_id == "video_test_0000006"] == ["missing-fps"]
    assert dataset.timing_of(dataset.video("video_test_0000006")) == ACTIONFORMER_THUMOS
    entry["annotations"][0]["label_id"] = 0
    annotations.write_text(json.dumps(data))
    with pytest.raises(InputFileError, match="label 'BaseballPitch' has label_id"):
        read_actionformer(annotations, features)
