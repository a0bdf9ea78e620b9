"""Post-processing on hand-made attention curves (docs/method.md §5)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.wtal.inference.reference import reference_detect
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


def random_curves(segments: int, seed: int, classes: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Attention with a few bursts over noise, and a CAS where three classes follow it."""
    rng = np.random.default_rng(seed)
    logit = np.full(segments, -2.0)
    for s in rng.integers(0, max(1, segments - 10), max(1, segments // 40)):
        logit[s : s + rng.integers(3, 25)] += 4.0
    logit += rng.normal(0.0, 0.7, segments)
    attention = 1 / (1 + np.exp(-np.convolve(logit, np.ones(3) / 3, "same")))
    cas = rng.normal(0.0, 1.0, (segments, classes + 1))
    for c in rng.choice(classes, 3, replace=False):
        cas[:, c] += 3.0 * attention
    return cas, attention


@pytest.mark.parametrize("seed", range(6))
def test_vectorised_detection_equals_the_loop_reference(seed):
    cas, attention = random_curves([7, 60, 300, 937, 150, 40][seed], seed)
    found, _ = detect(cas, attention, PostprocessSettings())
    columns = (found.label, found.start, found.end, found.score)
    ours = list(zip(*(column.tolist() for column in columns), strict=True))  # in their order
    reference = reference_detect(cas, attention)
    assert len(ours) == len(reference) > 0
    np.testing.assert_allclose(np.array(ours), np.array(reference), rtol=1e-9, atol=1e-12)


def test_class_threshold_and_the_argmax_fallback():
    t = 10
    attention = np.full(t, 0.95)
    cas = np.zeros((t, 4))
    cas[:, :3] = [2.0, 2.0, 0.0]  # p = e^2 / (2 e^2 + 2) = 0.44 for classes 0, 1; 0.06 for 2
    found, p = detect(cas, attention)
    assert p[:2] == pytest.approx([np.e**1.9 / (2 * np.e**1.9 + 2)] * 2)
    assert set(found.label.tolist()) == {0, 1}
    # A flat CAS over 5 classes + background: every p = 1/6 < 0.2 -> only the argmax (class 0).
    found, p = detect(np.zeros((t, 6)), attention)
    assert (p < 0.2).all() and set(found.label.tolist()) == {0}


def test_minimum_length_and_cap_per_video():
    attention = np.array([0.95, 0.05, 0.95, 0.95, 0.95, 0.05])
    cas = np.zeros((6, 2))
    cas[:, 0] = 3.0
    found, _ = detect(cas, attention, PostprocessSettings(min_length=2))
    assert ((found.end - found.start) >= 2 * 16 / 25 - 1e-9).all() and len(found) > 0
    everything, _ = detect(cas, attention)
    capped, _ = detect(cas, attention, PostprocessSettings(max_per_video=3))
    assert len(capped) == 3 < len(everything)
    assert sorted(capped.score.tolist()) == sorted(everything.score.tolist())[-3:]


def test_a_threshold_passed_by_segment_0_alone_makes_no_proposal_as_the_authors_code():
    """Their ``if temp_list.any():`` is False for the index list [0]: a threshold that only
    the first segment passes gives nothing (and [0, 1) is lost); ``paper`` keeps it."""
    attention = np.array([0.95, 0.5, 0.05, 0.05])
    thresholds = (0.1, 0.45, 0.55, 0.9)
    authors = attention_runs(attention, thresholds, drop_lone_first=True).tolist()
    assert authors == [[0, 2], [0, 2]]  # 0.55 and 0.9: only segment 0 passes
    assert attention_runs(attention, thresholds).tolist() == [[0, 2], [0, 2], [0, 1], [0, 1]]
    # segment 0 with others above the threshold still counts
    both = attention_runs(np.array([0.95, 0.05, 0.95, 0.95]), (0.5,), drop_lone_first=True)
    assert both.tolist() == [[0, 1], [2, 4]]


def test_a_threshold_is_passed_strictly_as_the_authors_code():
    """np.where(attention > threshold): a segment at exactly the threshold is out."""
    assert attention_runs(np.array([0.5, 0.5, 0.2]), (0.5,)).tolist() == []
    assert attention_runs(np.array([0.5, 0.6, 0.2]), (0.5,)).tolist() == [[1, 2]]


def test_soft_nms_swaps_the_pick_to_the_front_as_the_authors_code():
    """Their loop swaps the best row with row 0 before dropping it, so row 0 moves to the
    pick's place and equal scores are then reached in that order: [2, 1, 0] where the plain
    first-best order is [2, 0, 1]. Non-overlapping proposals: no decay."""
    start, end = np.array([0.0, 10.0, 20.0]), np.array([5.0, 15.0, 25.0])
    score = np.array([0.5, 0.5, 0.9])
    assert soft_nms(start, end, score, swap=True)[:, 0].tolist() == [2, 1, 0]
    assert soft_nms(start, end, score)[:, 0].tolist() == [2, 0, 1]


@pytest.mark.parametrize(
    ("preset", "changes", "expected"),
    [("official", {}, (True, True)),
     ("paper", {}, (False, False)),
     ("paper", {"lone_first_segment": "drop"}, (True, False)),
     ("official", {"soft_nms_order": "first"}, (True, False))],
)  # fmt: skip
def test_the_authors_edge_cases_follow_the_preset_and_the_keys(preset, changes, expected):
    from tests.wtal.training.toy import toy_config
    from wtal.inference.predict import settings_from_config

    config = toy_config(model={"preset": preset}, inference=changes)
    settings = settings_from_config(config)
    assert (settings.drop_lone_first, settings.nms_swap) == expected
    del config["inference"]["lone_first_segment"]  # a checkpoint made before the key
    assert settings_from_config(config).drop_lone_first == (preset == "official")
