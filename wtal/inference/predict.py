"""Run a trained TSM over whole videos and turn its outputs into ActivityNet results."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from wtal.data.dataset import VideoRecord
from wtal.inference.postprocess import PostprocessSettings, detect
from wtal.models.tsm import TSM


@torch.inference_mode()
def video_outputs(
    tsm: TSM, features: np.ndarray, device: torch.device
) -> tuple[np.ndarray, np.ndarray]:
    """CAS ``S`` (T, C + 1) and fused attention (T,) of one whole video."""
    tsm.eval()
    x = torch.from_numpy(np.array(features, dtype=np.float32))[None].to(device)
    out = tsm(x)
    return out.cas[0].float().cpu().numpy(), out.attention.attention[0].float().cpu().numpy()


def predict_videos(
    tsm: TSM,
    videos: Sequence[VideoRecord],
    classes: Sequence[str],
    normalize: Callable[[np.ndarray], np.ndarray],
    settings: PostprocessSettings,
    device: torch.device,
) -> dict[str, Any]:
    """ActivityNet results (+ ``video_scores``) for every video with features."""
    results: dict[str, list[dict[str, Any]]] = {}
    video_scores: dict[str, dict[str, float]] = {}
    for video in videos:
        if video.features is None or len(video.features) == 0:
            continue
        cas, attention = video_outputs(tsm, normalize(video.features), device)
        found, p = detect(cas, attention, settings)
        results[video.video_id] = [
            {"segment": [float(s), float(e)], "label": classes[int(c)], "score": float(sc)}
            for c, s, e, sc in zip(found.label, found.start, found.end, found.score, strict=True)
        ]
        video_scores[video.video_id] = {classes[i]: float(v) for i, v in enumerate(p)}
    return {"version": "wtal", "results": results, "video_scores": video_scores}


def settings_from_config(config: dict[str, Any]) -> PostprocessSettings:
    spec = config["inference"]
    return PostprocessSettings(
        class_threshold=spec["class_threshold"],
        nms_sigma=spec["nms_sigma"],
        max_per_video=spec["max_per_video"],
        min_length=spec["min_length"],
    )
