"""Feature timing: which seconds of a video each feature row stands for.

A feature row ``i`` comes from a window of ``frames_per_segment`` frames starting at frame
``i x stride`` of a video decoded at ``fps``. Convention (ActionFormer's, the published one
for sliding-window features): a feature sits at its window's **centre**,
``(i x stride + frames_per_segment / 2) / fps``, and stands for the ``stride / fps`` seconds
around it (its *cell*). Cell boundaries are what segment indices mean here: index ``b`` is
the boundary before feature ``b``, so a run of features ``[s, e)`` spans
``[to_seconds(s), to_seconds(e))`` and

    to_seconds(b) = b x stride / fps + (frames_per_segment - stride) / (2 fps),

which is ActionFormer's ``(x x stride + 0.5 x num_frames) / fps`` at grid point
``x = b - 0.5`` (the middle between two feature centres). For non-overlapping windows
(``stride == frames_per_segment``, e.g. the W-TALC I3D features: 16 frames at 25 fps) the
offset is 0 and a cell is the window itself: ``to_seconds(i) = i x 0.64`` exactly.

``extract/features.py`` records the timing of the features it writes in each ``meta.json``
as ``"timing": {"fps": ..., "frames_per_segment": ..., "stride": ...}``; the config's
``dataset.timing`` takes the same three keys.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from wtal.errors import InputFileError

TIMING_KEYS = ("fps", "frames_per_segment", "stride")


@dataclass(frozen=True)
class FeatureTiming:
    """``fps`` of the decoded frames, ``frames_per_segment`` frames per feature window,
    ``stride`` frames between consecutive windows."""

    fps: float
    frames_per_segment: int
    stride: int

    def __post_init__(self) -> None:
        problem = _problem(self.fps, self.frames_per_segment, self.stride)
        if problem:
            raise ValueError(f"bad feature timing: {problem}")

    @property
    def seconds_per_segment(self) -> float:
        """Seconds between consecutive features (the length of one cell)."""
        return self.stride / self.fps

    @property
    def offset_seconds(self) -> float:
        """Where the cell of feature 0 starts: half the window beyond one stride."""
        return (self.frames_per_segment - self.stride) / (2.0 * self.fps)

    def window_start(self, index: np.ndarray | float) -> np.ndarray:
        """First frame's time of feature ``index``'s window, in seconds."""
        return np.asarray(index, dtype=np.float64) * self.seconds_per_segment

    def centre(self, index: np.ndarray | float) -> np.ndarray:
        """Time of feature ``index`` (its window's centre, ActionFormer's convention)."""
        return np.asarray(
            index, dtype=np.float64
        ) * self.seconds_per_segment + self.frames_per_segment / (2.0 * self.fps)

    def to_seconds(self, index: np.ndarray | float) -> np.ndarray:
        """Segment boundary indices (float arrays) -> seconds (see the module docstring)."""
        seconds = np.asarray(index, dtype=np.float64) * self.seconds_per_segment
        offset = self.offset_seconds
        return seconds + offset if offset else seconds

    def to_index(self, seconds: np.ndarray | float) -> np.ndarray:
        """The inverse of ``to_seconds``: seconds -> (fractional) boundary indices."""
        return (np.asarray(seconds, dtype=np.float64) - self.offset_seconds) / (
            self.seconds_per_segment
        )

    def expected_segments(self, duration: float) -> float:
        """How many whole windows ``duration`` seconds hold (the tail dropped), unrounded."""
        return max(0.0, (duration * self.fps - self.frames_per_segment) / self.stride + 1.0)

    def describe(self) -> str:
        return (
            f"{self.frames_per_segment}-frame windows every {self.stride} frames "
            f"at {self.fps:g} fps"
        )

    def to_meta(self) -> dict[str, Any]:
        return {
            "fps": float(self.fps),
            "frames_per_segment": int(self.frames_per_segment),
            "stride": int(self.stride),
        }

    @classmethod
    def from_meta(
        cls, data: Any, path: str | os.PathLike[str] = "<feature timing>", where: str = "timing"
    ) -> FeatureTiming:
        """From ``{"fps", "frames_per_segment", "stride"}``; bad values raise
        ``InputFileError`` naming ``path`` (and ``where`` inside it, when given)."""
        prefix = f"{where}: " if where else ""
        if not isinstance(data, Mapping):
            raise InputFileError(
                path, f"{prefix}expected {{fps, frames_per_segment, stride}}, got {data!r}"
            )
        missing = [k for k in TIMING_KEYS if k not in data]
        if missing:
            raise InputFileError(path, f"{prefix}missing {', '.join(missing)}")
        fps, frames, stride = (data[k] for k in TIMING_KEYS)
        problem = _problem(fps, frames, stride)
        if problem:
            raise InputFileError(path, f"{prefix}{problem}")
        return cls(float(fps), int(frames), int(stride))


def _problem(fps: Any, frames: Any, stride: Any) -> str | None:
    if isinstance(fps, bool) or not isinstance(fps, int | float):
        return f"fps {fps!r} is not a number"
    if not (math.isfinite(fps) and fps > 0):
        return f"fps {fps!r} must be a positive finite number"
    for name, value in (("frames_per_segment", frames), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer):
            return f"{name} {value!r} is not a whole number"
        if not math.isfinite(value) or value != int(value) or value < 1:
            return f"{name} {value!r} must be a whole number >= 1"
    if stride > frames:
        return f"stride {stride} is longer than the {frames}-frame window (frames would be skipped)"
    return None


#: The published I3D features (W-TALC / CO2-Net, and ``wtal extract``): non-overlapping
#: 16-frame windows at 25 fps, 0.64 s per feature.
I3D_25FPS = FeatureTiming(25.0, 16, 16)

#: ActionFormer's THUMOS14 I3D release: 16-frame windows every 4 frames at ~30 fps.
ACTIONFORMER_THUMOS = FeatureTiming(30.0, 16, 4)
