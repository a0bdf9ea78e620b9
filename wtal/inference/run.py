"""Inference over a dataset split: model outputs -> predictions -> metrics, the one path used
both by training (validation, test) and by ``wtal infer``, so their numbers agree."""

from __future__ import annotations

import csv
import io
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from wtal.config.sections import EvaluationSettings, read_section
from wtal.data.dataset import Dataset
from wtal.errors import InputFileError, UsageError
from wtal.evaluation.foreground import foreground_from_dict
from wtal.evaluation.metrics import DetectionMetrics, evaluate_detection
from wtal.evaluation.protocol import parse_tiou_thresholds
from wtal.evaluation.tables import ground_truth_from_dict, predictions_from_dict
from wtal.inference.predict import VideoOutputs, predict_videos, settings_from_config
from wtal.models.checkpoint import LoadedModel
from wtal.utils.files import write_text


@dataclass
class SplitResult:
    predictions: dict[str, Any]
    metrics: DetectionMetrics
    outputs: dict[str, VideoOutputs] = field(default_factory=dict)


def evaluate_predictions(
    predictions: dict[str, Any], dataset: Dataset, config: dict[str, Any]
) -> DetectionMetrics:
    """Detection metrics of in-memory predictions against ``dataset`` (one subset)."""
    subset = dataset.videos[0].subset
    evaluation = read_section(config, EvaluationSettings)
    return evaluate_detection(
        ground_truth_from_dict(dataset.to_activitynet(), subset),
        predictions_from_dict(predictions),
        parse_tiou_thresholds(evaluation.tiou),
        units=evaluation.units,
        filter_ambiguous_intervals=evaluation.ambiguous_filter,
        video_scores=predictions["video_scores"],
        foreground=foreground_from_dict(predictions),
        sources={"subset": subset, "dataset": dataset.name},
    )


def warn_short_videos(dataset: Dataset, minimum: int) -> None:
    """Say how many videos with features ``dataset.min_segments`` leaves out of inference."""
    with_features = [v for v in dataset.videos if v.features is not None and len(v.features)]
    short = sum(len(v.features) < minimum for v in with_features)
    if short:
        warnings.warn(
            f"{short} of {len(dataset.videos)} videos of {dataset.name!r} have fewer than "
            f"{minimum} segments (dataset.min_segments): no predictions for them, their "
            "instances count as misses",
            stacklevel=3,
        )


def run_split(
    model: nn.Module,
    dataset: Dataset,
    normalize,
    config: dict[str, Any],
    device: torch.device,
    *,
    keep_outputs: bool = False,
    progress: bool = False,
) -> SplitResult:
    """Predictions and metrics of ``model`` on every video of ``dataset`` (but those under
    ``dataset.min_segments`` segments: no predictions, their instances count as misses)."""
    if not dataset.videos:
        raise UsageError(f"dataset {dataset.name!r}: no videos to run on")
    minimum = config["dataset"].get("min_segments", 0)  # absent from older checkpoints
    warn_short_videos(dataset, minimum)
    outputs: dict[str, VideoOutputs] = {}
    predictions = predict_videos(
        model,
        dataset.videos,
        dataset.classes,
        normalize,
        settings_from_config(config),
        device,
        outputs=outputs if keep_outputs else None,
        progress=progress,
        timing=dataset.timing,
        min_segments=minimum,
    )
    return SplitResult(predictions, evaluate_predictions(predictions, dataset, config), outputs)


def check_compatible(loaded: LoadedModel, dataset: Dataset) -> None:
    """Refuse a dataset whose classes or feature size differ from the checkpoint's."""
    if tuple(dataset.classes) != tuple(loaded.classes):
        missing = sorted(set(dataset.classes) - set(loaded.classes))
        extra = sorted(set(loaded.classes) - set(dataset.classes))
        detail = (
            f"classes the checkpoint lacks: {missing[:5]}; classes only in the checkpoint: "
            f"{extra[:5]}"
            if missing or extra
            else "same classes in another order"
        )
        raise InputFileError(
            loaded.path,
            f"trained for {len(loaded.classes)} classes that do not match dataset "
            f"{dataset.name!r} ({len(dataset.classes)} classes; {detail})",
        )
    for video in dataset.videos:
        if video.features is not None and video.features.shape[-1] != loaded.feature_dim:
            raise InputFileError(
                loaded.path,
                f"trained on {loaded.feature_dim}-d features, but video {video.video_id!r} of "
                f"dataset {dataset.name!r} has {video.features.shape[-1]}-d features",
            )


def write_predictions_csv(path: str | os.PathLike[str], predictions: dict[str, Any]) -> None:
    """One row per detection: video, label, start, end (seconds), score; best first per video."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["video_id", "label", "start", "end", "score"])
    for vid, rows in predictions["results"].items():
        for row in sorted(rows, key=lambda r: -r["score"]):
            start, end = row["segment"]
            score = row["score"]
            writer.writerow([vid, row["label"], f"{start:.3f}", f"{end:.3f}", f"{score:.6f}"])
    write_text(path, buffer.getvalue())
