"""Running out of memory ends in one line naming the file at work and its size."""

from __future__ import annotations

import json

import pytest

import wtal.evaluation.metrics as metrics
from wtal.errors import WtalError
from wtal.evaluation import evaluate_files, parse_tiou_thresholds

GT = {
    "database": {
        "v": {"subset": "test", "annotations": [{"segment": [1.0, 4.0], "label": "A"}]},
    }
}
PRED = {"results": {"v": [{"segment": [1.0, 4.0], "label": "A", "score": 0.5}] * 3}}


@pytest.fixture
def files(tmp_path):
    gt, pred = tmp_path / "gt.json", tmp_path / "pred.json"
    gt.write_text(json.dumps(GT))
    pred.write_text(json.dumps(PRED))
    return gt, pred


def test_matching_out_of_memory_names_the_predictions_and_their_size(files, monkeypatch):
    gt, pred = files
    numpy_says = "Unable to allocate 1.65 TiB for an array with shape (7, 3) and data type bool"

    def exhausted(*args, **kwargs):
        raise MemoryError(numpy_says)

    monkeypatch.setattr(metrics, "match_predictions", exhausted)
    with pytest.raises(WtalError) as error:
        evaluate_files(gt, pred, "test", parse_tiou_thresholds("0.1:0.7:0.1"))
    size = pred.stat().st_size
    assert str(error.value) == (
        f"{pred}: evaluation ran out of memory matching its 3 predictions at 7 tIoU thresholds "
        f"(the file is {size} bytes; {numpy_says})"
    )


def test_reading_out_of_memory_names_the_ground_truth(files, monkeypatch):
    gt, pred = files
    real_load = json.load

    def load(handle, **kwargs):
        if handle.name == str(gt):
            raise MemoryError
        return real_load(handle, **kwargs)

    monkeypatch.setattr(json, "load", load)
    with pytest.raises(WtalError) as error:
        evaluate_files(gt, pred, "test", parse_tiou_thresholds("0.5"))
    size = gt.stat().st_size
    assert str(error.value) == (
        f"{gt}: evaluation ran out of memory reading it (the file is {size} bytes)"
    )
