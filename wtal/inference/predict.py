"""Run a trained model (any registered base model) over whole videos and turn its outputs
into ActivityNet results."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from wtal.data.dataset import VideoRecord
from wtal.data.timing import I3D_25FPS, FeatureTiming
from wtal.inference.postprocess import (
    Detections,
    PostprocessSettings,
    attention_runs,
    detect,
)
from wtal.models.registry import base_model

#: Attention at or above which a segment counts as foreground (the §4.4 FP/FN diagnostic).
FOREGROUND_THRESHOLD = 0.5


@dataclass(frozen=True)
class VideoOutputs:
    """What the model said about one video: CAS ``S`` (T, C + 1) and fused attention (T,)."""

    cas: np.ndarray
    attention: np.ndarray


@torch.inference_mode()
def video_outputs(model: nn.Module, features: np.ndarray, device: torch.device) -> VideoOutputs:
    """CAS and fused attention of one whole video."""
    model.eval()
    x = torch.from_numpy(np.array(features, dtype=np.float32))[None].to(device)
    out = model(x, reconstruct=False)
    return VideoOutputs(out.cas[0].float().cpu().numpy(), out.foreground[0].float().cpu().numpy())


def foreground_intervals(
    attention: np.ndarray,
    threshold: float = FOREGROUND_THRESHOLD,
    timing: FeatureTiming = I3D_25FPS,
) -> list:
    """Runs of segments with attention >= ``threshold``, in seconds."""
    runs = timing.to_seconds(attention_runs(attention, (threshold,)))
    return [[float(s), float(e)] for s, e in runs]


def video_results(
    found: Detections,
    p: np.ndarray,
    attention: np.ndarray,
    classes: Sequence[str],
    timing: FeatureTiming = I3D_25FPS,
) -> tuple[list[dict[str, Any]], dict[str, float], dict[str, Any]]:
    """One video's entries of a predictions file: its ActivityNet result rows, its class
    probabilities (``video_scores``) and its ``foreground`` record: the seconds the features
    reach (``duration``), from ``start_seconds`` (written only when not 0) in steps of
    ``segment_seconds``, and the attention's foreground intervals."""
    rows = [
        {"segment": [float(s), float(e)], "label": classes[int(c)], "score": float(sc)}
        for c, s, e, sc in zip(found.label, found.start, found.end, found.score, strict=True)
    ]
    scores = {classes[i]: float(v) for i, v in enumerate(p)}
    foreground: dict[str, Any] = {
        "duration": float(timing.to_seconds(attention.size)),
        "segment_seconds": timing.seconds_per_segment,
    }
    if timing.offset_seconds:
        foreground["start_seconds"] = timing.offset_seconds
    foreground["threshold"] = FOREGROUND_THRESHOLD
    foreground["intervals"] = foreground_intervals(attention, timing=timing)
    return rows, scores, foreground


def predict_videos(
    model: nn.Module,
    videos: Sequence[VideoRecord],
    classes: Sequence[str],
    normalize: Callable[[np.ndarray], np.ndarray],
    settings: PostprocessSettings,
    device: torch.device,
    *,
    outputs: dict[str, VideoOutputs] | None = None,
    progress: bool = False,
    timing: FeatureTiming = I3D_25FPS,
    min_segments: int = 0,
) -> dict[str, Any]:
    """ActivityNet results for every video with features (``min_segments`` segments or more;
    the others get no entry), plus ``video_scores`` (class
    probabilities, for classification mAP) and ``foreground`` (the segments the attention
    calls foreground and the seconds the model saw, for the FP/FN diagnostic). Fills
    ``outputs`` with each video's raw CAS and attention when given. Seconds are at
    ``timing`` (the dataset's), or at a video's own ``timing`` where it has one."""
    results: dict[str, list[dict[str, Any]]] = {}
    video_scores: dict[str, dict[str, float]] = {}
    foreground: dict[str, dict[str, Any]] = {}
    for video in tqdm(videos, desc="inference", unit="video", disable=not progress):
        if video.features is None or len(video.features) < max(1, min_segments):
            continue
        out = video_outputs(model, normalize(video.features), device)
        if outputs is not None:
            outputs[video.video_id] = out
        own = video.timing or timing
        found, p = detect(out.cas, out.attention, settings, own)
        vid = video.video_id
        results[vid], video_scores[vid], foreground[vid] = video_results(
            found, p, out.attention, classes, own
        )
    return {
        "version": "wtal",
        "results": results,
        "video_scores": video_scores,
        "foreground": foreground,
    }


def settings_from_config(config: dict[str, Any]) -> PostprocessSettings:
    """The post-processing a config asks for: ``inference.proposals`` (null = the base
    model's own rule, from the registry); the CAS rule's top-k divisor is BaSNet's
    ``model.basnet.k_divisor`` where the config has one."""
    spec, model = config["inference"], config["model"]
    proposals = spec.get("proposals") or base_model(model).proposals
    cas_top_divisor = model.get("basnet", {}).get("k_divisor", PostprocessSettings.cas_top_divisor)
    return PostprocessSettings(
        class_threshold=spec["class_threshold"],
        nms_sigma=spec["nms_sigma"],
        max_per_video=spec["max_per_video"],
        min_length=spec["min_length"],
        proposals=proposals,
        cas_top_divisor=cas_top_divisor,
        drop_lone_first=_authors_way(config, "lone_first_segment", "drop"),
        nms_swap=_authors_way(config, "soft_nms_order", "swap"),
    )


def _authors_way(config: dict[str, Any], key: str, authors: str) -> bool:
    """Whether ``inference.<key>`` asks for the authors' behaviour; unset (a checkpoint made
    before the key existed) it follows the preset, official being the authors' code."""
    value = config["inference"].get(key)
    if value is None:
        return config["model"].get("preset", "official") == "official"
    return value == authors
