"""Detection mAP: hand-computed cases, a simple reference, and the official evaluator's numbers."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.wtal.evaluation.perturb import perturbed_predictions
from tests.wtal.evaluation.reference import reference_ap, rows_from_tables, tables_from_rows
from wtal.evaluation.detection import detection_ap, interpolated_average_precision
from wtal.evaluation.tables import ground_truth_from_dict, predictions_from_dict

THUMOS_TIOU = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])


def ap_of(gt_rows, pred_rows, thresholds=(0.5,)):
    gt, pred = tables_from_rows(gt_rows, pred_rows)
    return detection_ap(gt, pred, np.asarray(thresholds))


def test_duplicate_detection_is_a_false_positive_after_the_match():
    # TP then FP at recall 1: precision [1, .5] -> interpolated AP 1.
    ap = ap_of([("v", "A", 0, 10)], [("v", "A", 0, 10, 0.9), ("v", "A", 0, 10, 0.8)])
    assert ap[0, 0] == 1.0
    # FP first: precision [0, .5], recall [0, 1] -> AP 0.5.
    ap = ap_of([("v", "A", 0, 10)], [("v", "A", 0, 10, 0.8), ("v", "A", 30, 40, 0.9)])
    assert ap[0, 0] == 0.5


def test_score_ties_are_visited_as_the_official_argsort_reversed():
    # Equal scores: argsort()[::-1] visits the second file row first (the FP), then the TP.
    ap = ap_of([("v", "A", 0, 10)], [("v", "A", 0, 10, 0.5), ("v", "A", 20, 30, 0.5)])
    assert ap[0, 0] == 0.5
    ap = ap_of([("v", "A", 0, 10)], [("v", "A", 20, 30, 0.5), ("v", "A", 0, 10, 0.5)])
    assert ap[0, 0] == 1.0


def test_no_predictions_at_all_gives_zero():
    gt, _ = tables_from_rows([("v", "A", 0, 10), ("w", "B", 3, 4)], [])
    pred = predictions_from_dict({"results": {}})
    ap = detection_ap(gt, pred, THUMOS_TIOU)
    assert ap.shape == (7, 2)
    assert not ap.any()


def test_a_class_without_predictions_counts_zero_in_the_mean():
    ap = ap_of([("v", "A", 0, 10), ("v", "B", 20, 30)], [("v", "A", 0, 10, 0.9)])
    assert ap.tolist() == [[1.0, 0.0]]
    assert ap.mean() == 0.5


def test_predictions_in_videos_without_ground_truth_are_false_positives():
    ap = ap_of([("v", "A", 0, 10)], [("w", "A", 0, 10, 0.9), ("v", "A", 0, 10, 0.8)])
    assert ap[0, 0] == 0.5
    # ... also when the video has ground truth of another class only.
    ap = ap_of(
        [("v", "A", 0, 10), ("w", "B", 0, 10)],
        [("w", "A", 0, 10, 0.9), ("v", "A", 0, 10, 0.8), ("w", "B", 0, 10, 0.1)],
    )
    assert ap[0].tolist() == [0.5, 1.0]


def test_predictions_of_classes_absent_from_ground_truth_are_ignored_with_a_warning():
    gt, pred = tables_from_rows(
        [("v", "A", 0, 10)], [("v", "Z", 0, 10, 0.99), ("v", "A", 0, 10, 0.5)]
    )
    with pytest.warns(UserWarning, match="absent from the ground truth: Z"):
        ap = detection_ap(gt, pred, np.array([0.5]))
    assert ap.tolist() == [[1.0]]


def test_match_goes_to_the_unmatched_instance_with_highest_tiou():
    gt = [("v", "A", 0, 10), ("v", "A", 8, 20)]
    # p1 [0, 9]: tIoU .9 with g1, 1/20 with g2 -> g1.  p2 [1, 10]: g1 taken; g2 at 2/19 = .105.
    pred = [("v", "A", 0, 9, 0.9), ("v", "A", 1, 10, 0.8)]
    ap = ap_of(gt, pred, thresholds=(0.1, 0.5))
    assert ap[0, 0] == 1.0  # both TP at 0.1
    assert ap[1, 0] == 0.5  # TP, FP at 0.5: precision [1, .5], recall [.5, .5]


def test_tiou_equal_to_the_threshold_matches():
    assert ap_of([("v", "A", 0, 10)], [("v", "A", 0, 5, 1.0)], thresholds=(0.5,))[0, 0] == 1.0
    assert ap_of([("v", "A", 0, 10)], [("v", "A", 0, 4.9, 1.0)], thresholds=(0.5,))[0, 0] == 0.0


def test_interpolation_takes_the_right_maximum_of_precision():
    # TP FP TP FP TP over 3 instances: precision [1, .5, 2/3, .5, .6], recall thirds.
    gt = [("v", "A", 0, 1), ("v", "A", 10, 11), ("v", "A", 20, 21)]
    pred = [
        ("v", "A", 0, 1, 0.9),
        ("v", "A", 50, 51, 0.8),
        ("v", "A", 10, 11, 0.7),
        ("v", "A", 60, 61, 0.6),
        ("v", "A", 20, 21, 0.5),
    ]
    expected = (1.0 + 2 / 3 + 0.6) / 3
    assert ap_of(gt, pred)[0, 0] == pytest.approx(expected, abs=1e-15)
    assert interpolated_average_precision(
        np.array([1, 0.5, 2 / 3, 0.5, 0.6]), np.array([1, 1, 2, 2, 3]) / 3
    ) == pytest.approx(expected, abs=1e-15)


def test_duplicate_ground_truth_instances_are_matched_once_each():
    gt = [("v", "A", 0, 10), ("v", "A", 0, 10)]
    pred = [("v", "A", 0, 10, 0.9), ("v", "A", 0, 10, 0.8), ("v", "A", 0, 10, 0.7)]
    # Two TPs then a FP: precision [1, 1, 2/3], recall [.5, 1, 1] -> AP 1.
    assert ap_of(gt, pred)[0, 0] == 1.0


_rows = rows_from_tables


segment = st.tuples(st.integers(0, 40), st.integers(1, 15)).map(lambda t: (t[0], t[0] + t[1]))
gt_row = st.tuples(st.sampled_from("uvw"), st.sampled_from("AB"), segment)
pred_row = st.tuples(
    st.sampled_from("uvwx"),
    st.sampled_from("AB"),
    segment,
    st.sampled_from([0.1, 0.3, 0.5, 0.7, 0.9]),
)


@pytest.mark.filterwarnings("ignore:ignored .* predictions")
@settings(max_examples=300, deadline=None)
@given(st.lists(gt_row, min_size=1, max_size=12), st.lists(pred_row, max_size=40))
def test_matches_the_simple_reference(gt_rows, pred_rows):
    gt_rows = [(v, c, float(s), float(e)) for v, c, (s, e) in gt_rows]
    pred_rows = [(v, c, float(s), float(e), sc) for v, c, (s, e), sc in pred_rows]
    thresholds = np.array([0.1, 0.3, 0.5, 0.7])
    gt, pred = tables_from_rows(gt_rows, pred_rows)
    np.testing.assert_allclose(
        detection_ap(gt, pred, thresholds), reference_ap(*_rows(gt, pred), thresholds), atol=1e-12
    )


@pytest.mark.parametrize(
    ("seed", "ties", "official"),
    [
        # mAP@0.1..0.7 printed by ActivityNet's eval_detection.py (a Python-3 transcription run
        # with pandas) on the same predictions: the independent oracle.
        (
            2023,
            False,
            [
                0.3851775466948886,
                0.37248897284077603,
                0.3594161242530354,
                0.328408051257348,
                0.28119289740956344,
                0.19898016812588276,
                0.09732084008870864,
            ],
        ),
        (
            7,
            True,
            [
                0.3749315771120931,
                0.36162048421444337,
                0.3454397424726815,
                0.3233224048369777,
                0.2794221338683597,
                0.20356442093577237,
                0.10458017066952743,
            ],
        ),
    ],
)
def test_equals_the_official_evaluator_on_real_thumos14(thumos_ground_truth, seed, ties, official):
    data = json.loads(thumos_ground_truth.read_text())
    preds = perturbed_predictions(data, "test", seed, tie_scores=ties)
    gt = ground_truth_from_dict(data, "test")
    pred = predictions_from_dict(preds)
    ap = detection_ap(gt, pred, THUMOS_TIOU)
    np.testing.assert_allclose(ap.mean(axis=1), official, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ap, reference_ap(*_rows(gt, pred), THUMOS_TIOU), atol=1e-12)


def test_equals_the_official_evaluator_at_activitynet_thresholds(thumos_ground_truth):
    official = [
        0.27110811092956855,
        0.22837172298337055,
        0.18285501023053308,
        0.1384686704962524,
        0.09007443034612404,
        0.05051754861114777,
        0.02205090835743092,
        0.007879697327263104,
        0.0018894972002696975,
        0.0002178330537296738,
    ]
    data = json.loads(thumos_ground_truth.read_text())
    gt = ground_truth_from_dict(data, "test")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ap = detection_ap(
            gt,
            predictions_from_dict(perturbed_predictions(data, "test", 11)),
            np.linspace(0.5, 0.95, 10),
        )
    np.testing.assert_allclose(ap.mean(axis=1), official, rtol=0, atol=1e-12)
