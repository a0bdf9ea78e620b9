"""Columnar ground-truth and prediction tables, and their readers for ActivityNet JSON.

The evaluator works on these tables, never on models: ground truth is
``{"database": {vid: {"subset", "duration", "annotations": [{"segment", "label"}]}}}`` and
predictions are ``{"results": {vid: [{"segment", "label", "score"}]}}``. Readers check every
entry and name the file and the entry at fault: non-finite numbers (a number too large for a
float, such as 1e400, reads as inf; an integer of 309 digits or more is named as too large)
and reversed segments are refused; a segment that starts
before 0 is kept as it is, since the official evaluator scores it so (the evaluator counts them).
Duplicate keys are refused by :func:`wtal.utils.files.read_json`.

A predictions file is read by :func:`read_predictions` one video at a time (its rows turned
into arrays at once), with the same checks, messages and table as the whole-file read.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wtal.data.subsets import same_subset
from wtal.errors import InputFileError
from wtal.utils.files import read_json, refuse_duplicate_keys
from wtal.utils.json_stream import IrregularJson, JsonStream
from wtal.utils.segments import check_segment, inf_hint, too_large_for_float


@dataclass(frozen=True)
class GroundTruth:
    """Ground-truth instances of one subset.

    ``classes`` keeps the order in which labels first appear (as the official evaluator
    builds its class index). ``video_ids`` lists every video of the subset, annotated or not.
    ``ambiguous`` maps a video id to an ``(m, 2)`` array of intervals to ignore (THUMOS14).
    ``other_video_ids`` lists the file's videos of other subsets (predictions there are false
    positives, as in the official evaluator, and worth a warning).
    """

    video_ids: tuple[str, ...]
    classes: tuple[str, ...]
    video: np.ndarray
    label: np.ndarray
    start: np.ndarray
    end: np.ndarray
    ambiguous: dict[str, np.ndarray] = field(default_factory=dict)
    video_labels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    other_video_ids: frozenset[str] = frozenset()

    def __len__(self) -> int:
        return int(self.video.size)


@dataclass(frozen=True)
class Predictions:
    """Scored detections; ``video`` indexes ``video_ids`` and ``label`` indexes ``labels``."""

    video_ids: tuple[str, ...]
    labels: tuple[str, ...]
    video: np.ndarray
    label: np.ndarray
    start: np.ndarray
    end: np.ndarray
    score: np.ndarray

    def __len__(self) -> int:
        return int(self.video.size)

    def take(self, index: np.ndarray) -> Predictions:
        """The rows at ``index`` (an integer array or a boolean mask), order kept."""
        return Predictions(
            self.video_ids,
            self.labels,
            self.video[index],
            self.label[index],
            self.start[index],
            self.end[index],
            self.score[index],
        )


def ground_truth_from_dict(
    data: Any, subset: str | None, path: str | os.PathLike[str] = "<ground truth>"
) -> GroundTruth:
    """Build the ground truth of ``subset`` (all subsets when None) from parsed JSON."""
    if not isinstance(data, dict) or not isinstance(data.get("database"), dict):
        raise InputFileError(path, "missing the top-level 'database' object")
    database: dict[str, Any] = data["database"]
    subsets = set()
    video_ids: list[str] = []
    classes: dict[str, int] = {}
    video, label, start, end = [], [], [], []
    ambiguous: dict[str, np.ndarray] = {}
    video_labels: dict[str, tuple[str, ...]] = {}
    others: set[str] = set()
    for vid, entry in database.items():
        where = f"database/{vid}"
        if not isinstance(entry, dict):
            raise InputFileError(path, f"{where}: must be an object")
        if "subset" not in entry:
            raise InputFileError(path, f"{where}: missing 'subset'")
        subsets.add(entry["subset"])
        if subset is not None and not same_subset(str(entry["subset"]), subset):
            others.add(vid)
            continue
        if "duration" in entry and entry["duration"] is not None:
            duration = entry["duration"]
            if problem := too_large_for_float(duration):
                raise InputFileError(path, f"{where}: 'duration' is {problem}")
            if not isinstance(duration, int | float) or not 0 <= duration < math.inf:
                raise InputFileError(path, f"{where}: 'duration' must be >= 0, got {duration!r}")
        annotations = entry.get("annotations")
        if not isinstance(annotations, list):
            raise InputFileError(path, f"{where}: 'annotations' must be a list")
        vindex = len(video_ids)
        video_ids.append(vid)
        for k, ann in enumerate(annotations):
            at = f"{where}/annotations/{k}"
            if not isinstance(ann, dict) or "segment" not in ann or "label" not in ann:
                raise InputFileError(path, f"{at}: needs 'segment' and 'label'")
            s, e = check_segment(path, at, ann["segment"])
            if e == s:
                raise InputFileError(path, f"{at}: segment {ann['segment']!r} has zero length")
            name = ann["label"]
            if not isinstance(name, str):
                raise InputFileError(path, f"{at}: 'label' must be a string, got {name!r}")
            video.append(vindex)
            label.append(classes.setdefault(name, len(classes)))
            start.append(s)
            end.append(e)
        names = entry.get("labels")
        if names is None:
            names = sorted({ann["label"] for ann in annotations})
        elif not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise InputFileError(path, f"{where}: 'labels' must be a list of strings")
        video_labels[vid] = tuple(names)
        if entry.get("ambiguous"):
            rows = [
                check_segment(path, f"{where}/ambiguous/{k}", seg)
                for k, seg in enumerate(entry["ambiguous"])
            ]
            ambiguous[vid] = np.asarray(rows, dtype=np.float64).reshape(-1, 2)
    if subset is not None and not any(same_subset(str(name), subset) for name in subsets):
        known = ", ".join(sorted(map(str, subsets))) or "none"
        raise InputFileError(path, f"unknown subset {subset!r} (subsets in the file: {known})")
    return GroundTruth(
        video_ids=tuple(video_ids),
        classes=tuple(classes),
        video=np.asarray(video, dtype=np.int64),
        label=np.asarray(label, dtype=np.int64),
        start=np.asarray(start, dtype=np.float64),
        end=np.asarray(end, dtype=np.float64),
        ambiguous=ambiguous,
        video_labels=video_labels,
        other_video_ids=frozenset(others),
    )


def load_ground_truth(path: str | os.PathLike[str], subset: str | None) -> GroundTruth:
    """Read an ActivityNet ground-truth JSON file and keep the videos of ``subset``."""
    return ground_truth_from_dict(read_json(path), subset, path)


def _locate_bad_prediction(path: str | os.PathLike[str], results: dict[str, Any]) -> None:
    """Slow path: find the first malformed prediction and raise an error naming it."""
    for vid, rows in results.items():
        where = f"results/{vid}"
        if not isinstance(rows, list):
            raise InputFileError(path, f"{where}: must be a list of predictions")
        for k, row in enumerate(rows):
            at = f"{where}/{k}"
            if not isinstance(row, dict):
                raise InputFileError(path, f"{at}: must be an object")
            for key in ("segment", "label", "score"):
                if key not in row:
                    raise InputFileError(path, f"{at}: missing '{key}'")
            check_segment(path, at, row["segment"])
            if not isinstance(row["label"], str):
                raise InputFileError(path, f"{at}: 'label' must be a string")
            score = row["score"]
            if isinstance(score, bool) or not isinstance(score, int | float):
                raise InputFileError(path, f"{at}: 'score' must be a number, got {score!r}")
            if problem := too_large_for_float(score):
                raise InputFileError(path, f"{at}: score is {problem}")
            if not math.isfinite(score):
                raise InputFileError(path, f"{at}: score {score!r} is not finite{inf_hint(score)}")


class _PredictionColumns:
    """A prediction table built video by video, each video's rows turned into arrays at once
    by the checks of the whole-file reader (any failure: a second pass names the entry)."""

    def __init__(self) -> None:
        self.video_ids: list[str] = []
        self.label_index: dict[str, int] = {}
        self.counts: list[int] = []
        self.columns: tuple[list[np.ndarray], ...] = ([], [], [], [])  # label, start, end, score
        self.malformed = False  # rows that the fast checks refuse
        self.suspect = False  # non-finite or reversed values

    def add(self, vid: str, rows: Any) -> None:
        self.video_ids.append(vid)
        if self.malformed:
            return  # no table will be made; the caller goes on checking the document
        try:
            count = len(rows)
            segments = np.array([row["segment"] for row in rows], dtype=np.float64)
            if segments.size == 0:
                segments = segments.reshape(0, 2)
            if segments.ndim != 2 or segments.shape[1] != 2:
                raise ValueError("segment")
            scores = np.array([row["score"] for row in rows], dtype=np.float64)
            index = self.label_index
            labels = np.array(
                [index.setdefault(row["label"], len(index)) for row in rows], dtype=np.int64
            )
            if any(not isinstance(row["label"], str) for row in rows):
                raise TypeError("label")
            if any(isinstance(row["score"], bool | str) for row in rows):
                raise TypeError("score")
        except (KeyError, TypeError, ValueError, IndexError, OverflowError):
            self.malformed = True
            return
        bad = ~(np.isfinite(segments).all(axis=1) & np.isfinite(scores))
        self.suspect |= bool(bad.any() or (segments[:, 1] < segments[:, 0]).any())
        self.counts.append(count)
        for column, values in zip(
            self.columns,
            (labels, segments[:, 0].copy(), segments[:, 1].copy(), scores),
            strict=True,
        ):
            column.append(values)

    def table(self) -> Predictions:
        """The table; each column is joined (and its pieces let go) in turn."""
        joined = [_join(pieces, dtype) for pieces, dtype in zip(self.columns, _DTYPES, strict=True)]
        label, start, end, score = joined
        video = np.repeat(np.arange(len(self.video_ids), dtype=np.int64), self.counts)
        return Predictions(
            tuple(self.video_ids), tuple(self.label_index), video, label, start, end, score
        )


_DTYPES = (np.int64, np.float64, np.float64, np.float64)


def _join(pieces: list[np.ndarray], dtype: type) -> np.ndarray:
    out = np.concatenate(pieces) if pieces else np.zeros(0, dtype=dtype)
    pieces.clear()
    return out


def predictions_from_dict(data: Any, path: str | os.PathLike[str] = "<predictions>") -> Predictions:
    """Build a prediction table from parsed ActivityNet results JSON, checking every row."""
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise InputFileError(path, "missing the top-level 'results' object")
    results: dict[str, Any] = data["results"]
    columns = _PredictionColumns()
    for vid, rows in results.items():
        columns.add(vid, rows)
    if columns.malformed or columns.suspect:
        _locate_bad_prediction(path, results)
    if columns.malformed:
        raise InputFileError(path, "malformed 'results'")
    return columns.table()


def load_predictions(path: str | os.PathLike[str]) -> Predictions:
    """Read an ActivityNet results JSON file."""
    return read_predictions(path)[0]


def read_predictions(path: str | os.PathLike[str]) -> tuple[Predictions, dict[str, Any]]:
    """The prediction table of a results file and its other top-level entries
    (``video_scores``, ``foreground``, ...; not ``results``).

    Gives what ``predictions_from_dict(read_json(path))`` gives, errors included, but reads
    the ``results`` object one video at a time, so that its rows never all exist as Python
    objects (they took 8.6x the file's size). A file this reader does not follow (not valid
    JSON, not an object, ...) is read by :func:`read_json`, whose message names the problem.
    """
    columns = _PredictionColumns()
    try:
        other, streamed = _stream_results(path, columns.add)
        if streamed and (columns.malformed or columns.suspect):
            # The document is valid JSON: the entry at fault is named as the full read would.
            _stream_results(path, lambda vid, rows: _locate_bad_prediction(path, {vid: rows}))
    except (IrregularJson, OSError, UnicodeDecodeError):
        data = read_json(path)
        return predictions_from_dict(data, path), data
    if not streamed:  # no 'results' object: refused as the full read refuses it
        return predictions_from_dict(other, path), other
    if columns.malformed:
        raise InputFileError(path, "malformed 'results'")
    return columns.table(), other


def _stream_results(
    path: str | os.PathLike[str], each_video: Callable[[str, Any], None]
) -> tuple[dict[str, Any], bool]:
    """Walk a JSON file's top-level object, handing each ``results`` video's rows to
    ``each_video`` as soon as they are decoded. Returns the other top-level entries (with
    ``results`` where it is not an object) and whether a ``results`` object was walked."""
    hook = refuse_duplicate_keys(path)
    streamed = False
    with open(path, encoding="utf-8") as handle:
        stream = JsonStream(handle, json.JSONDecoder(object_pairs_hook=hook), hook)
        other: dict[str, Any] = {}
        for key in stream.members():
            if key == "results" and stream.peek() == "{":
                streamed = True
                for vid in stream.members():
                    each_video(vid, stream.value())
            else:
                other[key] = stream.value()
        if stream.peek() != "":
            raise IrregularJson("extra data")
    return other, streamed


def video_scores_from_dict(
    data: Any, path: str | os.PathLike[str] = "<predictions>"
) -> dict[str, dict[str, float]]:
    """Optional video-level class scores: ``{"video_scores": {vid: {label: score}}}``."""
    scores = data.get("video_scores") if isinstance(data, dict) else None
    if scores is None:
        return {}
    if not isinstance(scores, dict):
        raise InputFileError(path, "'video_scores' must map video ids to {label: score}")
    for vid, row in scores.items():
        if not isinstance(row, dict):
            raise InputFileError(path, f"video_scores/{vid}: must map labels to scores")
        for name, value in row.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InputFileError(path, f"video_scores/{vid}/{name}: not a number")
            if problem := too_large_for_float(value):
                raise InputFileError(path, f"video_scores/{vid}/{name}: {problem}")
            if not math.isfinite(value):
                raise InputFileError(
                    path, f"video_scores/{vid}/{name}: {value!r} is not finite{inf_hint(value)}"
                )
    return scores
