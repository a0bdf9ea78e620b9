"""Seeded detections in integer segment units on the real THUMOS14 test ground truth, made
the way the authors' post-processing makes them (integer [start, end) segment ranges), with
the cases segment units make common: predictions at exactly a tIoU threshold, touching and
overlapping the ambiguous intervals, duplicates, wrong labels, equal scores, background
false alarms. The authors' evaluator (their eval/eval_detection.py and the ambiguous filter
of their proposal_methods.py) scored exactly these rows; test_segment_units.py pins what it
returned."""

from __future__ import annotations

from typing import Any

import numpy as np

#: One segment of the published features: 16 frames at 25 fps.
SECONDS_PER_SEGMENT = 16 / 25

Row = tuple[str, int, int, str, float]  # video, start, end (segments), label, score


def _segments(seconds: float) -> int:
    return round(seconds * 25 / 16)  # Python's round: half to even, as the authors'


def _at_threshold(rng: np.random.Generator, start: int, end: int) -> tuple[int, int] | None:
    """A prediction inside [start, end) whose tIoU is exactly a multiple of 0.1, if one fits."""
    length = end - start
    fractions = [k for k in range(1, 10) if (length * k) % 10 == 0]
    if not fractions:
        return None
    k = int(rng.choice(fractions))
    offset = int(rng.integers(0, length - length * k // 10 + 1))
    return start + offset, start + offset + length * k // 10


def segment_predictions(ground_truth: dict[str, Any], seed: int = 0) -> list[Row]:
    """Detections for every test video of an ActivityNet-style ground truth (seconds), in
    integer segments."""
    rng = np.random.default_rng(seed)
    database = ground_truth["database"]
    classes = sorted({a["label"] for v in database.values() for a in v.get("annotations", [])})
    rows: list[Row] = []
    for video in sorted(database):
        entry = database[video]
        if entry["subset"] != "test":
            continue
        limit = max(2, _segments(entry["duration"]))
        for annotation in entry.get("annotations", []):
            start, end = (_segments(t) for t in annotation["segment"])
            if end <= start:
                continue
            label = annotation["label"]
            score = float(np.round(rng.random(), 2))  # two decimals: many equal scores
            jitter = rng.integers(-3, 4, size=2)
            s, e = max(0, start + int(jitter[0])), max(0, end + int(jitter[1]))
            if e > s:
                rows.append((video, s, e, label, score))
            tie = _at_threshold(rng, start, end)
            if tie is not None:
                rows.append((video, *tie, label, float(np.round(rng.random(), 2))))
            if rng.random() < 0.3:  # a duplicate, scored lower
                rows.append((video, start, end, label, score / 2))
            if rng.random() < 0.2:  # the right place, the wrong class
                other = str(rng.choice([c for c in classes if c != label]))
                rows.append((video, start, end, other, float(np.round(rng.random(), 2))))
        for low, high in entry.get("ambiguous", []):
            a, b = _segments(low), _segments(high)
            for s, e in ((a - 3, a), (b, b + 3), (a, a + 1), (a - 2, b + 2)):
                if 0 <= s < e:
                    label = str(rng.choice(classes))
                    rows.append((video, s, e, label, float(np.round(rng.random(), 2))))
        for _ in range(int(rng.integers(0, 4))):  # background false alarms
            s = int(rng.integers(0, limit - 1))
            e = int(min(limit, s + rng.integers(1, 40)))
            rows.append((video, s, e, str(rng.choice(classes)), float(np.round(rng.random(), 2))))
    return rows


def predictions_in_seconds(rows: list[Row]) -> dict[str, Any]:
    """The rows as this project's predictions file writes them: segment x 16/25 s."""
    results: dict[str, list[dict[str, Any]]] = {}
    for video, start, end, label, score in rows:
        results.setdefault(video, []).append(
            {
                "segment": [start * SECONDS_PER_SEGMENT, end * SECONDS_PER_SEGMENT],
                "label": label,
                "score": score,
            }
        )
    return {"results": results}
