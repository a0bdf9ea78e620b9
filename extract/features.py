"""Per-video I3D features: 16-frame segments of RGB and TV-L1 flow, 1024-d each.

``T = floor(N / 16)`` non-overlapping segments of the 25 fps frames (the tail is dropped);
centre ``crop`` x ``crop``; RGB scaled to [-1, 1], flow dequantised to [-1, 1]. Outputs, per
video, in ``<output>/<video stem>/``: ``rgb.npy`` and ``flow.npy`` ``(T, 1024)`` float32,
``meta.json`` (frame counts, fps, the features' ``timing`` ``{"fps": 25.0,
"frames_per_segment": 16, "stride": 16}`` that ``wtal.data.timing`` reads, weights identity
and sha256, flow preset, package versions, and the ``identity`` of :mod:`extract.identity`:
video file, decode settings, flow preset, crop, weights; written last, so its presence marks
a complete folder, and removed first when a folder is made again), ``timings.json``, and the
flow cache ``flow_<preset>.npy`` with its ``flow_<preset>.identity.json`` (kept for reuse
unless asked otherwise; reused only for the same identity).
Every file is written atomically: a killed job never leaves one that looks complete.

Decoded frames are not cached: decoding and resizing run at hundreds of frames per second,
while TV-L1 costs about a second per frame pair, so decoding twice (for flow, then for RGB)
costs well under 1% of a video's time and no disk.
"""

from __future__ import annotations

import os
import platform
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from extract.flow import cache_identity, compute_flow, dequantize, resolve_backend
from extract.i3d import for_inference
from extract.identity import (
    TARGET_FPS,
    differences,
    feature_identity,
    read_sidecar,
    sidecar_path,
    stale_cache,
    video_fingerprint,
    video_source,
)
from extract.prefetch import prefetched
from extract.stages import tell, why_made_again
from extract.video import VideoInfo, center_crop, iter_frames, probe, resized_size
from extract.weights import WeightsInfo, build_i3d
from wtal.errors import InputFileError
from wtal.utils.devices import resolve_device
from wtal.utils.files import exclusive_lock, write_json, write_npy

SEGMENT_FRAMES = 16
FEATURE_DIM = 1024


@dataclass(frozen=True)
class ExtractionSettings:
    """How features are made; recorded in every ``meta.json``."""

    short_side: int = 256
    crop: int = 224
    flow_preset: str = "standard"
    workers: int = 1
    batch_segments: int = 4
    keep_flow: bool = True
    on_variable_frame_rate: str = "resample"
    flow_backend: str = "auto"
    device: str = "auto"
    autocast: str = "none"
    flow_batch: int = 16

    def torch_device(self) -> torch.device:
        """The device ``device`` names (``auto``: CUDA when present); refused when this
        machine cannot run on it."""
        return resolve_device(self.device, "extraction device")

    def backend(self) -> str:
        """The flow implementation these settings mean here: ``opencv`` or ``torch``."""
        return resolve_backend(self.flow_backend, self.torch_device())


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


def _rgb_batches(
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


def _flow_batches(
    flow_path: Path, settings: ExtractionSettings, segments: int
) -> Iterator[np.ndarray]:
    """(B, 2, 16, crop, crop) float32 batches of flow segments, read from the cache."""
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


def _run(
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


def versions() -> dict[str, str]:
    names = ["wtal", "torch", "numpy", "opencv-contrib-python-headless", "decord"]
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    found["python"] = platform.python_version()
    return found


def output_folder(output: str | os.PathLike[str], video: str | os.PathLike[str]) -> Path:
    return Path(output) / Path(video).stem


def expected_identity(
    video: str | os.PathLike[str],
    settings: ExtractionSettings,
    weights: dict[str, str],
    fingerprint: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(flow identity, feature identity) that extracting ``video`` now would record;
    ``weights``: sha256 per stream (``weights_digests``)."""
    fingerprint = fingerprint or video_fingerprint(video)
    flow = cache_identity(
        fingerprint,
        settings.flow_preset,
        settings.short_side,
        settings.on_variable_frame_rate,
        settings.backend(),
    )
    return flow, feature_identity(flow, settings.crop, weights, settings.autocast)


def _check_external_flow(
    flow_path: Path, video: str | os.PathLike[str], identity: dict[str, Any], shape: tuple
) -> None:
    """A flow file made beforehand must exist, and record the video and settings of this run."""
    if not flow_path.is_file():
        raise InputFileError(flow_path, "flow file not found (make it with `wtal flow`)")
    why = differences(read_sidecar(flow_path), identity)
    if why is not None:
        raise InputFileError(
            flow_path,
            f"was not made from {video} with these settings ({why}): make it again with "
            "`wtal flow` and the same settings",
        )
    found = np.load(flow_path, mmap_mode="r").shape
    if found != shape:
        raise InputFileError(
            flow_path, f"flow of shape {found} does not fit {video} (expected {shape})"
        )


def extract_video(
    video: str | os.PathLike[str],
    output: str | os.PathLike[str],
    models: Models,
    settings: ExtractionSettings = ExtractionSettings(),
    progress: Callable[[str, int, int], None] | None = None,
    flow_path: str | os.PathLike[str] | None = None,
    *,
    fingerprint: dict[str, Any] | None = None,
    info: VideoInfo | None = None,
    made_from: Sequence[str | os.PathLike[str]] = (),
    redo: bool = False,
    notify: Callable[[str], None] = tell,
) -> Path:
    """Features of one video into ``<output>/<stem>/``; returns that folder.

    ``models`` maps ``"rgb"`` and ``"flow"`` to an I3D in eval mode and its weights info.
    ``progress(stage, done, total)`` is called as work advances. ``flow_path``: a flow file
    made beforehand by ``compute_flow`` with the same settings (the workflow's flow stage);
    by default the flow is computed into (and cached in) the output folder, and a cache made
    from another video file or with other settings, older than a file of ``made_from`` (the
    decode record), or any with ``redo``, is computed again (``notify`` says why).
    ``fingerprint``: the video's ``video_fingerprint``, ``info`` its ``probe``, if already
    taken. The folder is locked meanwhile (``<folder>/.lock``): a second process writing
    the same folder is refused (:class:`wtal.utils.files.BusyError`), never interleaved.
    """
    folder = output_folder(output, video)
    with exclusive_lock(folder / ".lock", folder):
        return _extract_video(
            video, folder, models, settings, progress, flow_path, fingerprint, info,
            made_from, redo, notify,
        )  # fmt: skip


def _extract_video(
    video: str | os.PathLike[str],
    folder: Path,
    models: Models,
    settings: ExtractionSettings,
    progress: Callable[[str, int, int], None] | None,
    flow_path: str | os.PathLike[str] | None,
    fingerprint: dict[str, Any] | None,
    info: VideoInfo | None,
    made_from: Sequence[str | os.PathLike[str]],
    redo: bool,
    notify: Callable[[str], None],
) -> Path:
    started = time.perf_counter()
    if info is None:
        info = probe(video, settings.on_variable_frame_rate)  # type: ignore[arg-type]
    weights = {name: models[name][1].sha256 for name in ("rgb", "flow")}
    source = video_source(video)
    flow_id, identity = expected_identity(video, settings, weights, fingerprint)
    # An older meta.json would mark this folder complete while its files are being replaced.
    (folder / "meta.json").unlink(missing_ok=True)
    segments = info.frames // SEGMENT_FRAMES
    timings: dict[str, float] = {}
    notes = []
    if segments == 0:
        warnings.warn(
            f"{video}: {info.frames} frames at 25 fps is shorter than one 16-frame segment: "
            "T = 0, empty features written",
            stacklevel=2,
        )
        notes.append("shorter than one segment: no features")

    def tick(stage: str, total: int) -> Callable[[int], None]:
        state = {"done": 0}

        def advance(n: int) -> None:
            state["done"] += n
            if progress is not None:
                progress(stage, state["done"], total)

        return advance

    flow_backend = settings.backend()
    external_flow = flow_path is not None
    flow_path = Path(flow_path) if external_flow else folder / f"flow_{settings.flow_preset}.npy"
    if external_flow and segments:
        width, height = resized_size(info.width, info.height, settings.short_side)
        _check_external_flow(flow_path, video, flow_id, (info.frames, height, width, 2))
    if not external_flow and segments:
        why = stale_cache(flow_path, flow_id)
        if why is None and flow_path.is_file():
            why = why_made_again(flow_path, made_from, redo)
        if why is not None:
            notify(f"{video}: the flow cache {flow_path} is stale ({why}): computing it again")
            flow_path.unlink()
    rgb = np.zeros((0, FEATURE_DIM), np.float32)
    flow = np.zeros((0, FEATURE_DIM), np.float32)
    if segments:
        t0 = time.perf_counter()
        if not flow_path.exists():
            compute_flow(
                info,
                flow_path,
                settings.flow_preset,
                settings.workers,
                settings.short_side,
                progress=tick("flow", info.frames),
                on_variable_frame_rate=settings.on_variable_frame_rate,
                backend=settings.backend(),
                device=settings.torch_device(),
                flow_batch=settings.flow_batch,
            )
        timings["flow_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        rgb = _run(
            models["rgb"][0],
            _rgb_batches(info, settings, segments),
            segments,
            tick("rgb", segments),
            settings.autocast,
        )
        timings["rgb_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        flow = _run(
            models["flow"][0],
            _flow_batches(flow_path, settings, segments),
            segments,
            tick("i3d-flow", segments),
            settings.autocast,
        )
        timings["flow_i3d_s"] = time.perf_counter() - t0
    write_npy(folder / "rgb.npy", rgb)
    write_npy(folder / "flow.npy", flow)
    if not settings.keep_flow and not external_flow:
        flow_path.unlink(missing_ok=True)
        sidecar_path(flow_path).unlink(missing_ok=True)
    meta: dict[str, Any] = {
        "video": info.to_dict(),
        "segments": segments,
        "segment_frames": SEGMENT_FRAMES,
        # Which seconds each row stands for (plain keys: wtal/data/timing.py reads them);
        # not part of ``identity``, so folders written before this key stay current.
        "timing": {
            "fps": TARGET_FPS,
            "frames_per_segment": SEGMENT_FRAMES,
            "stride": SEGMENT_FRAMES,
        },
        "feature_dim": FEATURE_DIM,
        "feature_order": "rgb.npy = I3D RGB stream, flow.npy = I3D flow stream",
        "settings": asdict(settings),
        "flow": {
            "algorithm": {
                "opencv": "TV-L1 (OpenCV DualTVL1OpticalFlow)",
                "torch": "TV-L1 (extract/tvl1.py, the same algorithm in PyTorch)",
            }[flow_backend],
            "backend": flow_backend,
            "preset": settings.flow_preset,
            "bound": 20.0,
            "last_field": "repeats the previous field (N frames give N-1 fields)",
            "cache": (str(flow_path) if external_flow else flow_path.name)
            if (settings.keep_flow or external_flow) and segments
            else None,
        },
        "weights": {name: asdict(models[name][1]) for name in ("rgb", "flow")},
        "flow_weights_cross_modality_init": models["flow"][1].cross_modality_init,
        "versions": versions(),
        "notes": notes,
        "identity": identity,
        "source": source,
    }
    if models["flow"][1].cross_modality_init:
        meta["notes"].append(
            "flow features come from RGB Kinetics weights with a cross-modality initialised "
            "first layer: the flow network was never trained on flow"
        )
    # Timings live apart so that the same input always gives byte-identical outputs.
    write_json(
        folder / "timings.json",
        {
            **timings,
            "total_s": time.perf_counter() - started,
            "device": str(settings.torch_device()),
        },
    )
    write_json(folder / "meta.json", meta)  # written last: its presence marks completion
    return folder
