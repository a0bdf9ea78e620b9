"""One rule for video ids, applied by every reader: ids name files, folders and Snakemake
targets, so an id that climbs out of a folder or reads as a wildcard is refused, naming the
file and the id."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.wtal.data.fixtures import write_wtalc
from wtal.data import read_activitynet, read_wtalc
from wtal.data.actionformer import read_actionformer
from wtal.errors import InputFileError
from wtal.utils.ids import check_video_id, video_id_problem

BAD_IDS = [
    ("../../x/v", "a slash"),
    ("a/b", "a slash"),
    ("a\\b", "a backslash"),
    ("..", "cannot name a file"),
    (".", "cannot name a file"),
    ("", "cannot name a file"),
    ("v{1}", "a brace"),
    ("v}", "a brace"),
    ("a\0b", "a control character"),
    ("a\nb", "a control character"),
    ("x" * 201, "longer than 200 bytes"),
]
GOOD_IDS = ["video_test_0000001", "v_-0Rb0wVVZ6Q", "-0Rb0wVVZ6Q", "a b", "видео", "x" * 200]


@pytest.mark.parametrize(("video_id", "problem"), BAD_IDS)
def test_the_rule_names_the_problem(video_id, problem):
    assert problem in video_id_problem(video_id)
    with pytest.raises(InputFileError, match=r"ann\.json: row 3: video id") as caught:
        check_video_id("ann.json", video_id, "row 3")
    assert len(str(caught.value)) < 200  # a long id is quoted as an excerpt


@pytest.mark.parametrize("video_id", GOOD_IDS)
def test_ordinary_ids_pass(video_id):
    assert video_id_problem(video_id) is None
    assert check_video_id("ann.json", video_id) == video_id


def test_a_non_string_id_is_refused():
    assert "is not a string" in video_id_problem(7)


def activitynet_file(tmp_path, video_id):
    path = tmp_path / "ann.json"
    entry = {"subset": "train", "duration": 10.0,
             "annotations": [{"segment": [1.0, 2.0], "label": "Jump"}]}  # fmt: skip
    path.write_text(json.dumps({"database": {"ok": entry, video_id: entry}}))
    return path


@pytest.mark.parametrize(("video_id", "problem"), BAD_IDS)
def test_the_activitynet_reader_refuses_a_bad_id(tmp_path, video_id, problem):
    path = activitynet_file(tmp_path, video_id)
    with pytest.raises(InputFileError) as caught:
        read_activitynet(path)
    assert str(path) in str(caught.value) and problem in str(caught.value)


def test_features_outside_the_features_folder_are_never_read(tmp_path):
    """The id ``../outside/v`` would have read ``<features>/../outside/v.npy``."""
    features = tmp_path / "features"
    features.mkdir()
    (tmp_path / "outside").mkdir()
    np.save(tmp_path / "outside" / "v.npy", np.ones((4, 2048), np.float32))
    path = activitynet_file(tmp_path, "../outside/v")
    with pytest.raises(InputFileError, match="a slash"):
        read_activitynet(path, features)


def test_the_actionformer_reader_refuses_a_bad_id(tmp_path):
    path = tmp_path / "thumos14.json"
    entry = {"subset": "Test", "duration": 10.0, "fps": 30.0,
             "annotations": [{"segment": [1.0, 2.0], "label": "Jump", "label_id": 0}]}  # fmt: skip
    path.write_text(json.dumps({"database": {"v{1}": entry}}))
    with pytest.raises(InputFileError) as caught:
        read_actionformer(path)
    assert str(path) in str(caught.value) and "a brace" in str(caught.value)


def test_the_wtalc_reader_refuses_a_bad_id_naming_its_row(tmp_path):
    folder = write_wtalc(tmp_path / "ann", with_features=False)
    np.save(folder / "videoname.npy", np.array([b"v_train", b"../v", b"v_test_bad"]))
    with pytest.raises(InputFileError) as caught:
        read_wtalc(folder)
    message = str(caught.value)
    assert str(folder / "videoname.npy") in message and "row 1" in message
    assert "a slash" in message
