"""Evaluation protocols around the matcher: tIoU lists, ambiguous intervals, segment units.

``segments`` units reproduce the authors' THUMOS14 evaluation (W-TALC lineage): ground truth
rounded to 16-frame segments at 25 fps (``round(t * 25 / 16)``, half to even as Python's
``round``), predictions given in seconds scaled by the same factor (the integer segment
boundaries post-processing made come back as those integers), and ambiguous intervals
compared as integer segment ranges. ``seconds`` is the standard ActivityNet protocol.

The segment rate is a parameter (``segments_per_second``, default 25 / 16): a judge of files
takes it from the predictions file, whose ``foreground`` records carry the features'
``segment_seconds`` (``segments_per_second_of``), never from a model.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import numpy as np

from wtal.errors import UsageError
from wtal.evaluation.foreground import VideoForeground
from wtal.evaluation.tables import GroundTruth, Predictions

Units = Literal["seconds", "segments"]

#: The feature rate of the published I3D features: one segment = 16 frames at 25 fps.
SEGMENTS_PER_SECOND = 25.0 / 16.0


def segments_per_second_of(foreground: dict[str, VideoForeground]) -> float:
    """The segment rate a predictions file records (``1 / segment_seconds`` of its
    ``foreground`` entries), or the published 25 / 16 when it records none. Refused when its
    videos disagree: one rate rounds the whole ground truth."""
    steps = {entry.segment_seconds for entry in foreground.values()}
    if not steps:
        return SEGMENTS_PER_SECOND
    if len(steps) > 1:
        raise UsageError(
            f"the predictions record several segment lengths {sorted(steps)}: segment units "
            "need one (evaluate in seconds instead)"
        )
    step = steps.pop()
    return SEGMENTS_PER_SECOND if step == 16.0 / 25.0 else 1.0 / step


#: The most thresholds one evaluation takes: every threshold of a 0.001 grid over (0, 1], 100x
#: the finest published protocol (ActivityNet's 10). The matcher keeps a boolean per threshold
#: and prediction, so a typo such as a 1e-9 step would otherwise ask for terabytes.
MAX_TIOU_THRESHOLDS = 1000


def parse_tiou_thresholds(spec: str) -> np.ndarray:
    """``"0.1:0.7:0.1"`` (inclusive range) or ``"0.3,0.5,0.7"`` -> sorted thresholds.

    Range values are rounded to 10 decimals so that 0.3 is the float of ``0.3`` and not
    ``0.30000000000000004`` (a tIoU of exactly 3/10 must pass a 0.3 threshold). A range is
    counted before it is made: at most ``MAX_TIOU_THRESHOLDS``.
    """
    text = spec.strip()
    values = _tiou_range(spec, text) if ":" in text else _tiou_list(spec, text)
    if values.size == 0 or not np.all((values > 0) & (values <= 1)):
        raise UsageError(f"bad tIoU thresholds {spec!r}: each must be in (0, 1]")
    return values


def _tiou_usage(spec: str) -> str:
    return (
        f"bad tIoU thresholds {spec!r}: use start:stop:step (e.g. 0.1:0.7:0.1) "
        "or a comma list (e.g. 0.3,0.5,0.7)"
    )


def _check_tiou_count(spec: str, count: int) -> None:
    if count > MAX_TIOU_THRESHOLDS:
        raise UsageError(
            f"bad tIoU thresholds {spec!r}: {count:,} thresholds, at most "
            f"{MAX_TIOU_THRESHOLDS:,} (a step of 0.001 over (0, 1] gives 1,000)"
        )


def _tiou_range(spec: str, text: str) -> np.ndarray:
    try:
        start, stop, step = (float(x) for x in text.split(":"))
    except ValueError:
        raise UsageError(_tiou_usage(spec)) from None
    # A step so small that the count overflows (or a non-finite bound) is malformed too.
    if not (step > 0 and stop >= start and math.isfinite((stop - start) / step)):
        raise UsageError(_tiou_usage(spec))
    count = round((stop - start) / step) + 1
    _check_tiou_count(spec, count)
    return np.round(np.linspace(start, start + step * (count - 1), count), 10)


def _tiou_list(spec: str, text: str) -> np.ndarray:
    try:
        values = np.array([float(x) for x in text.split(",")])
    except ValueError:
        raise UsageError(_tiou_usage(spec)) from None
    _check_tiou_count(spec, values.size)
    return values


def filter_ambiguous(
    pred: Predictions,
    ambiguous: dict[str, np.ndarray],
    units: Units = "seconds",
    *,
    segments_per_second: float = SEGMENTS_PER_SECOND,
) -> tuple[Predictions, int]:
    """Drop predictions that overlap an ambiguous interval of their video.

    Returns the kept predictions and how many were dropped. In ``seconds`` an overlap is a
    positive-length intersection; in ``segments`` (W-TALC) the prediction's integer range
    ``[int(s), int(e))`` shares a segment with ``[round(a * r), round(b * r))``, ``r`` the
    ``segments_per_second`` (25/16 for the published features).
    """
    if not ambiguous or len(pred) == 0:
        return pred, 0
    drop = np.zeros(len(pred), dtype=bool)
    order = np.argsort(pred.video, kind="stable")
    bounds = np.searchsorted(pred.video[order], np.arange(len(pred.video_ids) + 1))
    for v, vid in enumerate(pred.video_ids):
        intervals = ambiguous.get(vid)
        if intervals is None or bounds[v] == bounds[v + 1]:
            continue
        rows = order[bounds[v] : bounds[v + 1]]
        if units == "segments":
            p_lo = np.trunc(pred.start[rows])[:, None]
            p_hi = np.trunc(pred.end[rows])[:, None]
            a_lo = np.round(intervals[:, 0] * segments_per_second)[None, :]
            a_hi = np.round(intervals[:, 1] * segments_per_second)[None, :]
            overlap = (np.maximum(p_lo, a_lo) < np.minimum(p_hi, a_hi)) & (a_lo < a_hi)
        else:
            lo = np.maximum(pred.start[rows, None], intervals[None, :, 0])
            hi = np.minimum(pred.end[rows, None], intervals[None, :, 1])
            overlap = hi > lo
        drop[rows] = overlap.any(axis=1)
    return pred.take(~drop), int(drop.sum())


def ground_truth_to_segments(
    gt: GroundTruth, *, segments_per_second: float = SEGMENTS_PER_SECOND
) -> GroundTruth:
    """Ground truth in segment units, rounded as the authors' evaluation did.

    Instances that round to zero length are kept: they can only be matched by predictions
    that cover them, exactly as in the original protocol.
    """
    return dataclasses.replace(
        gt,
        start=np.round(gt.start * segments_per_second),
        end=np.round(gt.end * segments_per_second),
    )


#: How far (in segments) a rescaled boundary may lie from an integer and still be that
#: integer: post-processing makes integer boundaries, written in seconds and read back with
#: float error (segment 29 is 18.56 s, and 18.56 x 25/16 = 28.999999999999996). A
#: microsecond-scale distance; a boundary farther off is kept as it is.
SNAP_SEGMENTS = 1e-6


def _integers_back(boundaries: np.ndarray) -> np.ndarray:
    nearest = np.round(boundaries)
    return np.where(np.abs(boundaries - nearest) <= SNAP_SEGMENTS, nearest, boundaries)


def predictions_to_segments(
    pred: Predictions, *, segments_per_second: float = SEGMENTS_PER_SECOND
) -> Predictions:
    """Predictions given in seconds, rescaled to segment units: a boundary that is an
    integer segment up to float error becomes that integer (as the authors' evaluation,
    which never leaves segment units, sees it); any other is rescaled as it is."""
    return dataclasses.replace(
        pred,
        start=_integers_back(pred.start * segments_per_second),
        end=_integers_back(pred.end * segments_per_second),
    )
