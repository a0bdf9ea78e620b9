"""``predict_videos`` writes seconds at the timing its caller gives (the dataset's), and at a
video's own timing where it has one; the model is replaced by hand-made outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import wtal.inference.predict as predict_module
from wtal.data.dataset import VideoRecord
from wtal.data.timing import ACTIONFORMER_THUMOS, FeatureTiming
from wtal.inference.postprocess import PostprocessSettings
from wtal.inference.predict import VideoOutputs, predict_videos


def test_seconds_follow_the_given_and_the_per_video_timing(monkeypatch):
    t = 40
    attention = np.zeros(t)
    attention[10:20] = 1.0
    cas = np.zeros((t, 2))
    cas[10:20, 0] = 5.0
    monkeypatch.setattr(
        predict_module, "video_outputs", lambda *_: VideoOutputs(cas.copy(), attention.copy())
    )
    features = np.zeros((t, 4), np.float32)
    videos = [
        VideoRecord("a", "test", 10.0, ("X",), features=features),
        VideoRecord("b", "test", 10.0, ("X",), features=features, timing=FeatureTiming(25, 16, 4)),
    ]
    out = predict_videos(
        None,  # type: ignore[arg-type]  # video_outputs is replaced
        videos,
        ("X",),
        lambda x: x,
        PostprocessSettings(),
        torch.device("cpu"),
        timing=ACTIONFORMER_THUMOS,
    )
    best_a = max(out["results"]["a"], key=lambda r: r["score"])
    assert best_a["segment"] == pytest.approx([46 / 30, 86 / 30])  # (4i + 6) / 30, i = 10, 20
    best_b = max(out["results"]["b"], key=lambda r: r["score"])
    assert best_b["segment"] == pytest.approx([46 / 25, 86 / 25])
    assert out["foreground"]["a"]["segment_seconds"] == pytest.approx(4 / 30)
    assert out["foreground"]["a"]["start_seconds"] == pytest.approx(0.2)
    assert out["foreground"]["b"]["intervals"] == [pytest.approx([46 / 25, 86 / 25])]
    default = predict_videos(
        None,  # type: ignore[arg-type]
        videos[:1],
        ("X",),
        lambda x: x,
        PostprocessSettings(),
        torch.device("cpu"),
    )
    assert max(default["results"]["a"], key=lambda r: r["score"])["segment"] == pytest.approx(
        [6.4, 12.8]
    )
    assert "start_seconds" not in default["foreground"]["a"]
    assert default["foreground"]["a"]["duration"] == pytest.approx(40 * 0.64)
