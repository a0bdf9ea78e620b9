"""What every dataset reader checks as it reads: duplicated video names, non-finite features,
feature widths that cannot be RGB + flow halves, and ground truth that starts before 0."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from tests.wtal.data.fixtures import object_array, write_wtalc
from wtal.data import read_activitynet, read_wtalc
from wtal.errors import InputFileError


def copy_of(folder, tmp_path):
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    for path in copy.iterdir():
        path.chmod(0o644)
    return copy


def test_a_duplicated_name_in_the_real_thumos14_videoname_is_refused(thumos_annotations, tmp_path):
    # A training video's name written again over a test row: the reader used to merge the two
    # (the training video became a test video; 412 videos listed, 411 written).
    folder = copy_of(thumos_annotations, tmp_path)
    names = np.load(folder / "videoname.npy")
    subsets = np.load(folder / "subset.npy")
    test_row = int(np.flatnonzero(subsets == b"test")[0])
    names[test_row] = names[3]
    np.save(folder / "videoname.npy", names)
    with pytest.raises(InputFileError) as error:
        read_wtalc(folder)
    message = str(error.value)
    assert str(folder / "videoname.npy") in message
    assert names[3].decode() in message
    assert f"rows 3 and {test_row}" in message


def test_a_duplicated_name_in_a_generated_folder_is_refused(tmp_path):
    folder = write_wtalc(tmp_path / "ann", with_features=False)
    np.save(folder / "videoname.npy", np.array([b"v_train", b"v_test_empty", b"v_train"]))
    with pytest.raises(InputFileError, match=r"videoname\.npy: video 'v_train' .*rows 0 and 2"):
        read_wtalc(folder)


def features_with(folder, change):
    feats = list(np.load(folder / "features.npy", allow_pickle=True))
    change(feats)
    np.save(folder / "features.npy", object_array(feats), allow_pickle=True)
    return folder / "features.npy"


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_wtalc_features_name_the_video_file_and_segment(tmp_path, bad):
    folder = write_wtalc(tmp_path / "ann")

    def poison(feats):
        feats[1][7, 100] = bad
        feats[1][20, 3] = bad

    path = features_with(folder, poison)
    with pytest.raises(InputFileError) as error:
        read_wtalc(folder, path)
    message = str(error.value)
    assert message.startswith(f"{path}: ")
    assert "video 'v_test_empty'" in message and "segment 7" in message
    assert "not finite" in message


def test_every_video_with_non_finite_features_is_counted(tmp_path):
    folder = write_wtalc(tmp_path / "ann")

    def poison(feats):
        feats[0][49, 0] = np.nan
        feats[2][0, 2047] = np.inf

    path = features_with(folder, poison)
    with pytest.raises(InputFileError, match=r"video 'v_train'.*segment 49.*1 more video: v_test_"):
        read_wtalc(folder, path)


def test_an_odd_wtalc_feature_width_is_refused_naming_the_file(tmp_path):
    folder = write_wtalc(tmp_path / "ann")

    def narrow(feats):
        feats[:] = [f[:, :2047] for f in feats]

    path = features_with(folder, narrow)
    with pytest.raises(InputFileError, match=r"features\.npy: video 'v_train': 2047 channels"):
        read_wtalc(folder, path)


def activitynet_folder(tmp_path, layout="single"):
    gt = {
        "database": {
            "a": {
                "subset": "test",
                "duration": 16.0,
                "annotations": [{"segment": [1.0, 3.0], "label": "X"}],
            },
            "b": {
                "subset": "test",
                "duration": 16.0,
                "annotations": [{"segment": [2.0, 6.0], "label": "X"}],
            },
        }
    }
    tmp_path.mkdir(parents=True, exist_ok=True)
    ann = tmp_path / "gt.json"
    ann.write_text(json.dumps(gt))
    features = tmp_path / "features"
    rng = np.random.default_rng(3)
    for vid in ("a", "b"):
        if layout == "single":
            features.mkdir(exist_ok=True)
            np.save(features / f"{vid}.npy", rng.standard_normal((25, 2048)).astype(np.float32))
        else:
            (features / vid).mkdir(parents=True)
            for name in ("rgb", "flow"):
                array = rng.standard_normal((25, 1024)).astype(np.float32)
                np.save(features / vid / f"{name}.npy", array)
    return ann, features


def test_non_finite_per_video_features_name_the_video_file_and_segment(tmp_path):
    ann, features = activitynet_folder(tmp_path)
    array = np.load(features / "b.npy")
    array[11, 5] = np.nan
    np.save(features / "b.npy", array)
    with pytest.raises(InputFileError) as error:
        read_activitynet(ann, features)
    message = str(error.value)
    assert message.startswith(f"{features / 'b.npy'}: ")
    assert "video 'b'" in message and "segment 11" in message


def test_non_finite_flow_names_flow_npy(tmp_path):
    ann, features = activitynet_folder(tmp_path, layout="pair")
    flow = np.load(features / "a" / "flow.npy")
    flow[24, 1023] = -np.inf
    np.save(features / "a" / "flow.npy", flow)
    with pytest.raises(InputFileError) as error:
        read_activitynet(ann, features)
    assert str(error.value).startswith(f"{features / 'a' / 'flow.npy'}: ")
    assert "segment 24" in str(error.value)


def test_odd_or_unequal_per_video_widths_are_refused_naming_the_file(tmp_path):
    ann, features = activitynet_folder(tmp_path)
    np.save(features / "a.npy", np.zeros((25, 2047), dtype=np.float32))
    with pytest.raises(InputFileError, match=r"a\.npy: video 'a': 2047 channels"):
        read_activitynet(ann, features)
    ann, features = activitynet_folder(tmp_path / "pair", layout="pair")
    np.save(features / "b" / "flow.npy", np.zeros((25, 1000), dtype=np.float32))
    with pytest.raises(InputFileError, match=r"b/flow\.npy: 1000 channels but rgb\.npy has 1024"):
        read_activitynet(ann, features)


def test_first_non_finite_row_reads_in_chunks():
    from wtal.data.checks import first_non_finite_row

    array = np.zeros((1000, 8), dtype=np.float32)
    assert first_non_finite_row(array, chunk_rows=64) is None
    array[777, 2] = np.nan
    array[900, 0] = np.inf
    assert first_non_finite_row(array, chunk_rows=64) == 777
    assert first_non_finite_row(np.zeros((0, 8), dtype=np.float32)) is None


def test_ground_truth_starting_before_0_is_kept_and_reported(tmp_path):
    # The official evaluator scores such an instance as it is; dropping it changed the score.
    gt = {
        "database": {
            "a": {
                "subset": "test",
                "duration": 16.0,
                "annotations": [
                    {"segment": [-0.4, 3.0], "label": "X"},
                    {"segment": [5.0, 4.0], "label": "X"},
                ],
            }
        }
    }
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(gt))
    data = read_activitynet(path)
    assert data.video("a").segments.tolist() == [[-0.4, 3.0]]
    kinds = {q.kind: q.message for q in data.quirks}
    assert "1 instance(s) start before 0 s: kept" in kinds["segment-before-start"]
    assert "reversed" in kinds["bad-segment"]
