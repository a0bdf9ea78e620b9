"""Training batches (docs/method.md §1): 3 random classes x 2 distinct videos containing each (the
"similar pairs", rows 0-5) plus 4 uniformly random videos; each video resampled to exactly
``max_seqlen`` segments (one random index per equal bin; short videos repeat indices)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def resample_indices(length: int, max_seqlen: int, rng: np.random.Generator) -> np.ndarray:
    """``max_seqlen`` sorted segment indices of a ``length``-segment video."""
    if length <= 0:
        raise ValueError("cannot resample a video without segments")
    edges = np.linspace(0, length, max_seqlen + 1)
    low = np.floor(edges[:-1]).astype(np.int64)
    high = np.maximum(np.floor(edges[1:]).astype(np.int64), low + 1)
    picks = low + np.floor(rng.random(max_seqlen) * (high - low)).astype(np.int64)
    return np.minimum(picks, length - 1)


def sample_batch(
    labels: np.ndarray,
    rng: np.random.Generator,
    similar_classes: int = 3,
    random_videos: int = 4,
) -> np.ndarray:
    """Video indices of one batch; ``labels`` is (videos, classes) multi-hot.

    Classes are drawn with replacement among those with at least two videos."""
    eligible = np.flatnonzero(labels.sum(axis=0) >= 2)
    if eligible.size == 0:
        raise ValueError("no class has two training videos: similar pairs are impossible")
    chosen: list[int] = []
    for c in rng.choice(eligible, size=similar_classes, replace=True):
        videos = np.flatnonzero(labels[:, c] > 0)
        chosen += rng.choice(videos, size=2, replace=False).tolist()
    chosen += rng.integers(0, labels.shape[0], size=random_videos).tolist()
    return np.asarray(chosen, dtype=np.int64)


def gather_batch(
    features: Sequence[np.ndarray], indices: np.ndarray, max_seqlen: int, rng: np.random.Generator
) -> np.ndarray:
    """(B, max_seqlen, D) float32 batch of resampled videos."""
    rows = [f[resample_indices(len(f), max_seqlen, rng)] for f in (features[i] for i in indices)]
    return np.stack(rows).astype(np.float32, copy=False)
