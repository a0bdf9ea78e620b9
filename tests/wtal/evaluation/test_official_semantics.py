"""What the official ActivityNet evaluator does with odd inputs, and so must we: segments that
start before 0 are scored as they are, mAP over no ground truth is undefined (never 0), and
predictions that mostly miss the evaluated subset are pointed out."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.wtal.evaluation.reference import reference_ap
from wtal.errors import InputFileError
from wtal.evaluation import evaluate_detection, evaluate_files, format_markdown, format_table
from wtal.evaluation.tables import (
    GroundTruth,
    ground_truth_from_dict,
    load_predictions,
    predictions_from_dict,
)

TIOU = np.array([0.5, 0.7])


def gt_dict(rows, subset="test", extra=None):
    database = {}
    for video, label, s, e in rows:
        database.setdefault(video, {"subset": subset, "duration": 60.0, "annotations": []})
        database[video]["annotations"].append({"segment": [s, e], "label": label})
    database.update(extra or {})
    return {"database": database}


def pred_dict(rows):
    results = {}
    for video, label, s, e, score in rows:
        results.setdefault(video, []).append({"segment": [s, e], "label": label, "score": score})
    return {"results": results}


def test_a_prediction_starting_before_0_is_scored_as_it_is():
    # tIoU([-1, 3], [0, 4]) = 3 / 5 = 0.6: a hit at 0.5, a miss at 0.7. Clipping the
    # prediction to [0, 3] would give 0.75 and a hit at 0.7 too.
    gt_rows, pred_rows = [("v", "A", 0.0, 4.0)], [("v", "A", -1.0, 3.0, 0.9)]
    gt = ground_truth_from_dict(gt_dict(gt_rows), "test")
    pred = predictions_from_dict(pred_dict(pred_rows))
    metrics = evaluate_detection(gt, pred, TIOU)
    assert metrics.ap.tolist() == [[1.0], [0.0]]
    assert metrics.ap.tolist() == reference_ap(gt_rows, pred_rows, TIOU).tolist()
    assert metrics.counts["predictions_starting_before_0"] == 1
    assert metrics.counts["ground_truth_starting_before_0"] == 0
    assert any("1 prediction(s) start before 0" in note for note in metrics.notes)


def test_ground_truth_starting_before_0_is_scored_as_it_is():
    # tIoU([0, 4], [-2, 4]) = 4 / 6: a hit at 0.5 only (clipped ground truth would match at 0.7).
    gt_rows, pred_rows = [("v", "A", -2.0, 4.0)], [("v", "A", 0.0, 4.0, 0.9)]
    gt = ground_truth_from_dict(gt_dict(gt_rows), "test")
    metrics = evaluate_detection(gt, predictions_from_dict(pred_dict(pred_rows)), TIOU)
    assert metrics.ap.tolist() == reference_ap(gt_rows, pred_rows, TIOU).tolist() == [[1.0], [0.0]]
    assert metrics.counts["ground_truth_starting_before_0"] == 1


@pytest.mark.parametrize(
    ("segment", "problem"),
    [([3.0, 1.0], "is reversed"), ([math.inf, 4.0], "is not finite")],
)
def test_reversed_and_non_finite_segments_are_still_refused(segment, problem):
    with pytest.raises(InputFileError, match=problem):
        predictions_from_dict(pred_dict([("v", "A", *segment, 0.5)]), "p.json")
    with pytest.raises(InputFileError, match=problem):
        ground_truth_from_dict(gt_dict([("v", "A", *segment)]), "test", "gt.json")


def test_a_score_too_large_for_a_float_is_refused_naming_file_and_entry(tmp_path):
    path = tmp_path / "pred.json"
    path.write_text('{"results": {"v": [{"segment": [1, 2], "label": "A", "score": 1e400}]}}')
    with pytest.raises(InputFileError) as error:
        load_predictions(path)
    message = str(error.value)
    assert message.startswith(f"{path}: results/v/0: score inf is not finite")
    assert "too large for a float" in message


def test_a_subset_without_ground_truth_instances_has_undefined_map():
    data = gt_dict([("v", "A", 0.0, 4.0)])
    data["database"]["w"] = {"subset": "validation", "duration": 9.0, "annotations": []}
    gt = ground_truth_from_dict(data, "validation")
    pred = predictions_from_dict(pred_dict([("w", "A", 0.0, 4.0, 0.9)]))
    with pytest.warns(UserWarning, match="absent from the ground truth: A"):
        metrics = evaluate_detection(gt, pred, np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]))
    assert np.isnan(metrics.map).all() and math.isnan(metrics.average_map)
    out = metrics.to_dict()
    assert out["mAP"] == [None] * 7 and out["average_mAP"] is None
    assert set(out["average_mAP_ranges"].values()) == {None}
    json.dumps(out, allow_nan=False)  # valid JSON: null, not NaN
    table = format_table(metrics)
    assert "n/a" in table and "0.00" not in table
    markdown = format_markdown(metrics)
    assert "| n/a |" in markdown and "0.00" not in markdown


def test_a_class_without_instances_has_undefined_ap_and_stays_out_of_the_mean():
    # The official evaluator builds its class index from the ground truth, so such a class
    # never enters its mean; a class with instances but no predictions scores 0 (as there).
    gt = GroundTruth(
        video_ids=("v",),
        classes=("A", "B", "C"),
        video=np.array([0, 0]),
        label=np.array([0, 2]),
        start=np.array([0.0, 10.0]),
        end=np.array([4.0, 14.0]),
    )
    pred = predictions_from_dict(pred_dict([("v", "A", 0.0, 4.0, 0.9), ("v", "B", 0, 4, 0.8)]))
    metrics = evaluate_detection(gt, pred, np.array([0.5]))
    assert metrics.to_dict()["per_class_AP"] == {"A": [1.0], "B": [None], "C": [0.0]}
    assert metrics.map.tolist() == [0.5]


def test_predictions_mostly_outside_the_subset_are_pointed_out(tmp_path):
    data = gt_dict([("v", "A", 0.0, 4.0)])
    data["database"]["val"] = {
        "subset": "validation",
        "duration": 9.0,
        "annotations": [{"segment": [1.0, 2.0], "label": "A"}],
    }
    (tmp_path / "gt.json").write_text(json.dumps(data))
    rows = [("v", "A", 0.0, 4.0, 0.9)]
    rows += [("val", "A", 1.0, 2.0, 0.5)] * 3 + [("elsewhere", "A", 1.0, 2.0, 0.5)] * 2
    (tmp_path / "pred.json").write_text(json.dumps(pred_dict(rows)))
    metrics = evaluate_files(tmp_path / "gt.json", tmp_path / "pred.json", "test", TIOU)
    assert metrics.counts["predictions_in_other_subsets"] == 3
    assert metrics.counts["predictions_in_videos_not_in_ground_truth"] == 2
    assert metrics.counts["predictions_in_videos_without_ground_truth"] == 5
    (note,) = [n for n in metrics.notes if "outside subset" in n]
    assert "5 of 6 predictions (83%) are in videos outside subset 'test'" in note
    assert "3 in other subsets" in note and "2 in videos the ground truth does not list" in note
    # Half or fewer: no note.
    (tmp_path / "pred.json").write_text(json.dumps(pred_dict(rows[:2] + rows[:2])))
    metrics = evaluate_files(tmp_path / "gt.json", tmp_path / "pred.json", "test", TIOU)
    assert not [n for n in metrics.notes if "outside subset" in n]
