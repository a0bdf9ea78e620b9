"""Segment-level foreground FPR / FNR on hand-counted cases."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wtal.errors import InputFileError
from wtal.evaluation import evaluate_files, parse_tiou_thresholds
from wtal.evaluation.foreground import VideoForeground, foreground_from_dict, foreground_rates
from wtal.evaluation.tables import ground_truth_from_dict

GT = {
    "database": {
        "a": {
            "subset": "test",
            "duration": 6.4,
            "annotations": [{"segment": [1.0, 3.0], "label": "Jump"}],
        },
        "b": {"subset": "test", "duration": 3.2, "annotations": []},
        "c": {
            "subset": "test",
            "duration": 3.2,
            "annotations": [{"segment": [0.0, 1.0], "label": "Jump"}],
        },
    }
}


def test_hand_counted_rates():
    gt = ground_truth_from_dict(GT, "test")
    # Video a: 10 segments of 0.64 s, centres 0.32, 0.96, ..., 6.08. Truth: centres 1.6, 2.24,
    # 2.88 inside [1, 3]. Said: [0.64, 1.92) holds centres 0.96 and 1.6.
    # -> TP 1 (1.6), FP 1 (0.96), FN 2 (2.24, 2.88), TN 6.
    # Video b: 5 segments, no truth, said [0, 3.2): FP 5. Video "c" has no entry: ignored.
    foreground = {
        "a": VideoForeground(6.4, 0.64, np.array([[0.64, 1.92]])),
        "b": VideoForeground(3.2, 0.64, np.array([[0.0, 3.2]])),
    }
    rates = foreground_rates(gt, foreground)
    assert rates["segments"] == {"tp": 1, "fp": 6, "tn": 6, "fn": 2}
    assert rates["videos"] == 2
    assert rates["false_positive_rate"] == pytest.approx(6 / 12)
    assert rates["false_negative_rate"] == pytest.approx(2 / 3)


def test_rates_without_positives_are_none_not_nan():
    gt = ground_truth_from_dict(GT, "test")
    rates = foreground_rates(gt, {"b": VideoForeground(3.2, 0.64, np.zeros((0, 2)))})
    assert rates["false_negative_rate"] is None
    assert rates["false_positive_rate"] == 0.0


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"a": {"intervals": []}}, "needs 'duration' and 'intervals'"),
        ({"a": {"duration": "long", "intervals": []}}, "duration: not a number"),
        ({"a": {"duration": 6.4, "intervals": [[3, 1]]}}, "ends before it starts"),
        ({"a": {"duration": 6.4, "intervals": [[1]]}}, "expected [[start, end], ...]"),
        ({"a": {"duration": 6.4, "segment_seconds": 0, "intervals": []}}, "not a valid length"),
        (
            {"a": {"duration": 10**400 - 1, "intervals": []}},
            "foreground/a/duration: an integer of 400 digits, too large for a float",
        ),
        (
            {"a": {"duration": 6.4, "intervals": [[0, 1], [2, 10**400 - 1]]}},
            "foreground/a/intervals: an integer of 400 digits, too large for a float",
        ),
    ],
)
def test_bad_foreground_entries_are_named(entry, problem):
    with pytest.raises(InputFileError, match=r"pred\.json") as caught:
        foreground_from_dict({"foreground": entry}, "pred.json")
    assert problem in str(caught.value)


def test_evaluate_files_reports_the_rates(tmp_path):
    gt_path, pred_path = tmp_path / "gt.json", tmp_path / "pred.json"
    gt_path.write_text(json.dumps(GT))
    predictions = {
        "results": {"a": [{"segment": [1.0, 3.0], "label": "Jump", "score": 0.9}]},
        "foreground": {
            "a": {"duration": 6.4, "segment_seconds": 0.64, "intervals": [[0.64, 1.92]]}
        },
    }
    pred_path.write_text(json.dumps(predictions))
    metrics = evaluate_files(gt_path, pred_path, "test", parse_tiou_thresholds("0.5"))
    out = metrics.to_dict()["foreground_classification"]
    assert out["segments"] == {"tp": 1, "fp": 1, "tn": 6, "fn": 2}
    assert out["false_positive_rate"] == pytest.approx(1 / 7)
    # Without the entry the metrics carry no rates at all.
    pred_path.write_text(json.dumps({"results": predictions["results"]}))
    plain = evaluate_files(gt_path, pred_path, "test", parse_tiou_thresholds("0.5")).to_dict()
    assert "foreground_classification" not in plain
