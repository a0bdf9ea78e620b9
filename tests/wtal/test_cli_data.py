"""The commands that read datasets and predictions refuse what would silently give wrong numbers
(one line, exit 1, the file named) and warn about what the official evaluator accepts."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from tests.wtal.data.fixtures import object_array, write_wtalc
from tests.wtal.test_cli import run_cli


def assert_refused(result, *needles: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)


GT = json.dumps(
    {
        "database": {
            "v1": {
                "subset": "test",
                "duration": 60,
                "annotations": [{"segment": [10, 20], "label": "A"}],
            },
            "v2": {
                "subset": "test",
                "duration": 60,
                "annotations": [{"segment": [5, 9], "label": "A"}],
            },
        }
    }
)
PRED = '{"results": {"v1": [{"segment": [10, 20], "label": "A", "score": 0.9}]}}'


def evaluate(tmp_path, gt_text=GT, pred_text=PRED, *extra):
    gt, pred = tmp_path / "gt.json", tmp_path / "pred.json"
    gt.write_text(gt_text)
    pred.write_text(pred_text)
    args = ["evaluate", "--ground-truth", str(gt), "--predictions", str(pred), *extra]
    return run_cli(*args), gt, pred


def test_evaluate_refuses_a_video_listed_twice_in_the_ground_truth(tmp_path):
    # json.load would keep the second v1 only: its instance [10, 20] would be lost.
    twice = GT.replace('"v2"', '"v1"')
    result, gt, _ = evaluate(tmp_path, twice)
    assert_refused(result, f"{gt}: duplicate key 'v1'")


def test_evaluate_refuses_a_video_listed_twice_in_the_predictions(tmp_path):
    pred_text = (
        '{"results": {"v1": [{"segment": [10, 20], "label": "A", "score": 0.9}],'
        ' "v1": [{"segment": [40, 50], "label": "A", "score": 0.1}]}}'
    )
    result, _, pred = evaluate(tmp_path, GT, pred_text)
    assert_refused(result, f"{pred}: duplicate key 'v1'")


def test_evaluate_refuses_a_score_too_large_for_a_float(tmp_path):
    result, _, pred = evaluate(tmp_path, GT, PRED.replace("0.9", "1e400"))
    assert_refused(result, f"{pred}: results/v1/0: score inf is not finite", "1e400")


def test_evaluate_scores_a_prediction_starting_before_0_with_a_warning(tmp_path):
    # tIoU([-2, 18], [10, 20]) = 8 / 22 = 0.36: a hit up to tIoU 0.3 on v1; v2 is missed.
    pred_text = PRED.replace("[10, 20]", "[-2, 18]")
    result, _, _ = evaluate(tmp_path, GT, pred_text, "--output", str(tmp_path / "m.json"))
    assert result.returncode == 0, result.stderr
    assert "wtal evaluate: warning: 1 prediction(s) start before 0: scored as they are" in (
        result.stderr
    )
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["mAP"] == [0.5, 0.5, 0.5, 0.0, 0.0, 0.0, 0.0]
    assert metrics["counts"]["predictions_starting_before_0"] == 1


def test_evaluate_a_subset_without_instances_prints_n_a_and_writes_null(tmp_path):
    gt_text = GT.replace('"v2": {"subset": "test"', '"v2": {"subset": "validation"')
    gt_text = gt_text.replace('[{"segment": [5, 9], "label": "A"}]', "[]")
    out = tmp_path / "m.json"
    result, _, _ = evaluate(tmp_path, gt_text, PRED, "--subset", "validation", "--output", str(out))
    assert result.returncode == 0, result.stderr
    table_row = result.stdout.splitlines()[1]
    assert table_row.split()[2:] == ["n/a"] * 10 and "0.00" not in result.stdout
    assert "mAP is undefined" in result.stderr
    metrics = json.loads(out.read_text())
    assert metrics["mAP"] == [None] * 7 and metrics["average_mAP"] is None


def test_evaluate_says_when_most_predictions_miss_the_subset(tmp_path):
    gt_text = GT.replace('"v2": {"subset": "test"', '"v2": {"subset": "validation"')
    rows = [{"segment": [10, 20], "label": "A", "score": 0.9}]
    other = [{"segment": [5, 9], "label": "A", "score": 0.5}] * 2
    pred = {"results": {"v1": rows, "v2": other, "v9": other}}
    result, _, _ = evaluate(tmp_path, gt_text, json.dumps(pred))
    assert result.returncode == 0, result.stderr
    assert (
        "wtal evaluate: warning: 4 of 5 predictions (80%) are in videos outside subset 'test': "
        "2 in other subsets, 2 in videos the ground truth does not list"
    ) in result.stderr


def test_dataset_info_refuses_a_video_listed_twice_in_annotation_json(tmp_path):
    path = tmp_path / "gt.json"
    path.write_text(GT.replace('"v2"', '"v1"'))
    result = run_cli("dataset-info", str(path), "--format", "activitynet")
    assert_refused(result, f"{path}: duplicate key 'v1'")


@pytest.mark.parametrize("command", ["dataset-info", "convert-annotations"])
def test_a_name_listed_twice_in_real_thumos14_is_refused(thumos_annotations, tmp_path, command):
    # Observed: dataset-info said "quirks: none"; convert-annotations listed 412 videos and
    # wrote 411, the training video video_validation_0000051 having become a test video.
    folder = tmp_path / "thumos14"
    shutil.copytree(thumos_annotations, folder)
    for path in folder.iterdir():
        path.chmod(0o644)
    names = np.load(folder / "videoname.npy")
    names[300] = names[0]
    np.save(folder / "videoname.npy", names)
    extra = ["--output", str(tmp_path / "out.json")]
    result = run_cli(command, str(folder), *extra)
    assert_refused(
        result,
        f"{folder / 'videoname.npy'}: video 'video_validation_0000051' is listed twice",
        "rows 0 and 300",
    )
    assert not (tmp_path / "out.json").exists()


def test_dataset_info_refuses_non_finite_features_naming_video_file_and_segment(tmp_path):
    folder = write_wtalc(tmp_path / "ann")
    feats = list(np.load(folder / "features.npy", allow_pickle=True))
    feats[2][30, 1500] = np.nan
    np.save(folder / "features.npy", object_array(feats), allow_pickle=True)
    features = folder / "features.npy"
    result = run_cli("dataset-info", str(folder), "--features", str(features))
    assert_refused(result, f"{features}: video 'v_test_bad'", "not finite", "segment 30")


def test_dataset_info_refuses_an_odd_feature_width(tmp_path):
    folder = write_wtalc(tmp_path / "ann")
    feats = [f[:, :2047] for f in np.load(folder / "features.npy", allow_pickle=True)]
    np.save(folder / "features.npy", object_array(feats), allow_pickle=True)
    features = folder / "features.npy"
    result = run_cli("dataset-info", str(folder), "--features", str(features))
    assert_refused(result, f"{features}: video 'v_train': 2047 channels, not RGB + flow halves")
