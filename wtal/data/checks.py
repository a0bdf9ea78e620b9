"""Checks every reader applies: bad segments, feature values and widths, feature lengths,
nested classes."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from wtal.data.dataset import DataQuirk, VideoRecord
from wtal.data.timing import I3D_25FPS, FeatureTiming
from wtal.errors import InputFileError, quoted
from wtal.utils.segments import too_large_for_float

#: Rows of a feature array tested for NaN/inf at a time (2048 float32 channels: 32 MiB), so a
#: memory-mapped file is read once in pieces and never copied whole.
FINITE_CHUNK_ROWS = 4096

#: Allowed gap between the feature count and the count the duration gives at the features'
#: timing, in segments (decoders round, the tail is dropped); beyond it the features probably
#: were not extracted at that timing (another frame rate or stride).
FEATURE_LENGTH_TOLERANCE = 0.05


def json_number(path: str | os.PathLike[str], where: str, value: Any) -> float:
    """A JSON number as a float; anything else (a string, a boolean, null, an integer too
    large for a float) is an error naming ``path`` and ``where``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputFileError(path, f"{where}: {quoted(value)} is not a number")
    problem = too_large_for_float(value)
    if problem:
        raise InputFileError(path, f"{where}: {problem}")
    return float(value)


def json_instances(
    path: str | os.PathLike[str], where: str, annotations: Any
) -> tuple[np.ndarray, list[str]]:
    """The ``(N, 2)`` segments (seconds) and labels of an ``annotations`` list of JSON
    annotation files: each entry an object with ``segment`` [start, end] (two numbers) and a
    string ``label``; anything else is an error naming the entry."""
    if annotations is None:
        annotations = []
    if not isinstance(annotations, list):
        raise InputFileError(path, f"{where}/annotations: not a list")
    segments = np.zeros((len(annotations), 2))
    labels = []
    for index, entry in enumerate(annotations):
        at = f"{where}/annotations/{index}"
        if not isinstance(entry, dict) or "segment" not in entry or "label" not in entry:
            raise InputFileError(path, f"{at}: each needs 'segment' [s, e] and 'label'")
        segment, label = entry["segment"], entry["label"]
        if not isinstance(label, str):
            raise InputFileError(path, f"{at}: label {quoted(label)} is not a string")
        if not isinstance(segment, list) or len(segment) != 2:
            raise InputFileError(path, f"{at}: segment {quoted(segment)} is not [s, e]")
        segments[index] = [json_number(path, f"{at}/segment", v) for v in segment]
        labels.append(label)
    return segments, labels


def clean_segments(
    video_id: str, segments: np.ndarray, labels: Sequence[str], duration: float | None
) -> tuple[np.ndarray, tuple[str, ...], list[DataQuirk]]:
    """Drop reversed, zero-length or non-finite instances; report those that start before 0
    or end after the video (kept: the official evaluator scores them as they are)."""
    quirks: list[DataQuirk] = []
    segments = np.asarray(segments, dtype=np.float64).reshape(-1, 2)
    ok = np.isfinite(segments).all(axis=1) & (segments[:, 1] > segments[:, 0])
    for s, e in segments[~ok]:
        quirks.append(
            DataQuirk(
                "bad-segment",
                f"instance [{s}, {e}] is empty, reversed or not finite: dropped",
                video_id,
            )
        )
    early = ok & (segments[:, 0] < 0)
    if early.any():
        quirks.append(
            DataQuirk(
                "segment-before-start",
                f"{int(early.sum())} instance(s) start before 0 s: kept (scored as they are)",
                video_id,
            )
        )
    if duration is not None:
        late = ok & (segments[:, 1] > duration + 1e-6)
        if late.any():
            quirks.append(
                DataQuirk(
                    "segment-beyond-duration",
                    f"{int(late.sum())} instance(s) end after the video's {duration:.2f} s: kept",
                    video_id,
                )
            )
    kept_labels = tuple(label for label, good in zip(labels, ok, strict=True) if good)
    return segments[ok], kept_labels, quirks


def first_non_finite_row(array: np.ndarray, chunk_rows: int = FINITE_CHUNK_ROWS) -> int | None:
    """Index of the first row holding a NaN or an infinity, or None; reads ``chunk_rows`` rows
    at a time (a memory-mapped array is never loaded whole)."""
    for start in range(0, array.shape[0], chunk_rows):
        finite = np.isfinite(array[start : start + chunk_rows])
        if not finite.all():
            rows = finite.reshape(finite.shape[0], -1).all(axis=1)
            return start + int(np.argmin(rows))
    return None


def non_finite_message(video_id: str, row: int) -> str:
    return (
        f"video {video_id!r}: features are not finite (NaN or inf), first at segment {row}; "
        "re-extract this video's features"
    )


def width_problem(video_id: str, width: int) -> str | None:
    """Why a feature width cannot be the RGB half then the flow half, or None."""
    if width % 2 == 0 and width > 0:
        return None
    return (
        f"video {video_id!r}: {width} channels, not RGB + flow halves "
        "(expected an even width, 2048 for I3D)"
    )


def check_feature_length(record: VideoRecord, timing: FeatureTiming = I3D_25FPS) -> list[DataQuirk]:
    """Features whose length disagrees with the duration at ``timing`` (the record's own
    timing when it has one): 25/16 segments per second for the published I3D features."""
    if record.features is None or record.duration is None or record.duration <= 0:
        return []
    timing = record.timing or timing
    expected = timing.expected_segments(record.duration)
    got = record.features.shape[0]
    if got == 0:
        return [DataQuirk("empty-features", "the feature array has no segments", record.video_id)]
    if abs(got - expected) > max(2.0, FEATURE_LENGTH_TOLERANCE * expected):
        return [
            DataQuirk(
                "feature-length-mismatch",
                f"{got} segments, but {record.duration:.2f} s at {timing.describe()} "
                f"gives {expected:.1f}",
                record.video_id,
            )
        ]
    return []


def nested_classes(videos: Sequence[VideoRecord]) -> list[DataQuirk]:
    """Class pairs (A, B) where every instance of A is also annotated as B (same interval)."""
    instances: dict[str, set[tuple[str, float, float]]] = {}
    for v in videos:
        for (s, e), label in zip(v.segments, v.segment_labels, strict=True):
            instances.setdefault(label, set()).add((v.video_id, round(s, 3), round(e, 3)))
    quirks = []
    for a, inst_a in sorted(instances.items()):
        for b, inst_b in sorted(instances.items()):
            if a != b and inst_a and inst_a <= inst_b:
                quirks.append(
                    DataQuirk(
                        "nested-class",
                        f"every {a} instance ({len(inst_a)}) is also annotated as {b}",
                    )
                )
    return quirks
