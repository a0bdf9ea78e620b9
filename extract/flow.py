"""TV-L1 optical flow, parallel over frame pairs, cached and resumable.

Two implementations of one algorithm (``backend``): ``opencv``, OpenCV contrib's
DualTVL1OpticalFlow on worker threads (the published protocol), and ``torch``, the same
algorithm in PyTorch (:mod:`extract.tvl1`), batched over frame pairs on any device; ``auto``
is torch on CUDA and OpenCV elsewhere (on a CPU, OpenCV is the faster: docs/results.md).

Field ``k`` is the flow from frame ``k`` to ``k + 1`` on grayscale frames; ``N`` frames give
``N - 1`` fields and the last field is repeated so there is one per frame (a one-frame video
gets a zero field). Values are clipped to +-20 px and quantised to uint8 x/y planes
(``q = round((f + 20) * 255 / 40)``), the usual cache format; :func:`dequantize` maps them
to [-1, 1] for I3D.

The cache is one ``.npy`` file ``(N, H, W, 2)`` uint8, written chunk by chunk into
``<name>.partial.npy`` with a progress record beside it; a killed run restarts at the last
finished chunk, and only a complete file is renamed to its final name. Then
``<name>.identity.json`` records what made it (see :mod:`extract.reuse`); a cache without
that record, or with another one, is never reused.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from extract.errors import StageError
from extract.prefetch import prefetched
from extract.presets import FLOW_BOUND, PRESETS
from extract.reuse import Sidecar, flow_identity, sidecar_path, video_source, write_sidecar
from extract.settings import ExtractionSettings, backend_and_device
from extract.stage import Stage, Task
from extract.video import VideoInfo, iter_frames, resized_size
from wtal.errors import UsageError
from wtal.utils.files import naming, write_json

if TYPE_CHECKING:  # torch loads only when the torch backend runs: `wtal --help` stays quick
    import torch


@dataclass(frozen=True)
class FlowInfo:
    path: str
    frames: int
    height: int
    width: int
    preset: str
    seconds: float
    resumed_from: int
    backend: str = "opencv"


def create_tvl1(preset: str) -> Any:
    if preset not in PRESETS:
        raise UsageError(f"unknown flow preset {preset!r} (choose from {', '.join(PRESETS)})")
    if not hasattr(cv2, "optflow"):
        raise StageError(
            "cv2.optflow is missing: another OpenCV package replaced "
            "opencv-contrib-python-headless; reinstall only that one"
        )
    return cv2.optflow.DualTVL1OpticalFlow_create(**PRESETS[preset])


def quantize(flow: np.ndarray) -> np.ndarray:
    """float32 (..., 2) pixels -> uint8, clipped to +-FLOW_BOUND."""
    scaled = (np.clip(flow, -FLOW_BOUND, FLOW_BOUND) + FLOW_BOUND) * (255.0 / (2 * FLOW_BOUND))
    return np.rint(scaled).astype(np.uint8)


def dequantize(quantized: np.ndarray) -> np.ndarray:
    """uint8 -> float32 in [-1, 1] (I3D's flow input)."""
    return quantized.astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0)


def _gray(frames: np.ndarray) -> list[np.ndarray]:
    return [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]


class _OpenCVSolver:
    """Fields of consecutive grey frames on worker threads, one TV-L1 object per thread (the
    OpenCV object is not thread-safe), each thread one core."""

    def __init__(self, preset: str, workers: int) -> None:
        self.preset = preset
        self.local = threading.local()
        self.pool = ThreadPoolExecutor(max(1, workers))
        self.previous_threads = cv2.getNumThreads()
        cv2.setNumThreads(1)  # one core per worker; the pool provides the parallelism

    def _pair(self, pair: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        solver = getattr(self.local, "solver", None)
        if solver is None:
            solver = self.local.solver = create_tvl1(self.preset)
        return quantize(solver.calc(pair[0], pair[1], None))

    def __call__(self, gray: list[np.ndarray]) -> list[np.ndarray]:
        return list(self.pool.map(self._pair, itertools.pairwise(gray)))

    def close(self) -> None:
        self.pool.shutdown()
        cv2.setNumThreads(self.previous_threads)


def quantize_tensor(flow: torch.Tensor) -> torch.Tensor:
    """:func:`quantize` on a device: float32 (..., 2) pixels -> uint8 (round half to even,
    as ``np.rint``)."""
    import torch

    scaled = (flow.clamp(-FLOW_BOUND, FLOW_BOUND) + FLOW_BOUND) * (255.0 / (2 * FLOW_BOUND))
    return torch.round(scaled).to(torch.uint8)


class _TorchSolver:
    """Fields of consecutive grey frames with the PyTorch TV-L1 on ``device``, ``batch``
    pairs at a time, quantised on the device (only uint8 comes back)."""

    def __init__(self, preset: str, device: torch.device, batch: int) -> None:
        from extract.tvl1 import TVL1Params, tvl1_flow

        self.params = TVL1Params.from_opencv(PRESETS[preset])
        self.solve = tvl1_flow
        self.device = device
        self.batch = max(1, batch)

    def __call__(self, gray: list[np.ndarray]) -> list[np.ndarray]:
        import torch

        if len(gray) < 2:
            return []
        frames = torch.from_numpy(np.stack(gray)).to(self.device)
        fields = []
        with torch.inference_mode():
            for lo in range(0, len(gray) - 1, self.batch):
                hi = min(lo + self.batch, len(gray) - 1)
                flow = self.solve(frames[lo:hi], frames[lo + 1 : hi + 1], self.params)
                fields.append(quantize_tensor(flow).cpu().numpy())
        return list(np.concatenate(fields))

    def close(self) -> None:
        pass


def _last_field(
    sink: Any, offset: int, done: int, frame_bytes: int, size: tuple[int, int]
) -> np.ndarray:
    """The field to repeat at the end when the final chunk held one frame only."""
    if done == 0:  # a one-frame video: no motion
        return np.full((*size, 2), 128, np.uint8)
    sink.seek(offset + (done - 1) * frame_bytes)
    return np.frombuffer(sink.read(frame_bytes), np.uint8).reshape(*size, 2).copy()


def _header_and_offset(path: Path, shape: tuple[int, ...]) -> int:
    """Create ``path`` as an uint8 .npy of ``shape`` (data zeroed lazily); return data offset."""
    array = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=shape)
    offset = array.offset
    del array
    return int(offset)


def _resume_point(partial: Path, record: Path, identity: dict[str, Any]) -> tuple[int, int]:
    """(frames done, data offset) of a partial file made for ``identity``; (0, 0) if none."""
    if not (partial.exists() and record.exists()):
        return 0, 0
    try:
        state = json.loads(record.read_text())
        if state.get("identity") == identity:
            return int(state["done"]), int(state["offset"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        pass  # an unreadable record: start again
    return 0, 0


def partial_files(output: Path) -> tuple[Path, Path]:
    """Where a flow file is made: ``<stem>.partial.npy`` and its progress record."""
    return output.with_name(output.stem + ".partial.npy"), output.with_name(
        output.stem + ".partial.json"
    )


def compute_flow(
    info: VideoInfo,
    output: Path,
    settings: ExtractionSettings,
    identity: dict[str, Any],
    progress: Any = None,
    chunk: int = 32,
) -> FlowInfo:
    """TV-L1 flow of every 25 fps frame of ``info`` into ``output``'s partial file, chunk by
    chunk, resuming the partial file made for the same ``identity``; ``progress(n)`` as
    fields are written. The settings' ``flow_backend`` picks the implementation:
    ``workers`` threads run OpenCV, ``device`` runs torch ``flow_batch`` pairs at a time.
    Decoding runs on its own thread, a chunk ahead of the flow."""
    backend, device = backend_and_device(settings.flow_backend, settings.device)
    preset = settings.flow_preset
    create_tvl1(preset)  # fail early on a bad preset or a broken OpenCV
    if backend == "torch":
        chunk = max(chunk, settings.flow_batch)
    output.parent.mkdir(parents=True, exist_ok=True)
    width, height = resized_size(info.width, info.height, settings.short_side)
    shape = (info.frames, height, width, 2)
    partial, record = partial_files(output)
    identity = {**identity, "shape": list(shape)}
    done, offset = _resume_point(partial, record, identity)
    if done == 0:
        with naming(partial):
            offset = _header_and_offset(partial, shape)
    frame_bytes = height * width * 2
    resumed_from = done
    started = time.perf_counter()
    solver: _OpenCVSolver | _TorchSolver = (
        _TorchSolver(preset, device, settings.flow_batch)
        if backend == "torch"
        else _OpenCVSolver(preset, settings.workers)
    )
    try:
        with naming(partial), open(partial, "r+b") as sink:
            carry: np.ndarray | None = None
            chunks = prefetched(
                (lo, _gray(frames))
                for lo, frames in iter_frames(info, settings.short_side, chunk, done)
            )
            for lo, gray in chunks:
                last_chunk = lo + len(gray) == info.frames
                first_field = lo
                if carry is not None:  # the pair across the chunk border
                    gray.insert(0, carry)
                    first_field = lo - 1
                fields = solver(gray)
                if last_chunk:  # end of video: repeat the last field
                    fields.append(
                        fields[-1]
                        if fields
                        else _last_field(sink, offset, done, frame_bytes, (height, width))
                    )
                if fields:
                    sink.seek(offset + first_field * frame_bytes)
                    sink.write(np.ascontiguousarray(np.stack(fields)).tobytes())
                    sink.flush()
                    os.fsync(sink.fileno())
                    done = first_field + len(fields)
                    write_json(record, {"identity": identity, "done": done, "offset": offset})
                    if progress is not None:
                        progress(len(fields))
                carry = gray[-1]
    finally:
        solver.close()
    if done != info.frames:
        raise RuntimeError(f"{info.path}: flow stopped at frame {done} of {info.frames}")
    return FlowInfo(
        path=os.fspath(output),
        frames=info.frames,
        height=height,
        width=width,
        preset=preset,
        seconds=time.perf_counter() - started,
        resumed_from=resumed_from,
        backend=backend,
    )


class FlowStage(Stage):
    """The flow stage: the TV-L1 flow of a video in one ``.npy`` (resumable), kept when its
    identity record beside it is the current one. What ``wtal flow`` runs, a workflow flow
    job for each of its videos, and the features stage for its flow cache."""

    name = "flow"
    #: Frames decoded and written per chunk (what a killed run resumes from).
    chunk = 32

    def __init__(
        self, settings: ExtractionSettings, *, redo: bool = False, source: str = "--device"
    ) -> None:
        super().__init__(settings, redo=redo)
        self.backend = backend_and_device(settings.flow_backend, settings.device, source)[0]

    def finished(self, task: Task) -> Sidecar:
        return Sidecar(task.output)

    def expected(self, task: Task) -> dict[str, Any]:
        return flow_identity(task.video.fingerprint, self.settings, self.backend)

    def notice(self, task: Task, why: str) -> str:
        return f"{task.video}: {task.output} is stale ({why}): computing it again"

    def compute(self, task: Task, identity: dict[str, Any]) -> FlowInfo:
        """Into the partial file (from the first frame when asked to make it again); the
        record of an older file at this name goes first: never beside a file it did not make."""
        if self.redo:
            partial_files(task.output)[1].unlink(missing_ok=True)
        sidecar_path(task.output).unlink(missing_ok=True)
        info = task.video.info
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            if task.progress is not None:
                task.progress("flow", done, info.frames)

        return compute_flow(info, task.output, self.settings, identity, advance, self.chunk)

    def write(self, task: Task, result: FlowInfo) -> None:
        partial, record = partial_files(task.output)
        os.replace(partial, task.output)
        record.unlink(missing_ok=True)

    def record(self, task: Task, identity: dict[str, Any], result: FlowInfo) -> None:
        write_sidecar(task.output, identity, video_source(task.video.path))


class FlowCache(FlowStage):
    """The flow a feature folder keeps beside its features (``flow_<preset>.npy``), made
    under the folder's lock."""

    def notice(self, task: Task, why: str) -> str:
        return f"{task.video}: the flow cache {task.output} is stale ({why}): computing it again"

    def lock(self, task: Task) -> AbstractContextManager[None]:
        return nullcontext()
