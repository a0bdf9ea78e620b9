"""Localization in a person's own videos: the extraction stage (reusing finished features),
the checkpoint's model and post-processing, a detections file and a timeline per video."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wtal.config.schema import section_defaults
from wtal.data.activitynet import load_video_features
from wtal.errors import InputFileError, UsageError
from wtal.inference.postprocess import Detections, detect
from wtal.inference.predict import settings_from_config, video_outputs, video_results
from wtal.models.checkpoint import LoadedModel
from wtal.utils.files import write_json

#: I3D RGB + flow, 1024 each: what the extraction stage makes.
I3D_FEATURE_DIM = 2048


@dataclass
class LocalizedVideo:
    path: Path
    video_id: str
    duration: float
    detections: Detections
    timeline: Path | None

    def summary(self, classes: Sequence[str], top: int) -> list[str]:
        """The ``top`` best detections, one line each: class, start-end, length, score."""
        order = np.argsort(-self.detections.score, kind="stable")[:top]
        lines = []
        for i in order:
            start, end = float(self.detections.start[i]), float(self.detections.end[i])
            lines.append(
                f"{classes[int(self.detections.label[i])]:<24} {start:8.2f} - {end:8.2f} s "
                f"({end - start:6.2f} s)  score {float(self.detections.score[i]):.3f}"
            )
        if len(self.detections) > top:
            lines.append(f"... {len(self.detections) - top} more in the detections file")
        return lines


@dataclass
class LocalizeReport:
    videos: list[LocalizedVideo] = field(default_factory=list)
    failed: dict[Path, str] = field(default_factory=dict)
    detections_file: Path | None = None


#: Extraction settings about where it runs, not what it computes: never taken from the
#: checkpoint (a model trained on a GPU cluster localizes on a laptop).
RUN_LOCAL = ("workers", "flow_backend", "device", "flow_batch", "videos_per_job", "autocast")


def extraction_settings(loaded: LoadedModel, overrides: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint's extraction settings (defaults for older checkpoints; those of
    ``RUN_LOCAL`` always the defaults) + ``overrides``."""
    defaults = section_defaults("extraction")
    recorded = {
        k: v for k, v in (loaded.config.get("extraction") or {}).items() if k not in RUN_LOCAL
    }
    return {**defaults, **recorded, **overrides}


def localize_videos(
    loaded: LoadedModel,
    videos: Sequence[Path],
    output: Path,
    overrides: dict[str, Any],
    device: torch.device,
    *,
    progress: bool = True,
    plot_timeline: Callable[..., Path] | None = None,
) -> LocalizeReport:
    """Features (cached under ``output/features``, reused only when made from the same video
    file with the same settings and weights), detections (``output/detections.json``) and a
    timeline PNG per video (``output/<video>.png``, drawn by ``plot_timeline`` when given:
    the report layer's :func:`wtal.report.timeline.plot_timeline`); broken videos are reported
    in the
    result and the file, and the others still run. Two videos of one name are refused."""
    from extract.batch import extract_videos, unique_videos
    from extract.settings import ExtractionSettings

    if loaded.feature_dim != I3D_FEATURE_DIM:
        raise InputFileError(
            loaded.path,
            f"trained on {loaded.feature_dim}-d features, but videos give I3D RGB + flow "
            f"features of {I3D_FEATURE_DIM} dimensions: use a checkpoint trained on I3D features",
        )
    if not videos:
        raise UsageError("no videos given (folders are searched for common video suffixes)")
    features_dir = output / "features"
    # Their features, detections and timelines would overwrite each other.
    videos = unique_videos(videos, features_dir)
    spec = extraction_settings(loaded, overrides)
    settings = ExtractionSettings(
        **{k: spec[k] for k in ExtractionSettings.__dataclass_fields__ if k in spec}
    )
    batch = extract_videos(videos, features_dir, settings, progress=progress)
    report = LocalizeReport(failed=dict(batch.failed))
    postprocess = settings_from_config(loaded.config)
    results, scores, foreground = {}, {}, {}
    for video in videos:
        if video not in batch.folders:
            continue
        folder = batch.folders[video]
        meta = json.loads((folder / "meta.json").read_text())
        features = load_video_features(features_dir, folder.name)
        if features is None or len(features) == 0:
            frames = meta["video"]["frames"]
            report.failed[video] = f"too short for one 16-frame segment ({frames} frames at 25 fps)"
            continue
        out = video_outputs(loaded.model, loaded.norm(np.asarray(features)), device)
        found, p = detect(out.cas, out.attention, postprocess)
        vid = folder.name
        duration = float(meta["video"]["duration"])
        results[vid], scores[vid], foreground[vid] = video_results(
            found, p, out.attention, loaded.classes
        )
        timeline = None
        if plot_timeline is not None:
            timeline = plot_timeline(
                output / f"{vid}.png",
                video_id=vid,
                duration=duration,
                classes=loaded.classes,
                ground_truth=[],
                detections=found,
                attention=out.attention,
                cas=out.cas,
            )
        report.videos.append(LocalizedVideo(video, vid, duration, found, timeline))
    report.detections_file = output / "detections.json"
    write_json(
        report.detections_file,
        {
            "version": "wtal localize",
            "checkpoint": {"path": str(loaded.path), "iteration": loaded.iteration},
            "extraction": {k: spec[k] for k in ("short_side", "crop", "flow_preset")},
            "results": results,
            "video_scores": scores,
            "foreground": foreground,
            "failed": {str(k): v for k, v in report.failed.items()},
        },
    )
    return report
