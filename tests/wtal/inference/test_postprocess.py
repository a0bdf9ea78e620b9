"""Post-processing on hand-made attention curves (METHOD 5)."""

from __future__ import annotations

import numpy as np
import pytest

from wtal.inference.postprocess import (
    PostprocessSettings,
    attention_runs,
    detect,
    outer_inner_scores,
    soft_nms,
    video_class_scores,
)


def test_runs_at_every_threshold_including_the_video_borders():
    attention = np.array([0.95, 0.6, 0.2, 0.05, 0.5, 0.97])
    runs = attention_runs(attention, (0.1, 0.55, 0.9)).tolist()
    # 0.1: [0,3) and [4,6); 0.55: [0,2) and [5,6); 0.9: [0,1) and [5,6)
    assert runs == [[0, 3], [4, 6], [0, 2], [5, 6], [0, 1], [5, 6]]
    assert attention_runs(np.zeros(4), (0.1,)).shape == (0, 2)


def test_outer_inner_contrast_with_clipped_margins():
    signal = np.array([0.0, 1.0, 4.0, 4.0, 4.0, 4.0, 1.0, 0.0, 2.0, 2.0])
    runs = np.array([[2, 6], [0, 2], [8, 10]])
    scores = outer_inner_scores(signal, runs, 0.25)
    # [2,6): inner 4; margin int(0.25*4)=1 each side -> segments 1 and 6 -> outer 1 -> 3.
    # [0,2): inner 0.5; left margin clipped to nothing; right: int(1 + 0.5) = 1 -> none -> 0.
    # [8,10): inner 2; left int(8 - 0.5) = 7 -> segment 7 (0); right clipped -> outer 0 -> 2.
    assert scores.tolist() == [3.0, 0.5, 2.0]


def test_soft_nms_decay_values():
    start = np.array([0.0, 0.0, 20.0])
    end = np.array([10.0, 5.0, 30.0])
    score = np.array([0.9, 0.8, 0.5])
    result = soft_nms(start, end, score, sigma=0.3)
    # Inclusive lengths: [0,10] has 11, [0,5] has 6, overlap 6 -> IoU 6/11.
    decay = np.exp(-((6 / 11) ** 2) / 0.3)
    assert 0.8 * decay == pytest.approx(0.2968, abs=1e-4)  # now below the third proposal
    assert result[:, 0].tolist() == [0, 2, 1]
    assert dict(zip(result[:, 0].astype(int), result[:, 1], strict=True)) == pytest.approx(
        {0: 0.9, 1: 0.8 * decay, 2: 0.5}
    )


def test_video_scores_and_detections_in_seconds():
    t = 20
    attention = np.full(t, 0.05)
    attention[5:10] = 0.95
    cas = np.zeros((t, 3))  # 2 classes + background
    cas[5:10, 1] = 4.0
    p = video_class_scores(cas, attention)
    assert p.argmax() == 1 and p[1] > 0.2 and p[0] < 0.2
    found, _ = detect(cas, attention, PostprocessSettings())
    assert set(found.label.tolist()) == {1}
    best = int(np.argmax(found.score))
    assert (found.start[best], found.end[best]) == pytest.approx((5 * 0.64, 10 * 0.64))
    # A class below 0.2 everywhere still yields its argmax class.
    flat = detect(np.zeros((t, 3)), attention, PostprocessSettings())[0]
    assert len(flat) > 0
    capped = detect(cas, attention, PostprocessSettings(max_per_video=1))[0]
    assert len(capped) == 1
