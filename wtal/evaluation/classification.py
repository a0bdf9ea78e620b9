"""Video-level classification mAP (the W-TALC / CO2-Net measure).

Per class with at least one positive video: videos sorted by descending score (stable), AP =
mean over the positives of the precision at their rank (non-interpolated); mAP = mean over
those classes.
"""

from __future__ import annotations

import numpy as np


def average_precision_per_class(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """AP per class from ``scores`` and multi-hot ``labels`` (videos x classes).

    Classes without a positive video get NaN (they are left out of the mean).
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    if scores.shape != labels.shape or scores.ndim != 2:
        raise ValueError(
            f"scores {scores.shape} and labels {labels.shape} must be videos x classes"
        )
    order = np.argsort(-scores, axis=0, kind="stable")
    hits = np.take_along_axis(labels, order, axis=0).astype(np.float64)
    ranks = np.arange(1, scores.shape[0] + 1, dtype=np.float64)[:, None]
    precision = np.cumsum(hits, axis=0) / ranks
    positives = hits.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = (precision * hits).sum(axis=0) / positives
    ap[positives == 0] = np.nan
    return ap


def classification_map(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mean AP over the classes that have at least one positive video."""
    ap = average_precision_per_class(scores, labels)
    return float(np.nanmean(ap)) if np.isfinite(ap).any() else float("nan")
