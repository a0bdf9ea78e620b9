"""Per-class precision-recall curves at one tIoU, from the evaluator's own matching
(:mod:`wtal.evaluation.detection`)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from wtal.evaluation.detection import (
    average_precision_per_class,
    match_predictions,
    precision_recall_curves,
)
from wtal.evaluation.tables import GroundTruth, Predictions
from wtal.report.plotting import new_figure, save_png

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class PrecisionRecallCurve:
    """The points of one class's precision-recall curve, in descending score order.

    ``recall[k]`` and ``precision[k]`` hold after the k + 1 best predictions of the class;
    ``interpolated`` is the VOC envelope (running max from the right) whose area is ``ap``.
    """

    label: str
    recall: np.ndarray
    precision: np.ndarray
    ap: float
    num_ground_truth: int

    @property
    def interpolated(self) -> np.ndarray:
        if self.precision.size == 0:
            return self.precision.copy()
        return np.maximum.accumulate(self.precision[::-1])[::-1]


def precision_recall_points(
    ground_truth: GroundTruth, predictions: Predictions, tiou: float = 0.5
) -> list[PrecisionRecallCurve]:
    """Per ground-truth class (``ground_truth.classes`` order), the plotted curve points.

    Matching, curves and AP are the evaluator's (``match_predictions``,
    ``precision_recall_curves``, ``average_precision_per_class``); predictions of classes
    absent from the ground truth are ignored there, with its warning.
    """
    if not (0.0 < tiou <= 1.0):
        raise ValueError(f"tiou must be in (0, 1], got {tiou}")
    match = match_predictions(ground_truth, predictions, np.array([tiou]))
    ap = average_precision_per_class(match)[0]
    return [
        PrecisionRecallCurve(
            label=name,
            recall=recall,
            precision=precision,
            ap=float(ap[c]),
            num_ground_truth=int(match.num_positives[c]),
        )
        for c, (name, (precision, recall)) in enumerate(
            zip(ground_truth.classes, precision_recall_curves(match, 0), strict=True)
        )
    ]


def _unknown_class_predictions(ground_truth: GroundTruth, predictions: Predictions) -> int:
    known = np.array([name in set(ground_truth.classes) for name in predictions.labels])
    return int((~known[predictions.label]).sum()) if len(predictions) else 0


def _precision_recall_figure(
    curves: Sequence[PrecisionRecallCurve], tiou: float, ignored: int = 0
) -> Figure:
    n = len(curves)
    ncols = min(5, n)
    nrows = math.ceil(n / ncols)
    figure = new_figure(figsize=(2.7 * ncols, 2.4 * nrows + 0.7), layout="constrained")
    grid = figure.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    axes = grid.reshape(-1)
    for ax, curve in zip(axes, curves, strict=False):
        if curve.recall.size:
            ax.plot(curve.recall, curve.precision, "o-", ms=2.5, lw=0.8, label=f"AP {curve.ap:.3f}")
            ax.plot(
                np.concatenate([[0.0], curve.recall]),
                np.concatenate([curve.interpolated[:1], curve.interpolated]),
                drawstyle="steps-pre",
                ls="--",
                lw=0.8,
                color="0.4",
                label="interpolated",
            )
            ax.legend(fontsize=6, loc="lower left")
        else:
            ax.text(0.5, 0.5, "no predictions\nAP 0", ha="center", va="center", fontsize=8)
        ax.set_title(f"{curve.label} ({curve.num_ground_truth} GT)", fontsize=8)
    first = axes[0]
    first.set_xlim(0.0, 1.02)
    first.set_ylim(0.0, 1.05)
    first.set_xticks([0.0, 0.5, 1.0])
    first.set_yticks([0.0, 0.5, 1.0])
    for ax in axes:
        ax.tick_params(labelsize=6)
    for ax in axes[n:]:
        ax.set_axis_off()
    for ax in axes[:n]:
        if ax.get_subplotspec().is_last_row() or ax in axes[n - ncols : n]:
            ax.set_xlabel("recall", fontsize=7)
            ax.tick_params(labelbottom=True)
        if ax.get_subplotspec().is_first_col():
            ax.set_ylabel("precision", fontsize=7)
    mean = float(np.mean([c.ap for c in curves]))
    title = f"precision-recall at tIoU {tiou:g}: mAP {mean:.3f} over {n} classes"
    if ignored:
        title += f"\n({ignored} prediction(s) of classes without ground truth ignored)"
    figure.suptitle(title, fontsize=9)
    return figure


def plot_precision_recall(
    path: str | os.PathLike[str],
    ground_truth: GroundTruth,
    predictions: Predictions,
    tiou: float = 0.5,
) -> Path:
    """A grid of per-class precision-recall curves at ``tiou``; returns ``path``.

    Each panel plots :func:`precision_recall_points` (points in score order, with the AP in
    the legend) and the interpolated envelope whose area is the AP; a class without
    predictions shows AP 0. Raises ValueError when the ground truth has no classes.
    """
    if not ground_truth.classes:
        raise ValueError("the ground truth has no classes: no precision-recall curve exists")
    curves = precision_recall_points(ground_truth, predictions, tiou)
    ignored = _unknown_class_predictions(ground_truth, predictions)
    return save_png(_precision_recall_figure(curves, tiou, ignored), path)
