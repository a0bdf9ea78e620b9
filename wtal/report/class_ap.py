"""Per-class AP: read from the metrics, and drawn as sorted bars with the mean (mAP)
marked."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from wtal.evaluation.metrics import DetectionMetrics
from wtal.report.plotting import class_colours, new_figure, save_png


def class_ap(
    metrics: DetectionMetrics | Mapping[str, Any], tiou: float | None = None
) -> tuple[tuple[str, ...], np.ndarray]:
    """``(classes, ap)`` from a ``DetectionMetrics`` or its ``to_dict()`` (e.g. metrics.json).

    ``tiou`` picks one evaluated threshold; None averages each class's AP over all of them
    (the per-class share of the average mAP). Classes whose AP is undefined (no ground-truth
    instance: NaN, or null in JSON) are left out, as they are of the mAP.
    """
    if isinstance(metrics, Mapping):
        per_class = metrics["per_class_AP"]
        classes = tuple(per_class)
        thresholds = np.asarray(metrics["tiou"], dtype=np.float64)
        table = np.array([per_class[c] for c in classes], dtype=np.float64).reshape(
            len(classes), thresholds.size
        )
    else:
        classes = tuple(metrics.classes)
        thresholds = np.asarray(metrics.tiou, dtype=np.float64)
        table = np.asarray(metrics.ap, dtype=np.float64).T.reshape(len(classes), thresholds.size)
    if tiou is None:
        values = table.mean(axis=1) if thresholds.size else np.zeros(len(classes))
    else:
        at = np.flatnonzero(np.isclose(thresholds, tiou, rtol=0, atol=1e-9))
        if at.size == 0:
            known = ", ".join(f"{t:g}" for t in thresholds)
            raise ValueError(f"tIoU {tiou:g} was not evaluated (thresholds: {known})")
        values = table[:, at[0]].copy()
    defined = ~np.isnan(values)
    return tuple(c for c, keep in zip(classes, defined, strict=True) if keep), values[defined]


def plot_class_ap(
    path: str | os.PathLike[str],
    classes: Sequence[str],
    ap: ArrayLike,
    *,
    title: str | None = None,
) -> Path:
    """Per-class AP bars, best first, with the mean (mAP) as a line; returns ``path``.

    ``ap`` (C,) lies in [0, 1], one value per class (see :func:`class_ap`). Raises
    ValueError when empty, mis-sized or out of range.
    """
    values = np.asarray(ap, dtype=np.float64)
    if values.ndim != 1 or values.size != len(classes):
        raise ValueError(f"ap must be 1-D with one value per class ({len(classes)})")
    if values.size == 0:
        raise ValueError("no classes to plot")
    if not (np.isfinite(values).all() and (values >= 0).all() and (values <= 1).all()):
        raise ValueError("ap values must be finite and in [0, 1]")
    order = np.argsort(-values, kind="stable")
    n = values.size
    figure = new_figure(figsize=(max(6.0, 0.45 * n + 1.5), 4.2), layout="constrained")
    ax = figure.subplots()
    colours = class_colours(1)
    ax.bar(np.arange(n), 100 * values[order], color=colours[0], width=0.75)
    for i, v in enumerate(values[order]):
        ax.text(i, 100 * v + 1, f"{100 * v:.1f}", ha="center", va="bottom", fontsize=6)
    mean = float(values.mean())
    ax.axhline(100 * mean, color="tab:red", ls="--", lw=1, label=f"mAP {100 * mean:.2f}")
    ax.set_xticks(np.arange(n), [classes[i] for i in order], rotation=45, ha="right", fontsize=7)
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_ylim(0, 105)
    ax.set_ylabel("AP (%)")
    ax.legend(fontsize=8, loc="upper right")
    if title:
        ax.set_title(title, fontsize=9)
    return save_png(figure, path)
