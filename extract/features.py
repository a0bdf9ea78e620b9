"""The features stage: per-video I3D features of 16-frame segments of RGB and TV-L1 flow,
1024-d each (:mod:`extract.segments`).

Outputs, per video, in ``<output>/<video stem>/``: ``rgb.npy`` and ``flow.npy`` ``(T, 1024)``
float32, ``meta.json`` (frame counts, fps, the features' ``timing`` ``{"fps": 25.0,
"frames_per_segment": 16, "stride": 16}`` that ``wtal.data.timing`` reads, weights identity
and sha256, flow preset, package versions, and the ``identity`` of :mod:`extract.reuse`:
video file, decode settings, flow preset, crop, weights; written last, so its presence marks
a complete folder, and removed first when a folder is made again), ``timings.json``, and,
unless a flow file made beforehand is given, the flow cache ``flow_<preset>.npy`` with its
``flow_<preset>.identity.json`` (the flow stage's output, kept for reuse unless asked
otherwise). Every file is written atomically: a killed job never leaves one that looks
complete.

Decoded frames are not cached: decoding and resizing run at hundreds of frames per second,
while TV-L1 costs about a second per frame pair, so decoding twice (for flow, then for RGB)
costs well under 1% of a video's time and no disk.
"""

from __future__ import annotations

import os
import platform
import time
import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from extract.errors import StageError
from extract.flow import FlowCache
from extract.presets import FEATURE_DIM, FLOW_BOUND, FPS, SEGMENT_FRAMES
from extract.reuse import (
    Reuse,
    Sidecar,
    feature_identity,
    flow_identity,
    sidecar_path,
    video_source,
    why_stale,
)
from extract.segments import Models, flow_batches, load_models, rgb_batches, run_i3d
from extract.settings import ExtractionSettings
from extract.stage import Stage, Task
from extract.video import VideoInfo, resized_size
from extract.weights import WeightsError, weights_digests
from wtal.errors import InputFileError
from wtal.utils.files import exclusive_lock, read_json, write_json, write_npy

ALGORITHMS = {
    "opencv": "TV-L1 (OpenCV DualTVL1OpticalFlow)",
    "torch": "TV-L1 (extract/tvl1.py, the same algorithm in PyTorch)",
}


@dataclass(frozen=True)
class FeatureFolder:
    """A video's feature folder as the reuse rule reads it: finished when ``meta.json`` is
    there with both feature files; its identity is in ``meta.json``."""

    folder: Path

    @property
    def path(self) -> Path:
        return self.folder / "meta.json"

    def unfinished(self) -> str | None:
        for name in ("rgb.npy", "flow.npy"):
            if not (self.folder / name).is_file():
                return f"{name} is missing"
        return None

    def recorded(self) -> Any:
        meta = read_json(self.path)
        if not isinstance(meta, dict):
            raise InputFileError(self.path, "meta.json is not a JSON object")
        return meta.get("identity")


@dataclass
class Extracted:
    """What :meth:`FeatureStage.compute` made of one video."""

    info: VideoInfo
    source: dict[str, Any]
    flow_file: Path | None  # the flow file read (None: no segment)
    rgb: np.ndarray
    flow: np.ndarray
    started: float = field(default_factory=time.perf_counter)
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class FeatureStage(Stage):
    """The features of a video into ``task.output`` (its folder, locked meanwhile:
    ``<folder>/.lock``). ``models`` maps ``"rgb"`` and ``"flow"`` to an I3D in eval mode and
    its weights info; by default the settings' weights, loaded once, when a first video needs
    them. The flow is ``task.flow`` (made beforehand with the same settings) or the folder's
    flow cache, made again like a flow stage's file when stale."""

    name = "features"
    starting = "while loading the I3D networks"

    def __init__(
        self, settings: ExtractionSettings, *, redo: bool = False, models: Models | None = None
    ) -> None:
        super().__init__(settings, redo=redo)
        self.models = models
        self.digests: dict[str, str] | None = None
        self.cache = FlowCache(settings, redo=redo, source="extraction device")

    def start(self) -> None:
        if self.models is None:
            spec = self.settings
            device = spec.torch_device()
            self.models = load_models(spec.rgb_weights, spec.flow_weights, spec.weights_cache,
                                      device)  # fmt: skip

    def weights(self) -> dict[str, str]:
        """The sha256 of each stream's weights: the networks' once loaded, else the files'
        (taken once: an all-new run never waits on it before the networks load)."""
        if self.models is not None:
            return {name: self.models[name][1].sha256 for name in ("rgb", "flow")}
        if self.digests is None:
            spec = self.settings
            try:
                self.digests = weights_digests(spec.rgb_weights, spec.flow_weights,
                                               spec.weights_cache)  # fmt: skip
            except WeightsError as exc:  # not a video's problem: the run stops
                raise StageError(str(exc)) from None
        return self.digests

    def finished(self, task: Task) -> FeatureFolder:
        return FeatureFolder(task.output)

    def expected(self, task: Task) -> dict[str, Any]:
        flow = flow_identity(task.video.fingerprint, self.settings, self.cache.backend)
        return feature_identity(flow, self.settings, self.weights())

    def notice(self, task: Task, why: str) -> str:
        return f"{task.video}: the features in {task.output} are stale ({why}): extracting again"

    def lock(self, task: Task) -> AbstractContextManager[None]:
        """``<folder>/.lock``, once the video is probed: one that cannot be decoded never
        gets a folder."""
        task.video.info  # noqa: B018 - a VideoError here fails the video, folder untouched
        return exclusive_lock(task.output / ".lock", task.output)

    def compute(self, task: Task, identity: dict[str, Any]) -> Extracted:
        started = time.perf_counter()
        info = task.video.info
        source = video_source(task.video.path)
        # An older meta.json would mark this folder complete while its files are replaced.
        (task.output / "meta.json").unlink(missing_ok=True)
        segments = info.frames // SEGMENT_FRAMES
        empty = np.zeros((0, FEATURE_DIM), np.float32)
        if segments == 0:
            warnings.warn(
                f"{task.video}: {info.frames} frames at 25 fps is shorter than one 16-frame "
                "segment: T = 0, empty features written",
                stacklevel=2,
            )
            note = "shorter than one segment: no features"
            return Extracted(info, source, None, empty, empty, started, notes=[note])
        start = time.perf_counter()
        flow_file = self.flow_file(task, identity)
        timings = {"flow_s": time.perf_counter() - start}
        result = Extracted(info, source, flow_file, empty, empty, started, timings)
        self.features(task, result, segments)
        return result

    def flow_file(self, task: Task, identity: dict[str, Any]) -> Path:
        """The flow the features read: ``task.flow``, checked, or the folder's cache."""
        flow_id = {key: identity[key] for key in ("video", "decode", "flow")}
        if task.flow is not None:
            check_flow_file(task, flow_id, self.settings)
            return task.flow
        cache = task.output / f"flow_{self.settings.flow_preset}.npy"
        self.cache.run(Task(task.video, cache, task.made_from, progress=task.progress), flow_id)
        return cache

    def features(self, task: Task, result: Extracted, segments: int) -> None:
        """Both streams through I3D (timed)."""
        assert self.models is not None and result.flow_file is not None
        for stream, batches in (
            ("rgb", rgb_batches(result.info, self.settings, segments)),
            ("flow", flow_batches(result.flow_file, self.settings, segments)),
        ):
            start = time.perf_counter()
            model = self.models[stream][0]
            tick = _ticker(task, "rgb" if stream == "rgb" else "i3d-flow", segments)
            features = run_i3d(model, batches, segments, tick, self.settings.autocast)
            setattr(result, stream, features)
            result.timings["rgb_s" if stream == "rgb" else "flow_i3d_s"] = (
                time.perf_counter() - start
            )

    def write(self, task: Task, result: Extracted) -> None:
        write_npy(task.output / "rgb.npy", result.rgb)
        write_npy(task.output / "flow.npy", result.flow)
        if not self.settings.keep_flow and task.flow is None and result.flow_file is not None:
            result.flow_file.unlink(missing_ok=True)
            sidecar_path(result.flow_file).unlink(missing_ok=True)

    def record(self, task: Task, identity: dict[str, Any], result: Extracted) -> None:
        """``timings.json`` (apart, so that the same input always gives byte-identical
        outputs), then ``meta.json``, written last: its presence marks completion."""
        assert self.models is not None
        meta = self.meta(task, identity, result)
        total = time.perf_counter() - result.started
        device = str(self.settings.torch_device())
        write_json(task.output / "timings.json", {**result.timings, "total_s": total,
                                                  "device": device})  # fmt: skip
        write_json(task.output / "meta.json", meta)

    def meta(self, task: Task, identity: dict[str, Any], result: Extracted) -> dict[str, Any]:
        """What ``meta.json`` says of the folder."""
        assert self.models is not None
        settings, models = self.settings, self.models
        backend = self.cache.backend
        kept = settings.keep_flow or task.flow is not None
        cache = None
        if kept and result.flow_file is not None:
            cache = str(result.flow_file) if task.flow is not None else result.flow_file.name
        untrained = models["flow"][1].cross_modality_init
        notes = list(result.notes)
        if untrained:
            notes.append(
                "flow features come from RGB Kinetics weights with a cross-modality initialised "
                "first layer: the flow network was never trained on flow"
            )
        return {
            "video": result.info.to_dict(),
            "segments": len(result.rgb),
            "segment_frames": SEGMENT_FRAMES,
            # Which seconds each row stands for (plain keys: wtal/data/timing.py reads them);
            # not part of ``identity``, so folders written before this key stay current.
            "timing": {"fps": FPS, "frames_per_segment": SEGMENT_FRAMES, "stride": SEGMENT_FRAMES},
            "feature_dim": FEATURE_DIM,
            "feature_order": "rgb.npy = I3D RGB stream, flow.npy = I3D flow stream",
            "settings": settings.recorded(),
            "flow": {
                "algorithm": ALGORITHMS[backend],
                "backend": backend,
                "preset": settings.flow_preset,
                "bound": FLOW_BOUND,
                "last_field": "repeats the previous field (N frames give N-1 fields)",
                "cache": cache,
            },
            "weights": {name: asdict(models[name][1]) for name in ("rgb", "flow")},
            "flow_weights_cross_modality_init": untrained,
            "versions": versions(),
            "notes": notes,
            "identity": identity,
            "source": result.source,
        }


def _ticker(task: Task, step: str, total: int) -> Callable[[int], None]:
    """``tick(n)``: ``n`` more of ``total`` done, told to ``task.progress``."""
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if task.progress is not None:
            task.progress(step, done, total)

    return tick


def check_flow_file(task: Task, identity: dict[str, Any], settings: ExtractionSettings) -> None:
    """A flow file made beforehand must be there and record the video and settings of this
    run (the reuse rule, without made-from files or redo), in the video's shape."""
    assert task.flow is not None
    why = why_stale(Sidecar(task.flow), identity, Reuse())
    if why == "":
        raise InputFileError(task.flow, "flow file not found (make it with `wtal flow`)")
    if why is not None:
        raise InputFileError(
            task.flow,
            f"was not made from {task.video} with these settings ({why}): make it again with "
            "`wtal flow` and the same settings",
        )
    info = task.video.info
    width, height = resized_size(info.width, info.height, settings.short_side)
    shape = (info.frames, height, width, 2)
    found = np.load(task.flow, mmap_mode="r").shape
    if found != shape:
        raise InputFileError(
            task.flow, f"flow of shape {found} does not fit {task.video} (expected {shape})"
        )


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
    """Where a video's features go under ``output``: ``<output>/<video stem>``."""
    return Path(output) / Path(video).stem
