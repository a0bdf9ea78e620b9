"""Segment-level foreground classification rates (the paper's §4.4 diagnostic).

A predictions file may carry, per video, the intervals the model calls foreground and the
length of video it saw::

    "foreground": {vid: {"duration": 60.8, "segment_seconds": 0.64,
                         "intervals": [[3.2, 7.68], ...]}}

Each video is cut into segments of ``segment_seconds`` (the features' step, recorded by
whoever made the file; 16 / 25 s when absent, the published I3D features) from
``start_seconds`` (default 0; where overlapping windows place the first feature's cell, e.g.
0.2 s for ActionFormer's 16-frame windows every 4 frames at 30 fps) up to ``duration`` (the
seconds the features reach); a segment is ground-truth foreground
when its centre lies inside an annotated instance (any class) and predicted foreground when
its centre lies inside one of the intervals. Rates are pooled over all segments of all videos
that are both in the ground truth and in ``foreground``:
FPR = FP / (FP + TN) (background called action: over-complete localisation) and
FNR = FN / (FN + TP) (action called background: incomplete localisation).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from wtal.data.timing import I3D_25FPS
from wtal.errors import InputFileError
from wtal.evaluation.tables import GroundTruth
from wtal.utils.segments import first_too_large, too_large_for_float


@dataclass(frozen=True)
class VideoForeground:
    duration: float
    segment_seconds: float
    intervals: np.ndarray  # (n, 2) seconds
    start_seconds: float = 0.0


def foreground_from_dict(
    data: Any, path: str | os.PathLike[str] = "<predictions>"
) -> dict[str, VideoForeground]:
    """The optional ``foreground`` entry of a predictions file, checked."""
    entry = data.get("foreground") if isinstance(data, dict) else None
    if entry is None:
        return {}
    if not isinstance(entry, dict):
        raise InputFileError(path, "'foreground' must map video ids to {duration, intervals}")
    out = {}
    for vid, row in entry.items():
        where = f"foreground/{vid}"
        if not isinstance(row, dict) or not {"duration", "intervals"} <= set(row):
            raise InputFileError(path, f"{where}: needs 'duration' and 'intervals'")
        duration = row["duration"]
        step = row.get("segment_seconds", I3D_25FPS.seconds_per_segment)
        start = row.get("start_seconds", 0.0)
        for name, value in (
            ("duration", duration),
            ("segment_seconds", step),
            ("start_seconds", start),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InputFileError(path, f"{where}/{name}: not a number")
            if problem := too_large_for_float(value):
                raise InputFileError(path, f"{where}/{name}: {problem}")
            if not math.isfinite(value) or value < 0 or (name == "segment_seconds" and value == 0):
                raise InputFileError(path, f"{where}/{name}: {value!r} is not a valid length")
        try:
            intervals = np.asarray(row["intervals"], dtype=np.float64).reshape(-1, 2)
        except (TypeError, ValueError):
            raise InputFileError(path, f"{where}/intervals: expected [[start, end], ...]") from None
        except OverflowError:
            problem = first_too_large(row["intervals"])
            raise InputFileError(path, f"{where}/intervals: {problem}") from None
        if not np.isfinite(intervals).all() or (intervals[:, 1] < intervals[:, 0]).any():
            raise InputFileError(
                path, f"{where}/intervals: an interval is not finite or ends before it starts"
            )
        out[vid] = VideoForeground(float(duration), float(step), intervals, float(start))
    return out


def _inside(centres: np.ndarray, intervals: np.ndarray) -> np.ndarray:
    if intervals.size == 0:
        return np.zeros(centres.size, dtype=bool)
    return (
        (centres[:, None] >= intervals[None, :, 0]) & (centres[:, None] < intervals[None, :, 1])
    ).any(axis=1)


def foreground_rates(gt: GroundTruth, foreground: dict[str, VideoForeground]) -> dict[str, Any]:
    """Pooled segment-level FPR / FNR (and the counts behind them); None without any
    negative (positive) segment."""
    counts = {"tp": 0, "fp": 0, "tn": 0, "fn": 0}
    videos = [vid for vid in gt.video_ids if vid in foreground]
    position = {vid: v for v, vid in enumerate(gt.video_ids)}
    for vid in videos:
        entry = foreground[vid]
        span = max(entry.duration - entry.start_seconds, 0.0)
        count = math.floor(span / entry.segment_seconds + 1e-9)
        centres = (np.arange(count) + 0.5) * entry.segment_seconds
        if entry.start_seconds:
            centres = centres + entry.start_seconds
        rows = gt.video == position[vid]
        truth = _inside(centres, np.stack([gt.start[rows], gt.end[rows]], axis=1))
        said = _inside(centres, entry.intervals)
        counts["tp"] += int((truth & said).sum())
        counts["fp"] += int((~truth & said).sum())
        counts["tn"] += int((~truth & ~said).sum())
        counts["fn"] += int((truth & ~said).sum())
    negatives, positives = counts["fp"] + counts["tn"], counts["fn"] + counts["tp"]
    return {
        "false_positive_rate": counts["fp"] / negatives if negatives else None,
        "false_negative_rate": counts["fn"] / positives if positives else None,
        "segments": counts,
        "videos": len(videos),
        "definition": "segment centre inside an instance (any class) vs inside a predicted "
        "foreground interval; pooled over videos",
    }
