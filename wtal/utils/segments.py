"""Reading time segments: one ``[start, end]`` checked (finite, ordered, numeric) and the
THUMOS14 ambiguous-interval file; shared by the dataset readers and the evaluator."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from wtal.errors import InputFileError
from wtal.utils.files import read_text


def inf_hint(*values: float) -> str:
    if any(math.isinf(v) for v in values):
        return " (a number too large for a float, such as 1e400, reads as inf)"
    return ""


def too_large_for_float(value: Any) -> str | None:
    """What is wrong with an integer that ``float()`` refuses (JSON integers of 309 digits or
    more raise OverflowError, where a float such as 1e400 reads as inf), or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            float(value)
        except OverflowError:
            return f"an integer of {len(str(abs(value)))} digits, too large for a float"
    return None


def first_too_large(value: Any) -> str:
    """:func:`too_large_for_float` of the first such number in ``value``'s nested lists."""
    if isinstance(value, list | tuple):
        found = (first_too_large(item) for item in value)
        return next((problem for problem in found if problem), "")
    return too_large_for_float(value) or ""


def check_segment(path: str | os.PathLike[str], where: str, segment: Any) -> tuple[float, float]:
    if not isinstance(segment, list | tuple) or len(segment) != 2:
        raise InputFileError(path, f"{where}: 'segment' must be [start, end], got {segment!r}")
    try:
        start, end = float(segment[0]), float(segment[1])
    except (TypeError, ValueError):
        raise InputFileError(path, f"{where}: segment {segment!r} is not numeric") from None
    except OverflowError:
        raise InputFileError(path, f"{where}: segment holds {first_too_large(segment)}") from None
    if not (math.isfinite(start) and math.isfinite(end)):
        raise InputFileError(
            path, f"{where}: segment {segment!r} is not finite{inf_hint(start, end)}"
        )
    if end < start:
        raise InputFileError(path, f"{where}: segment {segment!r} is reversed (end < start)")
    return start, end


def load_ambiguous_file(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a THUMOS14 ``Ambiguous_test.txt`` (``video start end`` per line, seconds)."""
    intervals: dict[str, list[tuple[float, float]]] = {}
    lines = read_text(path).splitlines()
    for number, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3:
            raise InputFileError(path, f"line {number}: expected 'video start end', got {line!r}")
        segment = check_segment(path, f"line {number}", parts[1:])
        intervals.setdefault(parts[0], []).append(segment)
    return {vid: np.asarray(rows, dtype=np.float64) for vid, rows in intervals.items()}
