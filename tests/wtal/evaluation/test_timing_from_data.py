"""The evaluator takes the features' timing from the files it judges: the foreground
record's ``start_seconds`` / ``segment_seconds`` and, in segment units, the segment rate the
predictions record."""

from __future__ import annotations

import numpy as np
import pytest

from wtal.errors import InputFileError
from wtal.evaluation.foreground import VideoForeground, foreground_from_dict, foreground_rates
from wtal.evaluation.protocol import (
    SEGMENTS_PER_SECOND,
    ground_truth_to_segments,
    predictions_to_segments,
    segments_per_second_of,
)
from wtal.evaluation.tables import ground_truth_from_dict, predictions_from_dict

GT = {
    "database": {
        "a": {
            "subset": "test",
            "duration": 2.2,
            "annotations": [{"segment": [0.7, 1.3], "label": "Jump"}],
        }
    }
}


def test_cells_start_where_the_record_says():
    gt = ground_truth_from_dict(GT, "test")
    # From 0.2 s in steps of 0.4 s up to 2.2 s: 5 cells, centres 0.4, 0.8, 1.2, 1.6, 2.0.
    # Truth [0.7, 1.3]: 0.8, 1.2. Said [0.6, 1.0): 0.8. -> TP 1, FN 1, FP 0, TN 3.
    shifted = VideoForeground(2.2, 0.4, np.array([[0.6, 1.0]]), start_seconds=0.2)
    assert foreground_rates(gt, {"a": shifted})["segments"] == {
        "tp": 1,
        "fp": 0,
        "tn": 3,
        "fn": 1,
    }
    # From 0 s: 5 cells (2.2 / 0.4 = 5.5), centres 0.2, 0.6, 1.0, 1.4, 1.8. Truth: 1.0.
    # Said: 0.6. -> TP 0, FP 1, FN 1, TN 3.
    plain = VideoForeground(2.2, 0.4, np.array([[0.6, 1.0]]))
    assert foreground_rates(gt, {"a": plain})["segments"] == {"tp": 0, "fp": 1, "tn": 3, "fn": 1}


def test_the_record_is_read_and_checked():
    entry = {"duration": 2.2, "segment_seconds": 0.4, "start_seconds": 0.2, "intervals": []}
    assert foreground_from_dict({"foreground": {"a": entry}})["a"].start_seconds == 0.2
    old = {"duration": 6.4, "intervals": []}
    read = foreground_from_dict({"foreground": {"a": old}})["a"]
    assert (read.segment_seconds, read.start_seconds) == (0.64, 0.0)
    with pytest.raises(InputFileError, match="foreground/a/start_seconds: -1"):
        foreground_from_dict({"foreground": {"a": {**entry, "start_seconds": -1}}}, "p.json")


def test_segment_units_at_the_rate_the_predictions_record():
    i3d = {"a": VideoForeground(6.4, 0.64, np.zeros((0, 2)))}
    assert segments_per_second_of(i3d) == SEGMENTS_PER_SECOND == 25 / 16
    assert segments_per_second_of({}) == 25 / 16
    fine = {"a": VideoForeground(6.4, 4 / 30, np.zeros((0, 2)))}
    rate = segments_per_second_of(fine)
    assert rate == pytest.approx(7.5)
    gt = ground_truth_to_segments(ground_truth_from_dict(GT, "test"), segments_per_second=rate)
    assert gt.start.tolist() == [5.0] and gt.end.tolist() == [10.0]  # round(0.7 * 7.5) = 5
    pred = predictions_from_dict(
        {"results": {"a": [{"segment": [0.8, 1.2], "label": "Jump", "score": 1.0}]}}
    )
    scaled = predictions_to_segments(pred, segments_per_second=rate)
    assert (scaled.start[0], scaled.end[0]) == pytest.approx((6.0, 9.0))
    assert ground_truth_to_segments(ground_truth_from_dict(GT, "test")).start.tolist() == [1.0]
    with pytest.raises(ValueError, match="several segment lengths"):
        segments_per_second_of({**i3d, "b": fine["a"]})


def test_evaluate_detection_in_segment_units_rounds_at_the_recorded_rate():
    """At 30 fps / stride 4 (7.5 segments per second) the ground truth [1, 2] s rounds to
    segments [8, 15] and the prediction [1, 2] s is [7.5, 15]: tIoU 7 / 7.5 = 0.93. At the
    published 25/16 they would be [2, 3] and [1.5625, 3.125]: tIoU 0.64, a miss at 0.9."""
    from wtal.evaluation.metrics import evaluate_detection

    gt = ground_truth_from_dict(
        {
            "database": {
                "v": {
                    "subset": "test",
                    "duration": 10.0,
                    "annotations": [{"segment": [1.0, 2.0], "label": "A"}],
                }
            }
        },
        "test",
    )
    data = {
        "results": {"v": [{"segment": [1.0, 2.0], "label": "A", "score": 0.9}]},
        "foreground": {
            "v": {
                "duration": 10.0,
                "segment_seconds": 4 / 30,
                "threshold": 0.5,
                "intervals": [[1.0, 2.0]],
            }
        },
    }
    metrics = evaluate_detection(
        gt,
        predictions_from_dict(data),
        np.array([0.9]),
        units="segments",
        foreground=foreground_from_dict(data),
    )
    assert metrics.map[0] == pytest.approx(1.0)
