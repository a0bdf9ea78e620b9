"""Post-processing exactly as METHOD 5 (the CO2-Net lineage the authors use).

Per video, from the CAS ``S`` (T, C + 1) and the fused attention ``att_m`` (T,):
1. ``E = S x att_m``; video score = softmax over C + 1 of the top-floor(T/10) mean of E,
   background dropped; classes with p >= 0.2 are kept (else the argmax);
2. ``att_m`` thresholded at 10 values linspace(0.1, 0.9, 10); every run of consecutive
   segments at or above a threshold is a proposal ``[s, e)`` for each kept class;
3. score = mean of E[s:e, c] minus the mean over the outer margins (25% of the length on
   each side, truncated to whole segments and clipped to the video; 0 if empty) + 0.2 p_c;
4. Gaussian soft-NMS (sigma 0.3) per class over the pooled proposals, lengths counted
   inclusively as in the original (``e - s + 1``);
5. segments -> seconds at the features' timing (``FeatureTiming.to_seconds``: x 16 / 25 for
   the published I3D features; a run ``[s, e)`` spans the cells of its features).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wtal.data.timing import I3D_25FPS, FeatureTiming

#: Seconds per segment of the published I3D features (kept for callers; a dataset's own
#: timing is ``Dataset.timing``).
SECONDS_PER_SEGMENT = I3D_25FPS.seconds_per_segment


@dataclass(frozen=True)
class PostprocessSettings:
    class_threshold: float = 0.2
    attention_thresholds: tuple[float, ...] = tuple(np.linspace(0.1, 0.9, 10).tolist())
    top_divisor: int = 10
    margin: float = 0.25
    class_weight: float = 0.2
    nms_sigma: float = 0.3
    max_per_video: int | None = None  # keep the best N after NMS (None: all)
    min_length: int = 1  # shortest proposal, in segments


@dataclass(frozen=True)
class Detections:
    """Detections of one video: class index, start/end (seconds), score."""

    label: np.ndarray
    start: np.ndarray
    end: np.ndarray
    score: np.ndarray

    def __len__(self) -> int:
        return int(self.label.size)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    z = np.exp(x - x.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)


def video_class_scores(cas: np.ndarray, attention: np.ndarray, top_divisor: int = 10) -> np.ndarray:
    """p (C,): softmax over C + 1 of the top-k mean of E = S x att, background dropped."""
    weighted = cas * attention[:, None]
    k = max(1, cas.shape[0] // top_divisor)
    top = -np.sort(-weighted, axis=0)[:k].mean(axis=0)
    return softmax(top)[:-1]


def attention_runs(attention: np.ndarray, thresholds: tuple[float, ...]) -> np.ndarray:
    """All runs ``[s, e)`` (R, 2) of consecutive segments with attention >= a threshold."""
    above = attention[None, :] >= np.asarray(thresholds)[:, None]  # (K, T)
    padded = np.pad(above, ((0, 0), (1, 1))).astype(np.int8)
    change = np.diff(padded, axis=1)  # +1 at a start, -1 after an end
    starts = np.nonzero(change == 1)
    ends = np.nonzero(change == -1)
    # np.nonzero walks row by row, so starts and ends pair up in order.
    return np.stack([starts[1], ends[1]], axis=1).astype(np.int64)


def outer_inner_scores(signal: np.ndarray, runs: np.ndarray, margin: float = 0.25) -> np.ndarray:
    """Inner mean minus outer-margin mean of ``signal`` (T,) for each run [s, e)."""
    t = signal.shape[0]
    cumulative = np.concatenate([[0.0], np.cumsum(signal, dtype=np.float64)])
    s, e = runs[:, 0], runs[:, 1]
    length = e - s
    inner = (cumulative[e] - cumulative[s]) / length
    outer_s = np.maximum(0, np.trunc(s - margin * length).astype(np.int64))
    outer_e = np.minimum(t - 1, np.trunc((e - 1) + margin * length).astype(np.int64))  # inclusive
    left = cumulative[s] - cumulative[outer_s]
    right = cumulative[np.maximum(outer_e + 1, e)] - cumulative[e]
    count = (s - outer_s) + np.maximum(outer_e + 1 - e, 0)
    outer = np.where(count > 0, (left + right) / np.maximum(count, 1), 0.0)
    return inner - outer


def soft_nms_decay(start: np.ndarray, end: np.ndarray, sigma: float = 0.3) -> np.ndarray:
    """(N, N) Gaussian decay ``exp(-IoU^2 / sigma)`` between proposals (segment units,
    inclusive lengths ``e - s + 1`` as CO2-Net counts them). It depends on the proposals only,
    so one matrix serves every class of a video."""
    inter = np.maximum(
        np.minimum(end[:, None], end[None, :]) - np.maximum(start[:, None], start[None, :]) + 1,
        0.0,
    )
    length = end - start + 1
    iou = inter / (length[:, None] + length[None, :] - inter)
    return np.exp(-(iou * iou) / sigma)


def soft_nms(
    start: np.ndarray,
    end: np.ndarray,
    score: np.ndarray,
    sigma: float = 0.3,
    decay: np.ndarray | None = None,
) -> np.ndarray:
    """Gaussian soft-NMS; returns an (N, 2) array: the visiting order and each proposal's
    final score. Each step picks the best remaining proposal (the first on ties, as the
    original's argmax over the remaining list) and multiplies every remaining score by its
    decay row; the pairwise work is one precomputed matrix (``soft_nms_decay``)."""
    n = score.size
    if decay is None:
        decay = soft_nms_decay(start, end, sigma)
    current = score.astype(np.float64).copy()
    order = np.empty(n, dtype=np.int64)
    final = np.empty(n, dtype=np.float64)
    for i in range(n):  # sequential by nature: each pick depends on all earlier decays
        top = int(current.argmax())
        order[i], final[i] = top, current[top]
        current[top] = -np.inf  # decay factors are > 0, so a visited proposal stays -inf
        current *= decay[top]
    return np.stack([order, final], axis=1)


def detect(
    cas: np.ndarray,
    attention: np.ndarray,
    settings: PostprocessSettings = PostprocessSettings(),
    timing: FeatureTiming = I3D_25FPS,
) -> tuple[Detections, np.ndarray]:
    """Detections of one video (seconds at the features' ``timing``), and its video-level
    class scores p (C,)."""
    p = video_class_scores(cas, attention, settings.top_divisor)
    kept = np.flatnonzero(p >= settings.class_threshold)
    if kept.size == 0:
        kept = np.array([int(np.argmax(p))])
    runs = attention_runs(attention, settings.attention_thresholds)
    runs = runs[(runs[:, 1] - runs[:, 0]) >= settings.min_length]
    weighted = cas * attention[:, None]
    starts_f, ends_f = runs[:, 0].astype(float), runs[:, 1].astype(float)
    # CO2-Net's soft-NMS sees [s, e] with e = last segment + 1 and counts e - s + 1.
    decay = soft_nms_decay(starts_f, ends_f, settings.nms_sigma) if runs.size else None
    labels, starts, ends, scores = [], [], [], []
    for c in kept:
        if runs.size == 0:
            break
        score = (
            outer_inner_scores(weighted[:, c], runs, settings.margin) + settings.class_weight * p[c]
        )
        result = soft_nms(starts_f, ends_f, score, settings.nms_sigma, decay)
        order = result[:, 0].astype(np.int64)
        labels.append(np.full(order.size, c))
        starts.append(runs[order, 0])
        ends.append(runs[order, 1])
        scores.append(result[:, 1])
    if not labels:
        empty = np.zeros(0)
        return Detections(empty.astype(int), empty, empty, empty), p
    label = np.concatenate(labels)
    start = timing.to_seconds(np.concatenate(starts))
    end = timing.to_seconds(np.concatenate(ends))
    score = np.concatenate(scores)
    if settings.max_per_video is not None and score.size > settings.max_per_video:
        best = np.argsort(-score, kind="stable")[: settings.max_per_video]
        label, start, end, score = label[best], start[best], end[best], score[best]
    return Detections(label, start, end, score), p
