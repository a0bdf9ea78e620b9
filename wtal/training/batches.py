"""Training batches (docs/method.md §1): 3 random classes x 2 distinct videos containing each (the
"similar pairs", rows 0-5) plus 4 uniformly random videos; each video resampled to exactly
``max_seqlen`` segments (``training.sampling``: the authors' ``random_perturb``, or one index
strictly inside each equal bin; short videos repeat indices either way).

The pairs and the random videos come from two pools (:func:`draw_pools`), as in the authors'
ActivityNet1.3 code: all-zero videos can be left out of the pairs (``pairs_skip_empty``) and
videos under ``dataset.min_segments`` segments out of the random videos only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from wtal.errors import UsageError

SAMPLINGS = ("perturb", "bins")


def _bins(length: int, max_seqlen: int, rng: np.random.Generator) -> np.ndarray:
    """One index strictly inside each of ``max_seqlen`` equal bins of [0, length)."""
    edges = np.linspace(0, length, max_seqlen + 1)
    low = np.floor(edges[:-1]).astype(np.int64)
    high = np.maximum(np.floor(edges[1:]).astype(np.int64), low + 1)
    picks = low + np.floor(rng.random(max_seqlen) * (high - low)).astype(np.int64)
    return np.minimum(picks, length - 1)


def _perturb(length: int, max_seqlen: int, rng: np.random.Generator) -> np.ndarray:
    """The authors' ``random_perturb``: with s_i = i * length / max_seqlen, bin i draws
    uniformly from floor(s_i) .. floor(s_i+1) (inclusive) when the two floors differ, else
    takes floor(s_i); the last bin draws from floor(s_i) .. length - 1. All bins draw at once
    (one call, a fixed order); a video of exactly ``max_seqlen`` segments draws nothing."""
    if length == max_seqlen:
        return np.arange(length, dtype=np.int64)
    floors = np.arange(max_seqlen + 1, dtype=np.int64) * length // max_seqlen
    low, high = floors[:-1], floors[1:].copy()
    high[-1] = length - 1
    high = np.maximum(high, low)  # equal floors (and a last floor at length - 1): no choice
    return rng.integers(low, high, endpoint=True).astype(np.int64)


def resample_indices(
    length: int, max_seqlen: int, rng: np.random.Generator, sampling: str = "perturb"
) -> np.ndarray:
    """``max_seqlen`` indices, in temporal order, of a ``length``-segment video."""
    if length <= 0:
        raise ValueError("cannot resample a video without segments")
    if sampling == "perturb":
        return _perturb(length, max_seqlen, rng)
    if sampling == "bins":
        return _bins(length, max_seqlen, rng)
    raise UsageError(f"training.sampling {sampling!r}: expected one of {', '.join(SAMPLINGS)}")


@dataclass(frozen=True)
class Pools:
    """Which training videos the similar pairs and the random videos are drawn from."""

    pairable: np.ndarray  # (videos,) bool
    drawable: np.ndarray  # indices of the videos random draws pick from
    short: int  # videos left out of the random draws for having too few segments


def draw_pools(features: Sequence[np.ndarray], min_segments: int, skip_empty: bool) -> Pools:
    """The pools of videos with ``features`` (raw, as read): pairs leave out all-zero videos
    when ``skip_empty``; random draws leave out videos under ``min_segments`` segments (the
    pairs keep them: the authors build those pools before that filter)."""
    lengths = np.array([len(f) for f in features], dtype=np.int64)
    empty = np.array([skip_empty and not np.any(f) for f in features], dtype=bool)
    long_enough = lengths >= min_segments
    return Pools(~empty, np.flatnonzero(long_enough), int((~long_enough).sum()))


def sample_batch(
    labels: np.ndarray,
    rng: np.random.Generator,
    similar_classes: int = 3,
    random_videos: int = 4,
    *,
    pairable: np.ndarray | None = None,
    drawable: np.ndarray | None = None,
) -> np.ndarray:
    """Video indices of one batch; ``labels`` is (videos, classes) multi-hot.

    Classes are drawn with replacement among those with at least two ``pairable`` videos (all
    by default); the random videos uniformly from ``drawable`` (all by default)."""
    if pairable is not None:
        labels = labels * np.asarray(pairable, dtype=labels.dtype)[:, None]
    eligible = np.flatnonzero(labels.sum(axis=0) >= 2)
    if eligible.size == 0:
        raise UsageError("no class has two training videos: similar pairs are impossible")
    chosen: list[int] = []
    for c in rng.choice(eligible, size=similar_classes, replace=True):
        videos = np.flatnonzero(labels[:, c] > 0)
        chosen += rng.choice(videos, size=2, replace=False).tolist()
    pool = np.arange(labels.shape[0]) if drawable is None else np.asarray(drawable)
    if random_videos and pool.size == 0:
        raise ValueError("no training video is left for the random videos of a batch")
    chosen += pool[rng.integers(0, pool.size, size=random_videos)].tolist()
    return np.asarray(chosen, dtype=np.int64)


def gather_batch(
    features: Sequence[np.ndarray],
    indices: np.ndarray,
    max_seqlen: int,
    rng: np.random.Generator,
    sampling: str = "perturb",
) -> np.ndarray:
    """(B, max_seqlen, D) float32 batch of resampled videos."""
    rows = [
        f[resample_indices(len(f), max_seqlen, rng, sampling)]
        for f in (features[i] for i in indices)
    ]
    return np.stack(rows).astype(np.float32, copy=False)
