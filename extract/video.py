"""Decoding at a constant 25 fps, by timestamps, in chunks (memory does not grow with length).

Output frame ``i`` shows the source frame on screen at ``t = i / 25`` s (the last frame whose
presentation time is <= t), for every ``t`` before the end of the last source frame, so
``N25 = ceil(duration x 25)``. A 25 fps source maps one to one. Frames are resized so the
short side is ``short_side`` (bilinear, aspect kept; long side rounded to even).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import cv2
import numpy as np

from extract.errors import VideoError
from extract.presets import FPS, SHORT_SIDE
from extract.reuse import video_fingerprint
from wtal.errors import UsageError

#: Spread of frame durations (relative to their median) above which a file counts as VFR.
VFR_TOLERANCE = 0.25


@dataclass(frozen=True)
class VideoInfo:
    """What a video is, and how it maps to the 25 fps timeline."""

    path: str
    width: int
    height: int
    original_fps: float
    original_frames: int
    duration: float
    frames: int  # at 25 fps
    variable_frame_rate: bool
    source_index: np.ndarray = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("source_index")
        out["fps"] = FPS
        return out


class Video:
    """A video file as the stages read it: its path as given (records and messages name it
    so), and its fingerprint and probe, each taken once, when first needed (the probe may be
    taken ahead, on another thread)."""

    def __init__(self, path: str | os.PathLike[str], on_variable_frame_rate: str = "resample"):
        self.path = path
        self.on_variable_frame_rate = on_variable_frame_rate
        self._fingerprint: dict[str, Any] | None = None
        self._info: VideoInfo | None = None

    def __str__(self) -> str:
        return os.fspath(self.path)

    @property
    def fingerprint(self) -> dict[str, Any]:
        """:func:`extract.reuse.video_fingerprint` (a :class:`VideoError` when unreadable)."""
        if self._fingerprint is None:
            self._fingerprint = video_fingerprint(self.path)
        return self._fingerprint

    @property
    def info(self) -> VideoInfo:
        """:func:`probe` under the video's frame-rate policy."""
        if self._info is None:
            self._info = probe(self.path, self.on_variable_frame_rate)  # type: ignore[arg-type]
        return self._info


def _open(path: str | os.PathLike[str]) -> Any:
    import decord

    if not os.path.isfile(path):
        raise VideoError(path, "file not found")
    try:
        return decord.VideoReader(os.fspath(path), num_threads=1)
    except Exception as exc:  # decord raises its own DECORDError and RuntimeError
        raise VideoError(path, f"cannot be decoded ({str(exc).splitlines()[0][:200]})") from None


def probe(
    path: str | os.PathLike[str], on_variable_frame_rate: Literal["resample", "error"] = "resample"
) -> VideoInfo:
    """Read timestamps and map the 25 fps timeline onto source frames."""
    reader = _open(path)
    count = len(reader)
    if count == 0:
        raise VideoError(path, "has no video frames")
    try:
        stamps = np.asarray(reader.get_frame_timestamp(range(count)), dtype=np.float64)
        height, width = reader[0].shape[:2]
    except Exception as exc:
        raise VideoError(path, f"is corrupt ({str(exc).splitlines()[0][:200]})") from None
    starts, ends = stamps[:, 0], stamps[:, 1]
    duration = float(ends[-1])
    if not math.isfinite(duration) or duration <= 0:
        raise VideoError(path, f"has no usable timestamps (duration {duration})")
    steps = np.diff(starts)
    vfr = bool(
        steps.size > 1 and (np.any(steps <= 0) or np.ptp(steps) > VFR_TOLERANCE * np.median(steps))
    )
    if vfr:
        message = "has a variable frame rate"
        if on_variable_frame_rate == "error":
            raise VideoError(path, message + " (resampling by timestamps was not allowed)")
        warnings.warn(f"{path}: {message}: resampled to 25 fps by timestamps", stacklevel=2)
    # Container timestamps are often float32-rounded (12.8 s is stored as 12.8000002): a
    # thousandth of a frame of slack keeps that from adding a spurious last frame.
    frames = math.ceil(duration * FPS - 1e-3)
    times = np.arange(frames) / FPS
    source = np.clip(np.searchsorted(starts, times + 1e-6, side="right") - 1, 0, count - 1)
    fps = float(reader.get_avg_fps())
    return VideoInfo(
        path=os.fspath(path),
        width=int(width),
        height=int(height),
        original_fps=fps,
        original_frames=count,
        duration=duration,
        frames=frames,
        variable_frame_rate=vfr,
        source_index=source,
    )


def resized_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """(width, height) with the short side = ``short_side``, long side even, aspect kept."""
    scale = short_side / min(width, height)
    if width <= height:
        return short_side, max(2, 2 * round(height * scale / 2))
    return max(2, 2 * round(width * scale / 2)), short_side


def iter_frames(
    info: VideoInfo, short_side: int = SHORT_SIDE, chunk: int = 64, start: int = 0
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first_index, frames)`` with frames ``(n, H, W, 3)`` uint8 RGB at 25 fps."""
    reader = _open(info.path)
    size = resized_size(info.width, info.height, short_side)
    for lo in range(start, info.frames, chunk):
        wanted = info.source_index[lo : lo + chunk]
        unique, inverse = np.unique(wanted, return_inverse=True)
        try:
            decoded = reader.get_batch(unique.tolist()).asnumpy()
        except Exception as exc:
            raise VideoError(
                info.path, f"is corrupt near frame {int(unique[0])} ({str(exc)[:200]})"
            ) from None
        resized = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_LINEAR) for f in decoded])
        yield lo, resized[inverse]


def center_crop(frames: np.ndarray, size: int) -> np.ndarray:
    """Centre ``size`` x ``size`` crop of ``(..., H, W, C)`` frames."""
    height, width = frames.shape[-3:-1]
    if height < size or width < size:
        raise UsageError(
            f"frames of {width}x{height} are smaller than the {size} crop (a crop larger than "
            "the short side?)"
        )
    top, left = (height - size) // 2, (width - size) // 2
    return frames[..., top : top + size, left : left + size, :]
