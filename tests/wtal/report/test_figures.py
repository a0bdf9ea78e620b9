"""Report figures: valid, non-trivial PNGs for hand-made inputs, and the plotted PR points."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from tests.wtal.evaluation.reference import tables_from_rows
from wtal.evaluation.metrics import evaluate_detection
from wtal.evaluation.tables import ground_truth_from_dict, predictions_from_dict
from wtal.inference.postprocess import Detections
from wtal.report import precision_recall
from wtal.report.class_ap import class_ap, plot_class_ap
from wtal.report.precision_recall import plot_precision_recall, precision_recall_points
from wtal.report.timeline import (
    Instance,
    plot_timeline,
    top_detections_per_class,
    video_detections,
    video_instances,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CLASSES = ("CricketBowling", "CricketShot", "Diving")


def check_png(path: Path, *, wider_than_tall: bool = True) -> np.ndarray:
    """The file is a PNG with varied pixels; nothing temporary is left beside it."""
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = imread(path)
    height, width = image.shape[:2]
    assert height > 100 and width > 100
    if wider_than_tall:
        assert width > height
    rgb = image[..., :3].reshape(-1, 3)
    assert rgb.std() > 0.05
    packed = np.round(rgb * 255).astype(np.uint32) @ np.array([1 << 16, 1 << 8, 1], np.uint32)
    assert np.unique(packed).size > 20  # distinct colours: more than a blank or a flat image
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []
    return image


def timeline_inputs(t: int = 60, n_classes: int = 3):
    rng = np.random.default_rng(0)
    attention = np.clip(0.1 + 0.8 * np.exp(-(((np.arange(t) - 20) / 6.0) ** 2)), 0, 1)
    cas = rng.normal(size=(t, n_classes + 1))
    cas[15:26, 1] += 3.0
    detections = Detections(
        label=np.array([1, 1, 1, 1, 2]),
        start=np.array([9.6, 8.0, 10.2, 30.0, 33.0]),
        end=np.array([16.0, 17.0, 15.0, 31.0, 35.0]),
        score=np.array([0.9, 0.5, 0.7, 0.1, -0.05]),
    )
    gt = [Instance(1, 9.0, 16.5), (0, 25.0, 27.0)]
    return dict(attention=attention, cas=cas, detections=detections, ground_truth=gt)


# ------------------------------------------------------------------------------- timeline


def test_timeline_writes_a_png_atomically(tmp_path):
    path = plot_timeline(
        tmp_path / "sub" / "video.png",
        video_id="video_test_0000004",
        duration=38.0,
        classes=CLASSES,
        **timeline_inputs(),
    )
    assert path == tmp_path / "sub" / "video.png"
    check_png(path)


def test_timeline_without_detections_or_ground_truth(tmp_path):
    inputs = timeline_inputs()
    empty = Detections(np.zeros(0, int), np.zeros(0), np.zeros(0), np.zeros(0))
    path = plot_timeline(
        tmp_path / "empty.png",
        video_id="v",
        duration=None,
        classes=CLASSES,
        ground_truth=[],
        detections=empty,
        attention=inputs["attention"],
        cas=inputs["cas"][:, :3],  # (T, C): no background column, raw CAS
        cas_softmax=False,
        top_detections=None,
    )
    check_png(path)


def test_timeline_with_a_single_segment(tmp_path):
    empty = Detections(np.zeros(0, int), np.zeros(0), np.zeros(0), np.zeros(0))
    path = plot_timeline(
        tmp_path / "one.png",
        video_id="v",
        duration=0.5,
        classes=CLASSES,
        ground_truth=[(2, 0.0, 0.4)],
        detections=empty,
        attention=[0.7],
        cas=np.array([[0.0, 1.0, 2.0, 0.5]]),
    )
    check_png(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"attention": np.zeros(0), "cas": np.zeros((0, 4))}, "attention is empty"),
        ({"attention": np.zeros((60, 1))}, "attention must be 1-D"),
        ({"cas": np.zeros((59, 4))}, "cas must be"),
        ({"cas": np.zeros((60, 7))}, "columns"),
        ({"ground_truth": [(3, 0.0, 1.0)]}, "ground_truth: class index out of range"),
        ({"ground_truth": [(0, 5.0, 1.0)]}, "ends before it starts"),
        (
            {
                "detections": Detections(
                    np.array([0]), np.array([1.0]), np.array([2.0]), np.zeros(2)
                )
            },
            "one finite score",
        ),
        ({"top_detections": 0}, "top must be"),
        ({"seconds_per_segment": 0.0}, "seconds_per_segment"),
    ],
)
def test_timeline_refuses_bad_inputs_without_writing(tmp_path, change, message):
    inputs = {**timeline_inputs(), "top_detections": 3, "seconds_per_segment": 0.64, **change}
    with pytest.raises(ValueError, match=message):
        plot_timeline(tmp_path / "x.png", video_id="v", duration=40.0, classes=CLASSES, **inputs)
    assert list(tmp_path.iterdir()) == []


def test_top_detections_per_class_keeps_the_best_of_each_class_in_order():
    detections = timeline_inputs()["detections"]
    top = top_detections_per_class(detections, 2)
    assert top.label.tolist() == [1, 1, 2]
    assert top.score.tolist() == [0.9, 0.7, -0.05]
    assert top.start.tolist() == [9.6, 10.2, 33.0]
    assert len(top_detections_per_class(detections, None)) == 5


def test_video_instances_and_detections_map_names_to_class_indices():
    gt, pred = tables_from_rows(
        [("a", "Diving", 1.0, 2.0), ("a", "CricketShot", 3.0, 4.0), ("b", "Diving", 0.0, 1.0)],
        [("a", "CricketShot", 3.0, 4.5, 0.8), ("b", "Diving", 0.0, 1.0, 0.3)],
    )
    assert video_instances(gt, "a", CLASSES) == [Instance(2, 1.0, 2.0), Instance(1, 3.0, 4.0)]
    found = video_detections(pred, "a", CLASSES)
    assert found.label.tolist() == [1] and found.end.tolist() == [4.5]
    assert len(video_detections(pred, "not-predicted", CLASSES)) == 0
    with pytest.raises(ValueError, match="not in the ground truth"):
        video_instances(gt, "missing", CLASSES)
    with pytest.raises(ValueError, match="not in classes"):
        video_instances(gt, "a", ("Diving",))


# ----------------------------------------------------------------------- precision-recall


def hand_case():
    # Class A: 2 GT; predictions by score: TP (tIoU 1), FP (no overlap), TP (tIoU 0.9).
    # Class B: 1 GT, no predictions. Class C: a prediction but no ground truth.
    return tables_from_rows(
        [("v1", "A", 0.0, 10.0), ("v1", "A", 20.0, 30.0), ("v2", "B", 5.0, 6.0)],
        [
            ("v1", "A", 0.0, 10.0, 0.9),
            ("v1", "A", 50.0, 60.0, 0.8),
            ("v1", "A", 20.0, 29.0, 0.7),
            ("v2", "C", 5.0, 6.0, 0.5),
        ],
    )


def test_precision_recall_points_match_a_hand_computation():
    gt, pred = hand_case()
    with pytest.warns(UserWarning, match="absent from the ground truth: C"):
        curves = precision_recall_points(gt, pred, 0.5)
    assert [c.label for c in curves] == ["A", "B"]
    a, b = curves
    np.testing.assert_allclose(a.precision, [1.0, 0.5, 2.0 / 3.0])
    np.testing.assert_allclose(a.recall, [0.5, 0.5, 1.0])
    np.testing.assert_allclose(a.interpolated, [1.0, 2.0 / 3.0, 2.0 / 3.0])
    assert a.ap == pytest.approx(0.5 * 1.0 + 0.5 * 2.0 / 3.0)
    assert a.num_ground_truth == 2
    assert b.recall.size == 0 and b.precision.size == 0 and b.ap == 0.0
    # At tIoU 0.95 the third prediction (tIoU 0.9) no longer matches.
    with pytest.warns(UserWarning):
        strict = precision_recall_points(gt, pred, 0.95)[0]
    np.testing.assert_allclose(strict.precision, [1.0, 0.5, 1.0 / 3.0])
    np.testing.assert_allclose(strict.recall, [0.5, 0.5, 0.5])
    assert strict.ap == pytest.approx(0.5)


def test_precision_recall_figure_draws_exactly_those_points(tmp_path):
    gt, pred = hand_case()
    with pytest.warns(UserWarning):
        curves = precision_recall_points(gt, pred, 0.5)
    figure = precision_recall._precision_recall_figure(curves, 0.5, ignored=1)
    first = figure.axes[0]
    np.testing.assert_allclose(first.lines[0].get_xdata(), [0.5, 0.5, 1.0])
    np.testing.assert_allclose(first.lines[0].get_ydata(), [1.0, 0.5, 2.0 / 3.0])
    assert "AP 0.833" in first.get_legend().get_texts()[0].get_text()
    assert len(figure.axes[1].lines) == 0  # class B: no predictions, no curve
    with pytest.warns(UserWarning):
        path = plot_precision_recall(tmp_path / "pr.png", gt, pred, tiou=0.5)
    check_png(path)


def test_precision_recall_with_no_predictions_and_many_classes(tmp_path):
    names = [f"class{i}" for i in range(6)]
    gt, pred = tables_from_rows([("v", n, 1.0, 2.0) for n in names], [])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        curves = precision_recall_points(gt, pred)
    assert all(c.ap == 0.0 and c.recall.size == 0 for c in curves)
    check_png(plot_precision_recall(tmp_path / "pr.png", gt, pred))


def test_precision_recall_refusals(tmp_path):
    gt = ground_truth_from_dict({"database": {"v": {"subset": "test", "annotations": []}}}, "test")
    pred = predictions_from_dict({"results": {}})
    with pytest.raises(ValueError, match="no classes"):
        plot_precision_recall(tmp_path / "pr.png", gt, pred)
    gt, pred = hand_case()
    with pytest.raises(ValueError, match="tiou"):
        precision_recall_points(gt, pred, 0.0)


# ---------------------------------------------------------------------------- class AP


def test_class_ap_from_metrics_object_and_dict_agree(tmp_path):
    gt, pred = tables_from_rows(
        [("v1", "A", 0.0, 10.0), ("v1", "A", 20.0, 30.0), ("v2", "B", 5.0, 6.0)],
        [("v1", "A", 0.0, 10.0, 0.9), ("v1", "A", 50.0, 60.0, 0.8), ("v1", "A", 20.0, 29.0, 0.7)],
    )
    metrics = evaluate_detection(gt, pred, np.array([0.5, 0.95]))
    names, at_half = class_ap(metrics, 0.5)
    assert names == ("A", "B")
    np.testing.assert_allclose(at_half, [5.0 / 6.0, 0.0])
    _, mean = class_ap(metrics)
    np.testing.assert_allclose(mean, [(5.0 / 6.0 + 0.5) / 2, 0.0])
    names_d, at_half_d = class_ap(metrics.to_dict(), 0.5)
    assert names_d == names
    np.testing.assert_allclose(at_half_d, at_half)
    with pytest.raises(ValueError, match="not evaluated"):
        class_ap(metrics, 0.7)
    check_png(plot_class_ap(tmp_path / "ap.png", names, at_half, title="tIoU 0.5"))


def test_class_ap_plot_with_twenty_classes(tmp_path):
    rng = np.random.default_rng(1)
    names = [f"Action{i:02d}" for i in range(20)]
    check_png(plot_class_ap(tmp_path / "ap.png", names, rng.uniform(0, 1, 20)))


@pytest.mark.parametrize(
    ("classes", "ap", "message"),
    [
        ((), [], "no classes"),
        (("a", "b"), [0.5], "one value per class"),
        (("a",), [1.5], r"in \[0, 1\]"),
        (("a",), [float("nan")], "finite"),
    ],
)
def test_class_ap_plot_refusals(tmp_path, classes, ap, message):
    with pytest.raises(ValueError, match=message):
        plot_class_ap(tmp_path / "ap.png", classes, ap)
    assert not os.path.exists(tmp_path / "ap.png")
