"""16-frame segments through I3D: the two networks ready for inference, batches of RGB and
flow segments, and the batched run that turns them into 1024 values each.

``T = floor(N / 16)`` non-overlapping segments of the 25 fps frames (the tail is dropped);
centre ``crop`` x ``crop``; RGB scaled to [-1, 1], flow dequantised to [-1, 1].
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from extract.flow import dequantize
from extract.i3d import for_inference
from extract.prefetch import prefetched
from extract.presets import FEATURE_DIM, SEGMENT_FRAMES
from extract.settings import ExtractionSettings
from extract.video import VideoInfo, center_crop, iter_frames
from extract.weights import WeightsInfo, build_i3d

#: I3D precisions under autocast (``none``: float32).
AUTOCAST = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}

Models = dict[str, tuple[torch.nn.Module, WeightsInfo]]


def load_models(
    rgb_weights: str | os.PathLike[str] | None = None,
    flow_weights: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
) -> Models:
    """Both I3D streams, ready for inference on ``device`` (batch norm folded, channels-last
    layout)."""
    models = {}
    for modality in ("rgb", "flow"):
        model, info = build_i3d(modality, rgb_weights, flow_weights, cache_dir)  # type: ignore[arg-type]
        models[modality] = (for_inference(model).to(device), info)
    return models


def rgb_batches(
    info: VideoInfo, settings: ExtractionSettings, segments: int
) -> Iterator[np.ndarray]:
    """(B, 3, 16, crop, crop) float32 batches of RGB segments."""
    per_batch = settings.batch_segments * SEGMENT_FRAMES
    for lo, frames in iter_frames(info, settings.short_side, per_batch):
        count = min(len(frames), segments * SEGMENT_FRAMES - lo) // SEGMENT_FRAMES
        if count <= 0:
            return
        clip = center_crop(frames[: count * SEGMENT_FRAMES], settings.crop)
        clip = clip.astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0)
        clip = clip.reshape(count, SEGMENT_FRAMES, settings.crop, settings.crop, 3)
        yield np.ascontiguousarray(clip.transpose(0, 4, 1, 2, 3))


def flow_batches(
    flow_path: Path, settings: ExtractionSettings, segments: int
) -> Iterator[np.ndarray]:
    """(B, 2, 16, crop, crop) float32 batches of flow segments, read from the flow file."""
    fields = np.load(flow_path, mmap_mode="r")
    per_batch = settings.batch_segments
    for first in range(0, segments, per_batch):
        count = min(per_batch, segments - first)
        raw = np.asarray(
            center_crop(
                fields[first * SEGMENT_FRAMES : (first + count) * SEGMENT_FRAMES], settings.crop
            )
        )
        clip = dequantize(raw).reshape(count, SEGMENT_FRAMES, settings.crop, settings.crop, 2)
        yield np.ascontiguousarray(clip.transpose(0, 4, 1, 2, 3))
    del fields


def run_i3d(
    model: torch.nn.Module,
    batches: Iterator[np.ndarray],
    segments: int,
    tick: Callable[[int], None],
    autocast: str = "none",
) -> np.ndarray:
    """Features of every batch on the model's device; batches are made on a CPU thread one
    ahead (decoding overlaps the device), so memory holds two batches whatever the length."""
    out = np.zeros((segments, FEATURE_DIM), dtype=np.float32)
    device = next(model.parameters()).device
    precision = AUTOCAST[autocast]
    row = 0
    with (
        torch.inference_mode(),
        torch.autocast(device.type, dtype=precision, enabled=precision is not None),
    ):
        for batch in prefetched(batches, depth=2):
            clip = torch.from_numpy(batch).to(device, non_blocking=True)
            feats = model.features(clip).float().cpu().numpy()
            out[row : row + len(feats)] = feats
            row += len(feats)
            tick(len(feats))
    if row != segments:
        raise RuntimeError(f"expected {segments} segments, computed {row}")
    return out
