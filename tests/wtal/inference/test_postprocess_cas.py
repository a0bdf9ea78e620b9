"""BaSNet's CAS-threshold post-processing (docs/method.md §9.1 "Inference") on hand-made
class activations."""

from __future__ import annotations

import numpy as np
import pytest

from wtal.inference.postprocess import (
    PostprocessSettings,
    cas_video_scores,
    detect,
    detect_cas,
    hard_nms,
    minmax_normalise,
    upsample_linear,
)


def test_thresholds_are_basnet_s():
    thresholds = PostprocessSettings().cas_thresholds
    assert len(thresholds) == 10
    assert thresholds[0] == 0.0 and thresholds[-1] == pytest.approx(0.225)


def test_minmax_normalisation_clips_the_extremes_at_zero():
    cas = np.array([[-1.0, 2.0, 0.5], [1.0, 4.0, 0.5], [3.0, 6.0, 0.5]])
    out = minmax_normalise(cas)
    # column 0: min -1 -> relu 0, max 3: (x - 0) / 3; column 1: (x - 2) / 4;
    # column 2: range 0 -> 1: x - 0.5.
    assert out[:, 0].tolist() == pytest.approx([-1 / 3, 1 / 3, 1.0])
    assert out[:, 1].tolist() == pytest.approx([0.0, 0.5, 1.0])
    assert out[:, 2].tolist() == [0.0, 0.0, 0.0]


def test_linear_upsampling_extrapolates_the_last_interval():
    up = upsample_linear(np.array([0.0, 1.0, 3.0]), 2)
    assert up.tolist() == [0.0, 0.5, 1.0, 2.0, 3.0, 4.0]
    assert upsample_linear(np.array([[2.0, 5.0]]), 3).tolist() == [[2.0, 5.0]] * 3


def test_hard_nms_counts_inclusive_lengths():
    start = np.array([0.0, 1.0, 0.0, 10.0])
    end = np.array([3.0, 3.0, 10.0, 12.0])
    score = np.array([0.9, 0.8, 0.7, 0.7])
    # [0,3] vs [1,3]: inter 3 / (4 + 3 - 3) = 0.75 >= 0.7 -> dropped (0.667 without the +1);
    # [0,3] vs [0,10]: 4 / 11; [0,10] vs [10,12]: 1 / 13: both kept, the tie in input order.
    assert hard_nms(start, end, score, 0.7).tolist() == [0, 2, 3]
    assert hard_nms(start, end, score, 0.8).tolist() == [0, 1, 2, 3]


def clear_run() -> np.ndarray:
    cas = np.zeros((10, 2))  # one class + background (constant 0)
    cas[:, 0] = [0, 0, 0.16, 1, 1, 1, 0.16, 0, 0, 0]
    return cas


def test_one_clear_run_by_hand():
    cas = clear_run()
    p = cas_video_scores(cas)  # k = max(1, 10 // 8) = 1: softmax([1, 0])
    assert p.tolist() == pytest.approx([np.e / (np.e + 1)])
    settings = PostprocessSettings(proposals="cas", cas_scale=1)
    found, p_found = detect(cas, np.zeros(10), settings)  # the attention is not read
    assert p_found.tolist() == pytest.approx(p.tolist())
    # Thresholds 0 .. 0.15 (7): run [2, 7), L = 5; inner (2 x 0.16 + 3) / 5 = 0.664; outer
    # [trunc(2 - 1.25), 2) = [0, 2) and [7, trunc(6 + 1.25) + 1) = [7, 8), all 0 -> 0.
    # Thresholds 0.175 .. 0.225 (3): run [3, 6), inner 1, margins [2, 3) (0.16 < threshold,
    # so 0) and nothing on the right (trunc(5.75) = 5) -> outer 0.
    # Duplicates have IoU 1 and go; the two runs: [1.92, 3.84] vs [1.28, 4.48] seconds,
    # IoU (1.92 + 1) / (3.2 + 1) = 0.695 < 0.7 -> both kept, the better first.
    bonus = 0.2 * p[0]
    assert found.label.tolist() == [0, 0]
    assert found.score.tolist() == pytest.approx([1 + bonus, 0.664 + bonus])
    assert found.start.tolist() == pytest.approx([3 * 0.64, 2 * 0.64])
    assert found.end.tolist() == pytest.approx([6 * 0.64, 7 * 0.64])
    capped, _ = detect(
        cas, np.zeros(10), PostprocessSettings(proposals="cas", cas_scale=1, max_per_video=1)
    )
    assert capped.score.tolist() == pytest.approx([1 + bonus])


def test_nms_at_0_7_merges_what_overlaps_more():
    cas = clear_run()
    # [3, 8) (inner 1) beats [2, 9) (inner 5.32 / 7); in seconds with the +1:
    # IoU (3.2 + 1) / (4.48 + 1) = 0.77 >= 0.7, so only [3, 8) stays.
    cas[:, 0] = [0, 0, 0.16, 1, 1, 1, 1, 1, 0.16, 0]
    found, _ = detect_cas(cas, PostprocessSettings(proposals="cas", cas_scale=1))
    assert found.start.tolist() == pytest.approx([3 * 0.64])
    assert found.end.tolist() == pytest.approx([8 * 0.64])


def test_upsampled_boundaries_and_no_class_no_proposal():
    cas = clear_run()
    found, _ = detect_cas(cas)  # x 24: boundaries on a 1/24-segment grid
    # The best run is the highest threshold's, 0.225 (outer 0 everywhere, the highest inner
    # mean): on [2, 3] the curve is 0.16 + 0.84 j / 24 >= 0.225 from j = 2; on [5, 6] it is
    # 1 - 0.84 j / 24 >= 0.225 up to j = 22, so the run is [2 + 2/24, 5 + 23/24).
    best = int(np.argmax(found.score))
    assert found.start[best] / 0.64 == pytest.approx(2 + 2 / 24)
    assert found.end[best] / 0.64 == pytest.approx(5 + 23 / 24)
    assert set(found.label.tolist()) == {0}
    # Eight flat classes: every p is 1/9 < 0.25: nothing kept, nothing proposed (no fallback).
    flat, p = detect_cas(np.zeros((10, 9)))
    assert len(flat) == 0 and p.tolist() == pytest.approx([1 / 9] * 8)


def test_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="proposals must be"):
        detect(clear_run(), np.zeros(10), PostprocessSettings(proposals="boxes"))
