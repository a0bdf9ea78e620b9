"""The figures of one inference run: per-class precision-recall at tIoU 0.5, per-class AP
bars, and a timeline for each of a few videos."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wtal.evaluation.metrics import DetectionMetrics
from wtal.evaluation.tables import GroundTruth, Predictions
from wtal.report.class_ap import class_ap, plot_class_ap
from wtal.report.precision_recall import plot_precision_recall
from wtal.report.timeline import plot_timeline, video_detections, video_instances


def busiest_videos(gt: GroundTruth, candidates: Sequence[str], count: int) -> list[str]:
    """Up to ``count`` of ``candidates``, most ground-truth instances first (ties: by id)."""
    instances = np.bincount(gt.video, minlength=len(gt.video_ids))
    position = {vid: i for i, vid in enumerate(gt.video_ids)}
    ranked = sorted(
        (vid for vid in candidates if vid in position),
        key=lambda vid: (-int(instances[position[vid]]), vid),
    )
    return ranked[:count]


def write_inference_figures(
    directory: str | os.PathLike[str],
    *,
    ground_truth: GroundTruth,
    predictions: Predictions,
    metrics: DetectionMetrics,
    classes: Sequence[str],
    outputs: Mapping[str, Any],
    durations: Mapping[str, float],
    timelines: int,
) -> list[Path]:
    """PNG files under ``directory``: precision_recall.png, class_ap.png and
    timelines/<video>.png for the ``timelines`` busiest videos with model ``outputs``
    (objects with ``cas`` and ``attention``)."""
    directory = Path(directory)
    written = []
    if ground_truth.classes:
        written.append(
            plot_precision_recall(directory / "precision_recall.png", ground_truth, predictions)
        )
    names, ap = class_ap(metrics, 0.5) if np.isclose(metrics.tiou, 0.5).any() else class_ap(metrics)
    if names:
        title = "per-class AP at tIoU 0.5" if np.isclose(metrics.tiou, 0.5).any() else None
        written.append(plot_class_ap(directory / "class_ap.png", names, ap, title=title))
    for vid in busiest_videos(ground_truth, list(outputs), timelines):
        out = outputs[vid]
        written.append(
            plot_timeline(
                directory / "timelines" / f"{vid}.png",
                video_id=vid,
                duration=durations.get(vid),
                classes=classes,
                ground_truth=video_instances(ground_truth, vid, classes),
                detections=video_detections(predictions, vid, classes),
                attention=out.attention,
                cas=out.cas,
            )
        )
    return written
