"""The evaluator's front door: files in, metrics dictionary out."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wtal.errors import WtalError
from wtal.evaluation import classification
from wtal.evaluation.detection import average_precision_per_class, match_predictions
from wtal.evaluation.foreground import VideoForeground, foreground_from_dict, foreground_rates
from wtal.evaluation.protocol import (
    Units,
    filter_ambiguous,
    ground_truth_to_segments,
    predictions_to_segments,
    segments_per_second_of,
)
from wtal.evaluation.tables import (
    GroundTruth,
    Predictions,
    ground_truth_from_dict,
    read_predictions,
    video_scores_from_dict,
)
from wtal.utils.files import read_json
from wtal.utils.segments import load_ambiguous_file

#: Ranges over which THUMOS14 papers average mAP (reported when all their thresholds are used).
AVERAGE_RANGES: tuple[tuple[float, float], ...] = ((0.1, 0.5), (0.3, 0.7), (0.1, 0.7))


@dataclass(frozen=True)
class DetectionMetrics:
    tiou: np.ndarray
    ap: np.ndarray  # thresholds x classes
    classes: tuple[str, ...]
    counts: dict[str, int]
    protocol: dict[str, Any]
    classification_map: float | None = None
    classification_ap: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    foreground: dict[str, Any] | None = None

    @property
    def map(self) -> np.ndarray:
        """mAP per threshold over the classes with ground truth; NaN (undefined) without any."""
        defined = ~np.isnan(self.ap).all(axis=0) if self.ap.size else np.zeros(0, dtype=bool)
        if not defined.any():
            return np.full(self.tiou.size, np.nan)
        return self.ap[:, defined].mean(axis=1)

    @property
    def average_map(self) -> float:
        """Mean mAP over the thresholds; NaN when undefined (no ground-truth instance)."""
        return float(self.map.mean()) if self.tiou.size else math.nan

    @property
    def defined(self) -> bool:
        """False when the evaluated ground truth has no instance: mAP is then undefined."""
        return not math.isnan(self.average_map)

    def range_averages(self) -> dict[str, float]:
        """Mean mAP over the standard THUMOS14 ranges whose thresholds were all evaluated."""
        out = {}
        for lo, hi in AVERAGE_RANGES:
            inside = (self.tiou >= lo - 1e-9) & (self.tiou <= hi + 1e-9)
            wanted = round((hi - lo) / 0.1) + 1
            if inside.sum() == wanted:
                out[f"{lo:g}:{hi:g}"] = float(self.map[inside].mean())
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready metrics; undefined values (no ground truth) are None (null)."""
        out: dict[str, Any] = {
            "tiou": [float(t) for t in self.tiou],
            "mAP": [_defined(m) for m in self.map],
            "average_mAP": _defined(self.average_map),
            "average_mAP_ranges": {k: _defined(v) for k, v in self.range_averages().items()},
            "per_class_AP": {
                c: [_defined(a) for a in self.ap[:, i]] for i, c in enumerate(self.classes)
            },
            "counts": dict(self.counts),
            "protocol": dict(self.protocol),
        }
        if self.classification_map is not None:
            out["classification_mAP"] = _defined(self.classification_map)
            out["classification_per_class_AP"] = dict(self.classification_ap)
        if self.foreground is not None:
            out["foreground_classification"] = dict(self.foreground)
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def _defined(value: float) -> float | None:
    """A metric for JSON: None where it is undefined (NaN)."""
    return None if math.isnan(value) else float(value)


def percent(value: float | None, digits: int = 2) -> str:
    """A metric in % with ``digits`` decimals, or "n/a" where it is undefined (None or NaN)."""
    if value is None or math.isnan(value):
        return "n/a"
    return f"{100 * value:.{digits}f}"


def _classification(
    gt: GroundTruth, video_scores: dict[str, dict[str, float]]
) -> tuple[float, dict[str, float]]:
    classes = sorted({name for names in gt.video_labels.values() for name in names})
    index = {name: i for i, name in enumerate(classes)}
    scores = np.full((len(gt.video_ids), len(classes)), -np.inf)
    labels = np.zeros_like(scores, dtype=bool)
    for v, vid in enumerate(gt.video_ids):
        for name in gt.video_labels.get(vid, ()):
            labels[v, index[name]] = True
        for name, value in video_scores.get(vid, {}).items():
            if name in index:
                scores[v, index[name]] = value
    ap = classification.average_precision_per_class(scores, labels)
    per_class = {c: float(ap[i]) for i, c in enumerate(classes) if np.isfinite(ap[i])}
    mean = float(np.mean(list(per_class.values()))) if per_class else float("nan")
    return mean, per_class


def _input_counts(gt: GroundTruth, pred: Predictions) -> dict[str, int]:
    """What the inputs hold, counted before any unit conversion or filtering."""
    known_label = np.array([name in set(gt.classes) for name in pred.labels], dtype=bool)
    subset_videos, other_videos = set(gt.video_ids), gt.other_video_ids
    in_subset = np.array([vid in subset_videos for vid in pred.video_ids], dtype=bool)
    in_other = np.array([vid in other_videos for vid in pred.video_ids], dtype=bool)

    def rows(per_video: np.ndarray) -> int:
        return int(per_video[pred.video].sum()) if len(pred) else 0

    return {
        "ground_truth_instances": len(gt),
        "ground_truth_videos": len(gt.video_ids),
        "classes": len(gt.classes),
        "predictions": len(pred),
        "predictions_of_unknown_classes": int((~known_label[pred.label]).sum()) if len(pred) else 0,
        "predictions_in_videos_without_ground_truth": rows(~in_subset),
        "predictions_in_other_subsets": rows(~in_subset & in_other),
        "predictions_in_videos_not_in_ground_truth": rows(~in_subset & ~in_other),
        "predictions_starting_before_0": int((pred.start < 0).sum()),
        "ground_truth_starting_before_0": int((gt.start < 0).sum()),
    }


def _input_notes(counts: dict[str, int], subset: str | None) -> list[str]:
    """Warnings worth a line on the terminal (the evaluation itself goes on)."""
    notes = []
    if counts["ground_truth_instances"] == 0:
        notes.append("the ground truth has no instances: mAP is undefined (n/a)")
    for what in ("predictions", "ground_truth"):
        early = counts[f"{what}_starting_before_0"]
        if early:
            name = "prediction(s)" if what == "predictions" else "ground-truth instance(s)"
            notes.append(
                f"{early} {name} start before 0: scored as they are (tIoU on the raw segment, "
                "as the official evaluator does; not clipped)"
            )
    outside, total = counts["predictions_in_videos_without_ground_truth"], counts["predictions"]
    if total and outside > total / 2:
        where = f"subset {subset!r}" if subset else "the evaluated subset"
        notes.append(
            f"{outside} of {total} predictions ({100 * outside / total:.0f}%) are in videos "
            f"outside {where}: {counts['predictions_in_other_subsets']} in other subsets, "
            f"{counts['predictions_in_videos_not_in_ground_truth']} in videos the ground truth "
            "does not list; they count as false positives (as in the official evaluator)"
        )
    return notes


def evaluate_detection(
    gt: GroundTruth,
    pred: Predictions,
    tiou_thresholds: np.ndarray,
    *,
    units: Units = "seconds",
    filter_ambiguous_intervals: bool = False,
    video_scores: dict[str, dict[str, float]] | None = None,
    foreground: dict[str, VideoForeground] | None = None,
    sources: dict[str, str] | None = None,
) -> DetectionMetrics:
    """Detection mAP of ``pred`` against ``gt`` under the chosen protocol.

    The protocol is recorded in the result: units, ambiguous filtering, subset sources.
    """
    notes: list[str] = []
    rates = foreground_rates(gt, foreground) if foreground else None
    counts = _input_counts(gt, pred)
    notes += _input_notes(counts, (sources or {}).get("subset"))
    dropped = 0
    # The segment rate of the features the predictions came from, as their file records it.
    rate = segments_per_second_of(foreground or {})
    if units == "segments":
        gt = ground_truth_to_segments(gt, segments_per_second=rate)
        pred = predictions_to_segments(pred, segments_per_second=rate)
    if filter_ambiguous_intervals:
        if not gt.ambiguous:
            notes.append("ambiguous filtering asked for, but the ground truth has no intervals")
        pred, dropped = filter_ambiguous(pred, gt.ambiguous, units, segments_per_second=rate)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        match = match_predictions(gt, pred, tiou_thresholds)
    for warning in caught:
        notes.append(str(warning.message))
        warnings.warn(warning.message, stacklevel=2)
    ap = average_precision_per_class(match)
    cls_map, cls_ap = (None, {})
    if video_scores:
        cls_map, cls_ap = _classification(gt, video_scores)
    counts["predictions_dropped_ambiguous"] = dropped
    protocol = {
        "units": units,
        "ambiguous_filter": bool(filter_ambiguous_intervals),
        "matching": "ActivityNet greedy, VOC all-point interpolated AP",
        **(sources or {}),
    }
    return DetectionMetrics(
        tiou=np.asarray(tiou_thresholds, dtype=np.float64),
        ap=ap,
        classes=gt.classes,
        counts=counts,
        protocol=protocol,
        classification_map=cls_map,
        classification_ap=cls_ap,
        notes=tuple(notes),
        foreground=rates,
    )


def format_table(metrics: DetectionMetrics) -> str:
    """Plain-text table: mAP (%) per threshold, then the range averages."""
    head = ["tIoU"] + [f"{t:g}" for t in metrics.tiou]
    row = ["mAP (%)"] + [percent(m) for m in metrics.map]
    averages = metrics.range_averages() or {"all": metrics.average_map}
    head += [f"avg {k}" for k in averages]
    row += [percent(v) for v in averages.values()]
    widths = [max(len(a), len(b)) for a, b in zip(head, row, strict=True)]
    lines = [
        "  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True)),
        "  ".join(r.rjust(w) for r, w in zip(row, widths, strict=True)),
    ]
    if metrics.classification_map is not None:
        lines.append(f"classification mAP (%): {percent(metrics.classification_map)}")
    if metrics.foreground is not None:
        lines.append(_foreground_line(metrics.foreground))
    return "\n".join(lines)


def _foreground_line(rates: dict[str, Any]) -> str:
    def percent(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.1f}%"

    return (
        f"segment-level foreground: false positive rate {percent(rates['false_positive_rate'])}, "
        f"false negative rate {percent(rates['false_negative_rate'])}"
    )


def format_markdown(metrics: DetectionMetrics, title: str | None = None) -> str:
    """A Markdown table of mAP (%) per tIoU and the range averages, with the protocol."""
    averages = metrics.range_averages() or {"all": metrics.average_map}
    head = [f"mAP@{t:g}" for t in metrics.tiou] + [f"avg {k}" for k in averages]
    row = [percent(m) for m in metrics.map] + [percent(v) for v in averages.values()]
    lines = [f"### {title}", ""] if title else []
    lines += [
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---:" for _ in head) + "|",
        "| " + " | ".join(row) + " |",
        "",
    ]
    protocol = metrics.protocol
    lines.append(
        f"Protocol: {protocol.get('matching', '')}; units {protocol.get('units')}; "
        f"ambiguous filtering {'on' if protocol.get('ambiguous_filter') else 'off'}; "
        f"{metrics.counts['predictions']} predictions, "
        f"{metrics.counts['ground_truth_instances']} instances in "
        f"{metrics.counts['ground_truth_videos']} videos."
    )
    if metrics.classification_map is not None:
        lines.append(f"Video classification mAP: {percent(metrics.classification_map)}%.")
    if metrics.foreground is not None:
        lines.append(_foreground_line(metrics.foreground).capitalize() + ".")
    return "\n".join(lines) + "\n"


def evaluate_files(
    ground_truth: str | os.PathLike[str],
    predictions: str | os.PathLike[str],
    subset: str,
    tiou_thresholds: np.ndarray,
    *,
    units: Units = "seconds",
    filter_ambiguous_intervals: bool = False,
    ambiguous_file: str | os.PathLike[str] | None = None,
) -> DetectionMetrics:
    """Evaluate an ActivityNet predictions file against a ground-truth file.

    Running out of memory is a :class:`WtalError` naming the file at work and its size."""
    with out_of_memory(ground_truth, "reading it"):
        gt = ground_truth_from_dict(read_json(ground_truth), subset, ground_truth)
    if ambiguous_file is not None:
        gt = dataclasses.replace(gt, ambiguous=load_ambiguous_file(ambiguous_file))
        filter_ambiguous_intervals = True
    with out_of_memory(predictions, "reading it"):
        pred, data = read_predictions(predictions)
        scores = video_scores_from_dict(data, predictions)
        foreground = foreground_from_dict(data, predictions)
    sources = {
        "subset": subset,
        "ground_truth": os.fspath(ground_truth),
        "predictions": os.fspath(predictions),
    }
    if ambiguous_file is not None:
        sources["ambiguous_file"] = os.fspath(ambiguous_file)
    thresholds = np.asarray(tiou_thresholds).size
    with out_of_memory(
        predictions, f"matching its {len(pred):,} predictions at {thresholds} tIoU thresholds"
    ):
        return evaluate_detection(
            gt,
            pred,
            tiou_thresholds,
            units=units,
            filter_ambiguous_intervals=filter_ambiguous_intervals,
            video_scores=scores,
            foreground=foreground,
            sources=sources,
        )


@contextlib.contextmanager
def out_of_memory(path: str | os.PathLike[str], doing: str) -> Iterator[None]:
    """Turn a MemoryError into one line naming ``path``, its size and what was being done
    (numpy's own message, which says how much it asked for, is kept)."""
    try:
        yield
    except MemoryError as exc:
        said = f"; {exc}" if str(exc) else ""
        raise WtalError(
            f"{os.fspath(path)}: evaluation ran out of memory {doing} "
            f"(the file is {_file_size(path)}{said})"
        ) from None


def _file_size(path: str | os.PathLike[str]) -> str:
    try:
        size = os.stat(path).st_size
    except OSError:
        return "of unknown size"
    if size < 10**6:
        return f"{size:,} bytes"
    return f"{size / 1e9:.1f} GB" if size >= 10**9 else f"{size / 1e6:.1f} MB"
