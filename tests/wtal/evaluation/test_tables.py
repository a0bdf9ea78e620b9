"""Reading ground truth and predictions: bad files name the file and the entry."""

from __future__ import annotations

import json
import math

import pytest

from wtal.errors import InputFileError
from wtal.evaluation.tables import (
    load_ground_truth,
    load_predictions,
    video_scores_from_dict,
)
from wtal.utils.segments import load_ambiguous_file

GT = {
    "database": {
        "v1": {
            "subset": "test",
            "duration": 30.0,
            "annotations": [{"segment": [1.0, 4.0], "label": "A"}],
        },
        "v2": {"subset": "validation", "duration": 9.0, "annotations": []},
    }
}


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_reads_the_subset_and_keeps_videos_without_instances(tmp_path):
    gt = load_ground_truth(write(tmp_path, "gt.json", GT), "validation")
    assert gt.video_ids == ("v2",)
    assert len(gt) == 0
    gt = load_ground_truth(write(tmp_path, "gt.json", GT), "test")
    assert gt.classes == ("A",)
    assert gt.start.tolist() == [1.0] and gt.end.tolist() == [4.0]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("database"), "missing the top-level 'database'"),
        (lambda d: d["database"]["v1"].pop("subset"), "database/v1: missing 'subset'"),
        (
            lambda d: d["database"]["v1"]["annotations"][0].update(segment=[5.0, 4.0]),
            "database/v1/annotations/0: segment [5.0, 4.0] is reversed",
        ),
        (
            lambda d: d["database"]["v1"]["annotations"][0].update(segment=[4.0, 4.0]),
            "zero length",
        ),
        (
            lambda d: d["database"]["v1"]["annotations"][0].pop("label"),
            "database/v1/annotations/0: needs 'segment' and 'label'",
        ),
        (lambda d: d["database"]["v1"].update(duration=-3), "'duration' must be >= 0"),
    ],
)
def test_bad_ground_truth_names_file_and_entry(tmp_path, mutate, message):
    data = json.loads(json.dumps(GT))
    mutate(data)
    path = write(tmp_path, "bad_gt.json", data)
    with pytest.raises(InputFileError, match=r"bad_gt\.json") as error:
        load_ground_truth(path, "test")
    assert message in str(error.value)


def test_unknown_subset_lists_the_known_ones(tmp_path):
    with pytest.raises(
        InputFileError, match=r"unknown subset 'tset' \(subsets in the file: test, validation\)"
    ):
        load_ground_truth(write(tmp_path, "gt.json", GT), "tset")


def test_not_json_and_missing_file(tmp_path):
    with pytest.raises(InputFileError, match="not valid JSON"):
        load_ground_truth(write(tmp_path, "gt.json", "{oops"), "test")
    with pytest.raises(InputFileError, match="file not found"):
        load_predictions(tmp_path / "nope.json")


def pred_file(tmp_path, row):
    return write(
        tmp_path,
        "pred.json",
        {"results": {"v1": [{"segment": [1, 2], "label": "A", "score": 0.5}, row]}},
    )


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"segment": [1, 2], "label": "A"}, "results/v1/1: missing 'score'"),
        (
            {"segment": [1, 2], "label": "A", "score": math.nan},
            "results/v1/1: score nan is not finite",
        ),
        (
            {"segment": [3, 2], "label": "A", "score": 0.1},
            "results/v1/1: segment [3, 2] is reversed",
        ),
        (
            {"segment": [1, 2, 3], "label": "A", "score": 0.1},
            "results/v1/1: 'segment' must be [start, end]",
        ),
        ({"segment": [1, 2], "label": 3, "score": 0.1}, "results/v1/1: 'label' must be a string"),
        (
            {"segment": [1, 2], "label": "A", "score": "high"},
            "results/v1/1: 'score' must be a number",
        ),
        (
            {"segment": ["a", 2], "label": "A", "score": 0.1},
            "results/v1/1: segment ['a', 2] is not numeric",
        ),
    ],
)
def test_bad_predictions_name_file_and_entry(tmp_path, row, message):
    with pytest.raises(InputFileError, match=r"pred\.json") as error:
        load_predictions(pred_file(tmp_path, row))
    assert message in str(error.value)


def test_predictions_keep_file_order(tmp_path):
    data = {
        "results": {
            "b": [{"segment": [1, 2], "label": "X", "score": 0.1}],
            "a": [
                {"segment": [3, 4], "label": "Y", "score": 0.2},
                {"segment": [5, 6], "label": "X", "score": 0.3},
            ],
        }
    }
    pred = load_predictions(write(tmp_path, "p.json", data))
    assert pred.video_ids == ("b", "a")
    assert pred.video.tolist() == [0, 1, 1]
    assert [pred.labels[i] for i in pred.label] == ["X", "Y", "X"]
    assert pred.start.tolist() == [1, 3, 5] and pred.score.tolist() == [0.1, 0.2, 0.3]


def test_ambiguous_file(tmp_path):
    path = write(
        tmp_path, "Ambiguous_test.txt", "video_a  0.0 1.4\nvideo_a 95.7 97.2\n\nvideo_b 3 4\n"
    )
    intervals = load_ambiguous_file(path)
    assert intervals["video_a"].tolist() == [[0.0, 1.4], [95.7, 97.2]]
    assert intervals["video_b"].tolist() == [[3.0, 4.0]]
    with pytest.raises(InputFileError, match="line 1: expected 'video start end'"):
        load_ambiguous_file(write(tmp_path, "bad.txt", "video_a 1\n"))


def test_video_scores_are_checked():
    assert video_scores_from_dict({"results": {}}) == {}
    with pytest.raises(InputFileError, match="video_scores/v/A: not a number"):
        video_scores_from_dict({"video_scores": {"v": {"A": "x"}}})


#: A JSON integer too large for a float: ``float()`` raises OverflowError (1e400 reads as inf).
HUGE = 10**400 - 1
TOO_LARGE = "an integer of 400 digits, too large for a float"


def huge_predictions(where: str) -> dict:
    rows = [{"segment": [1, 2], "label": "A", "score": 0.5} for _ in range(2)]
    data: dict = {"results": {"video_1": rows}}
    if where == "score":
        rows[1]["score"] = HUGE
    elif where == "start":
        rows[1]["segment"] = [-HUGE, 2]
    elif where == "end":
        rows[1]["segment"] = [1, HUGE]
    elif where == "video_scores":
        data["video_scores"] = {"video_1": {"A": 0.5, "B": HUGE}}
    return data


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("score", f"results/video_1/1: score is {TOO_LARGE}"),
        ("start", f"results/video_1/1: segment holds {TOO_LARGE}"),
        ("end", f"results/video_1/1: segment holds {TOO_LARGE}"),
    ],
)
def test_huge_integers_in_predictions_name_file_and_entry(tmp_path, where, message):
    path = write(tmp_path, "pred.json", huge_predictions(where))
    with pytest.raises(InputFileError) as error:
        load_predictions(path)
    assert str(error.value) == f"{path}: {message}"


def test_huge_integers_in_video_scores_name_the_entry():
    with pytest.raises(InputFileError, match=f"video_scores/video_1/B: {TOO_LARGE}"):
        video_scores_from_dict(huge_predictions("video_scores"))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda v: v["annotations"][0].update(segment=[1.0, HUGE]),
            f"database/v1/annotations/0: segment holds {TOO_LARGE}",
        ),
        (
            lambda v: v["annotations"][0].update(segment=[-HUGE, 4.0]),
            f"database/v1/annotations/0: segment holds {TOO_LARGE}",
        ),
        (lambda v: v.update(duration=HUGE), f"database/v1: 'duration' is {TOO_LARGE}"),
        (
            lambda v: v.update(ambiguous=[[0.0, 1.0], [2.0, HUGE]]),
            f"database/v1/ambiguous/1: segment holds {TOO_LARGE}",
        ),
    ],
)
def test_huge_integers_in_ground_truth_name_file_and_entry(tmp_path, mutate, message):
    data = json.loads(json.dumps(GT))
    mutate(data["database"]["v1"])
    path = write(tmp_path, "gt.json", data)
    with pytest.raises(InputFileError) as error:
        load_ground_truth(path, "test")
    assert str(error.value) == f"{path}: {message}"


def test_a_subset_is_found_under_either_spelling():
    """The authors' ActivityNet1.3 files say val / train, the official release validation /
    training: `wtal evaluate --subset val` on a file that says validation (and back)."""
    from wtal.evaluation.tables import ground_truth_from_dict

    entry = {"annotations": [{"segment": [1.0, 2.0], "label": "A"}]}
    data = {"database": {"a": {**entry, "subset": "validation"}, "b": {**entry, "subset": "val"},
                         "c": {**entry, "subset": "training"}}}  # fmt: skip
    assert ground_truth_from_dict(data, "val").video_ids == ("a", "b")
    assert ground_truth_from_dict(data, "train").video_ids == ("c",)
