"""One video's localization as a figure (Figure 3 of the paper and more): ground-truth
instances, the best detections per class, the fused attention and the class activation, on
one time axis in seconds."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from wtal.data.timing import I3D_25FPS
from wtal.evaluation.tables import GroundTruth, Predictions
from wtal.inference.postprocess import Detections, softmax
from wtal.report.plotting import class_colours, new_figure, save_png

if TYPE_CHECKING:
    from matplotlib.axes import Axes


class Instance(NamedTuple):
    """One ground-truth action instance of a video: class index into ``classes``, seconds.

    A plain ``(label, start, end)`` tuple is accepted wherever an ``Instance`` is.
    """

    label: int
    start: float
    end: float


def video_instances(gt: GroundTruth, video_id: str, classes: Sequence[str]) -> list[Instance]:
    """The ground-truth instances of ``video_id`` with labels as indices into ``classes``."""
    if video_id not in gt.video_ids:
        raise ValueError(f"video {video_id!r} is not in the ground truth")
    index = {name: i for i, name in enumerate(classes)}
    rows = np.flatnonzero(gt.video == gt.video_ids.index(video_id))
    out = []
    for r in rows:
        name = gt.classes[gt.label[r]]
        if name not in index:
            raise ValueError(f"ground-truth class {name!r} of {video_id!r} is not in classes")
        out.append(Instance(index[name], float(gt.start[r]), float(gt.end[r])))
    return out


def video_detections(pred: Predictions, video_id: str, classes: Sequence[str]) -> Detections:
    """The predictions of ``video_id`` as :class:`Detections` over ``classes`` (none: empty)."""
    index = {name: i for i, name in enumerate(classes)}
    if video_id not in pred.video_ids:
        rows = np.zeros(0, dtype=np.int64)
    else:
        rows = np.flatnonzero(pred.video == pred.video_ids.index(video_id))
    names = [pred.labels[pred.label[r]] for r in rows]
    unknown = sorted({n for n in names if n not in index})
    if unknown:
        raise ValueError(f"predicted classes not in classes: {', '.join(unknown)}")
    return Detections(
        label=np.array([index[n] for n in names], dtype=np.int64),
        start=pred.start[rows].astype(np.float64),
        end=pred.end[rows].astype(np.float64),
        score=pred.score[rows].astype(np.float64),
    )


def top_detections_per_class(detections: Detections, top: int | None) -> Detections:
    """The ``top`` best-scoring detections of each class (all when None).

    Rows come class by class (ascending index), best first within a class; equal scores
    keep their input order.
    """
    if top is not None and top < 1:
        raise ValueError(f"top must be >= 1 or None, got {top}")
    label = np.asarray(detections.label, dtype=np.int64)
    score = np.asarray(detections.score, dtype=np.float64)
    order = np.lexsort((-score, label))  # by class, then descending score (stable)
    keep = []
    for c in np.unique(label):
        rows = order[label[order] == c]
        keep.append(rows if top is None else rows[:top])
    rows = np.concatenate(keep) if keep else np.zeros(0, dtype=np.int64)
    return Detections(
        label=label[rows],
        start=np.asarray(detections.start, dtype=np.float64)[rows],
        end=np.asarray(detections.end, dtype=np.float64)[rows],
        score=score[rows],
    )


def _check_intervals(
    what: str, label: np.ndarray, start: np.ndarray, end: np.ndarray, n: int
) -> None:
    if not (label.shape == start.shape == end.shape) or label.ndim != 1:
        raise ValueError(f"{what}: label, start and end must be 1-D arrays of one length")
    if label.size and (label.min() < 0 or label.max() >= n):
        raise ValueError(f"{what}: class index out of range [0, {n})")
    if not (np.isfinite(start).all() and np.isfinite(end).all()):
        raise ValueError(f"{what}: start and end must be finite")
    if (end < start).any():
        raise ValueError(f"{what}: an interval ends before it starts")


def _timeline_inputs(
    classes: Sequence[str],
    ground_truth: Sequence[Instance | tuple[int, float, float]],
    detections: Detections,
    attention: ArrayLike,
    cas: ArrayLike,
    duration: float | None,
    seconds_per_segment: float,
) -> tuple[list[Instance], Detections, np.ndarray, np.ndarray]:
    n_classes = len(classes)
    if n_classes == 0:
        raise ValueError("classes is empty")
    att = np.asarray(attention, dtype=np.float64)
    if att.ndim != 1:
        raise ValueError(f"attention must be 1-D (T,), got shape {att.shape}")
    if att.size == 0:
        raise ValueError("attention is empty (T = 0): a video without segments has no timeline")
    scores = np.asarray(cas, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[0] != att.size:
        raise ValueError(f"cas must be (T={att.size}, C or C + 1), got shape {scores.shape}")
    if scores.shape[1] not in (n_classes, n_classes + 1):
        raise ValueError(
            f"cas has {scores.shape[1]} columns; expected {n_classes} classes "
            f"(+ 1 background column)"
        )
    if not (np.isfinite(att).all() and np.isfinite(scores).all()):
        raise ValueError("attention and cas must be finite")
    if not (seconds_per_segment > 0 and math.isfinite(seconds_per_segment)):
        raise ValueError(f"seconds_per_segment must be > 0, got {seconds_per_segment}")
    if duration is not None and not (math.isfinite(duration) and duration >= 0):
        raise ValueError(f"duration must be >= 0 or None, got {duration}")
    gt = [Instance(int(g[0]), float(g[1]), float(g[2])) for g in ground_truth]
    _check_intervals(
        "ground_truth",
        np.array([g.label for g in gt], dtype=np.int64),
        np.array([g.start for g in gt], dtype=np.float64),
        np.array([g.end for g in gt], dtype=np.float64),
        n_classes,
    )
    det = Detections(
        label=np.asarray(detections.label, dtype=np.int64).reshape(-1),
        start=np.asarray(detections.start, dtype=np.float64).reshape(-1),
        end=np.asarray(detections.end, dtype=np.float64).reshape(-1),
        score=np.asarray(detections.score, dtype=np.float64).reshape(-1),
    )
    _check_intervals("detections", det.label, det.start, det.end, n_classes)
    if det.score.shape != det.label.shape or not np.isfinite(det.score).all():
        raise ValueError("detections: one finite score per detection is needed")
    return gt, det, att, scores


def _empty_panel(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.4")
    ax.set_yticks([])


def plot_timeline(
    path: str | os.PathLike[str],
    *,
    video_id: str,
    duration: float | None,
    classes: Sequence[str],
    ground_truth: Sequence[Instance | tuple[int, float, float]],
    detections: Detections,
    attention: ArrayLike,
    cas: ArrayLike,
    seconds_per_segment: float = I3D_25FPS.seconds_per_segment,
    top_detections: int | None = 3,
    cas_softmax: bool = True,
) -> Path:
    """One video's localization on a shared time axis (seconds); returns ``path``.

    Panels, top to bottom:
    1. ground truth: one lane per class present, a bar per instance;
    2. detections: the ``top_detections`` best of each class (all when None), one lane per
       shown detection, opacity rising with the score (min-max over the shown ones), each
       bar labelled with its score;
    3. the fused attention ``att_m`` (T,), as a step per segment
       (segment t covers ``[t, t + 1) x seconds_per_segment``);
    4. the class activation of every class in panels 1-2: the softmax of the CAS over all
       its columns (background included when ``cas`` has C + 1) if ``cas_softmax``, else the
       raw CAS; if neither panel has a class, the class of highest mean activation.

    Ground-truth intervals are shaded in panels 3-4, and a dotted line marks ``duration``
    when the segments run past it. Labels index ``classes``; ``cas`` is
    (T, C) or (T, C + 1) with the background last. The axis spans ``[0, max(duration,
    T x seconds_per_segment, last interval end)]``. Raises ValueError for empty
    (T = 0) or mis-shaped attention/CAS, out-of-range labels and reversed intervals.
    """
    gt, det, att, scores = _timeline_inputs(
        classes, ground_truth, detections, attention, cas, duration, seconds_per_segment
    )
    shown = top_detections_per_class(det, top_detections)
    activation = softmax(scores, axis=1) if cas_softmax else scores
    gt_classes = sorted({g.label for g in gt})
    det_classes = sorted(set(shown.label.tolist()))
    curve_classes = sorted(set(gt_classes) | set(det_classes))
    if not curve_classes:
        curve_classes = [int(np.argmax(activation[:, : len(classes)].mean(axis=0)))]
    colours = dict(zip(curve_classes, class_colours(len(curve_classes)), strict=True))

    t = att.size
    edges = np.arange(t + 1, dtype=np.float64) * seconds_per_segment
    right = max(
        duration or 0.0,
        float(edges[-1]),
        max((g.end for g in gt), default=0.0),
        float(shown.end.max()) if len(shown) else 0.0,
    )
    gt_lanes = max(len(gt_classes), 1)
    det_lanes = max(len(shown), 1)
    ratios = [0.5 + 0.3 * gt_lanes, 0.5 + 0.3 * det_lanes, 1.6, 1.6]
    figure = new_figure(figsize=(12, 1.0 + sum(ratios)), layout="constrained")
    axes = figure.subplots(4, 1, sharex=True, gridspec_kw={"height_ratios": ratios})
    ax_gt, ax_det, ax_att, ax_cas = axes

    # 1. ground truth
    if gt:
        lane = {c: i for i, c in enumerate(reversed(gt_classes))}
        for g in gt:
            ax_gt.broken_barh(
                [(g.start, g.end - g.start)], (lane[g.label] - 0.4, 0.8), color=colours[g.label]
            )
        ax_gt.set_yticks(range(len(gt_classes)), [classes[c] for c in reversed(gt_classes)])
        ax_gt.set_ylim(-0.6, len(gt_classes) - 0.4)
    else:
        _empty_panel(ax_gt, "no ground-truth instances")
    ax_gt.set_ylabel("ground truth")

    # 2. detections
    if len(shown):
        lo, hi = float(shown.score.min()), float(shown.score.max())
        alpha = 0.3 + 0.7 * (shown.score - lo) / (hi - lo) if hi > lo else np.ones(len(shown))
        names, rank = [], {}
        n = len(shown)
        for i, (c, s, e, sc) in enumerate(
            zip(shown.label, shown.start, shown.end, shown.score, strict=True)
        ):
            y = n - 1 - i
            rank[c] = rank.get(c, 0) + 1
            names.append(f"{classes[c]} #{rank[c]}")
            ax_det.broken_barh(
                [(s, e - s)], (y - 0.4, 0.8), color=colours[int(c)], alpha=float(alpha[i])
            )
            ax_det.text(s, y, f" {sc:.2f}", va="center", ha="left", fontsize=7)
        ax_det.set_yticks(range(n), list(reversed(names)), fontsize=7)
        ax_det.set_ylim(-0.6, n - 0.4)
        kept = "all" if top_detections is None else f"top {top_detections} per class"
        ax_det.set_title(f"detections ({kept}, {len(shown)} of {len(det)})", fontsize=8)
    else:
        _empty_panel(ax_det, "no detections")
    ax_det.set_ylabel("detections")

    # 3-4. attention and class activation, ground truth shaded
    for ax in (ax_att, ax_cas):
        for g in gt:
            ax.axvspan(g.start, g.end, color=colours[g.label], alpha=0.12, lw=0)
    ax_att.stairs(att, edges, color="black", lw=1, baseline=None)
    ax_att.set_ylabel("attention")
    ax_att.set_ylim(min(0.0, float(att.min())), max(1.0, float(att.max())) * 1.05)
    for c in curve_classes:
        ax_cas.stairs(
            activation[:, c], edges, color=colours[c], lw=1.2, label=classes[c], baseline=None
        )
    ax_cas.set_ylabel("softmax(CAS)" if cas_softmax else "CAS")
    ax_cas.legend(fontsize=7, loc="upper right", ncol=min(len(curve_classes), 4))
    ax_cas.set_xlabel("time (s)")
    ax_cas.set_xlim(0.0, right)
    if duration is not None and duration < right:
        for ax in axes:
            ax.axvline(duration, color="0.3", ls=":", lw=0.8)
    length = "unknown" if duration is None else f"{duration:.1f} s"
    figure.suptitle(
        f"{video_id}: duration {length}, {t} segments of {seconds_per_segment:g} s", fontsize=10
    )
    return save_png(figure, path)
