"""Protocol helpers: thresholds, ambiguous filtering, segment units."""

from __future__ import annotations

import numpy as np
import pytest

from wtal.evaluation.metrics import evaluate_detection
from wtal.evaluation.protocol import (
    MAX_TIOU_THRESHOLDS,
    filter_ambiguous,
    ground_truth_to_segments,
    parse_tiou_thresholds,
    predictions_to_segments,
)
from wtal.evaluation.tables import ground_truth_from_dict, predictions_from_dict


def test_parse_ranges_give_the_decimal_values():
    values = parse_tiou_thresholds("0.1:0.7:0.1")
    assert values.tolist() == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    assert values[2] == 0.3  # not 0.30000000000000004: a tIoU of exactly 3/10 must pass
    assert parse_tiou_thresholds("0.5:0.95:0.05").size == 10
    assert parse_tiou_thresholds("0.3,0.5,0.7").tolist() == [0.3, 0.5, 0.7]


@pytest.mark.parametrize("spec", ["", "0.1:0.7", "0.7:0.1:0.1", "0:0.5:0.1", "a,b", "1.5"])
def test_parse_rejects_bad_specs(spec):
    with pytest.raises(ValueError, match="bad tIoU thresholds"):
        parse_tiou_thresholds(spec)


def preds(rows):
    results: dict = {}
    for video, s, e in rows:
        results.setdefault(video, []).append({"segment": [s, e], "label": "A", "score": 0.5})
    return predictions_from_dict({"results": results})


def test_ambiguous_filter_in_seconds_drops_overlaps_only():
    pred = preds([("v", 0.0, 1.0), ("v", 1.0, 2.0), ("v", 1.9, 5.0), ("w", 1.5, 1.6), ("v", 7, 8)])
    kept, dropped = filter_ambiguous(pred, {"v": np.array([[1.5, 2.0], [6.0, 6.5]])})
    # [0,1] and [7,8] touch nothing; [1,2] and [1.9,5] overlap [1.5,2]; w has no intervals.
    assert dropped == 2
    assert list(zip(kept.start.tolist(), kept.end.tolist(), strict=True)) == [
        (0, 1),
        (7, 8),
        (1.5, 1.6),
    ]
    touching = preds([("v", 2.0, 3.0)])
    assert filter_ambiguous(touching, {"v": np.array([[1.5, 2.0]])})[1] == 0


def test_ambiguous_filter_in_segments_uses_integer_ranges():
    # Interval [1.0, 2.0] s -> segments [round(1.5625), round(3.125)) = [2, 3).
    interval = {"v": np.array([[1.0, 2.0]])}
    pred = preds([("v", 0.0, 2.0), ("v", 0.0, 2.9), ("v", 2.5, 2.9), ("v", 3.0, 6.0)])
    kept, dropped = filter_ambiguous(pred, interval, units="segments")
    # [0,2) misses {2}; [0,2.9)->[0,2) misses; [2.5,2.9)->[2,2) is empty; [3,6) misses.
    assert dropped == 0 and len(kept) == 4
    pred = preds([("v", 2.0, 3.0), ("v", 1.0, 5.0)])
    assert filter_ambiguous(pred, interval, units="segments")[1] == 2


def test_segment_units_round_half_to_even_like_python_round():
    gt = ground_truth_from_dict(
        {
            "database": {
                "v": {"subset": "test", "annotations": [{"segment": [1.6, 2.72], "label": "A"}]}
            }
        },
        "test",
    )
    seg = ground_truth_to_segments(gt)
    # 1.6 * 25/16 = 2.5 -> 2 (half to even); 2.72 * 25/16 = 4.25 -> 4.
    assert seg.start.tolist() == [round(1.6 * 25 / 16)] == [2.0]
    assert seg.end.tolist() == [4.0]
    assert predictions_to_segments(preds([("v", 1.6, 3.2)])).end.tolist() == [5.0]


def test_a_range_is_capped_before_anything_is_allocated():
    # A step of 1e-9 once asked numpy for 600 million thresholds (and the matcher for TiBs).
    with pytest.raises(ValueError, match=r"600,000,001 thresholds, at most 1,000"):
        parse_tiou_thresholds("0.1:0.7:1e-9")
    assert parse_tiou_thresholds("0.001:1:0.001").size == MAX_TIOU_THRESHOLDS == 1000
    with pytest.raises(ValueError, match="at most 1,000"):
        parse_tiou_thresholds(",".join(["0.5"] * 1001))


@pytest.mark.parametrize("spec", ["0.1:0.7:5e-324", "0.1:inf:0.1", "nan:0.7:0.1", "0.1:0.7:nan"])
def test_a_range_of_non_finite_or_underflowing_numbers_is_refused(spec):
    with pytest.raises(ValueError, match="bad tIoU thresholds"):
        parse_tiou_thresholds(spec)


def one_instance(start: float, end: float, ambiguous=None):
    entry = {"subset": "test", "annotations": [{"segment": [start, end], "label": "A"}]}
    if ambiguous is not None:
        entry["ambiguous"] = ambiguous
    return ground_truth_from_dict({"database": {"v": entry}}, "test")


def test_segment_boundaries_written_in_seconds_come_back_as_the_integers_they_were():
    """A detection of segments [0, 29) is written as [0, 18.56] s; 18.56 x 25/16 is
    28.999999999999996, so against ground truth [0, 58) its tIoU fell just below 0.5 and the
    exact tie was lost (always downwards), as the authors' integer evaluation never does."""
    gt = one_instance(0.0, 58 * 0.64)
    for boundaries in ((0, 29), (29, 58), (58, 116), (116, 232)):
        start, end = (b * 0.64 for b in boundaries)
        segments = predictions_to_segments(preds([("v", start, end)]))
        assert (segments.start.tolist(), segments.end.tolist()) == (
            [boundaries[0]],
            [boundaries[1]],
        )
    pred = preds([("v", 0.0, 29 * 0.64)])
    metrics = evaluate_detection(gt, pred, np.array([0.5]), units="segments")
    assert metrics.map.tolist() == [1.0]  # tIoU exactly 29 / 58 = 0.5


@pytest.mark.parametrize(
    ("interval", "dropped"),
    [((57, 58), 1),  # the prediction covers segment 57: it was kept ([28, 57) after truncation)
     ((28, 29), 0)],  # it does not cover segment 28: it was dropped
)  # fmt: skip
def test_the_ambiguous_filter_sees_the_integer_segments_of_a_prediction(interval, dropped):
    """The authors' filter compares range(int(s), int(e)) with the interval's segments; the
    seconds of [29, 58) truncated to [28, 57)."""
    gt = one_instance(0.0, 100 * 0.64, ambiguous=[[interval[0] * 0.64, interval[1] * 0.64]])
    pred = preds([("v", 29 * 0.64, 58 * 0.64)])
    metrics = evaluate_detection(
        gt, pred, np.array([0.5]), units="segments", filter_ambiguous_intervals=True
    )
    assert metrics.counts["predictions_dropped_ambiguous"] == dropped
