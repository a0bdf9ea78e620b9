"""``meta.json`` records the features' timing for ``wtal.data.timing``, outside the cache
identity: folders written before the record stay current, and the reader falls back to the
same 16 frames at 25 fps for them."""

from __future__ import annotations

import json

import pytest
import torch

from extract.features import FeatureFolder, FeatureStage
from extract.i3d import InceptionI3d
from extract.reuse import Reuse, why_stale
from extract.settings import ExtractionSettings
from extract.stage import Task
from extract.video import Video
from extract.weights import WeightsInfo
from tests.extract.clips import moving_square
from wtal.data.activitynet import read_activitynet, recorded_timing
from wtal.data.timing import I3D_25FPS

SMALL = ExtractionSettings(short_side=64, crop=56, flow_preset="fast", workers=1)


@pytest.fixture(scope="module")
def random_models():
    torch.manual_seed(0)
    return {
        "rgb": (InceptionI3d(3).eval(), WeightsInfo("random (test)", "0" * 64, "rgb", False)),
        "flow": (InceptionI3d(2).eval(), WeightsInfo("random (test)", "0" * 64, "flow", False)),
    }


def test_meta_records_the_timing_and_old_folders_stay_current(random_models, tmp_path):
    clip = moving_square(tmp_path / "sq.mp4", frames=40, fps=25.0, size=(160, 64))
    stage = FeatureStage(SMALL, models=random_models)
    task = Task(Video(clip), tmp_path / "features" / "sq")
    stage.make(task)
    folder = task.output
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["timing"] == {"fps": 25.0, "frames_per_segment": 16, "stride": 16}
    assert "timing" not in json.dumps(meta["identity"])
    assert recorded_timing(tmp_path / "features", folder.name) == (
        I3D_25FPS,
        folder / "meta.json",
    )
    identity = stage.expected(task)
    assert identity["weights"] == {"rgb": "0" * 64, "flow": "0" * 64}
    assert why_stale(FeatureFolder(folder), identity, Reuse()) is None
    # A folder written before the timing record: still current, and read at 25 fps / 16.
    del meta["timing"]
    (folder / "meta.json").write_text(json.dumps(meta))
    assert why_stale(FeatureFolder(folder), identity, Reuse()) is None
    assert recorded_timing(tmp_path / "features", folder.name) is None
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"database": {folder.name: {"subset": "test", "duration": 1.6}}}))
    assert read_activitynet(gt, tmp_path / "features").timing == I3D_25FPS
