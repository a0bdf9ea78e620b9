"""Post-processing exactly as docs/method.md §5 (the CO2-Net lineage the authors use).

Per video, from the CAS ``S`` (T, C + 1) and the fused attention ``att_m`` (T,):
1. ``E = S x att_m``; video score = softmax over C + 1 of the top-floor(T/10) mean of E,
   background dropped; classes with p >= 0.2 are kept (else the argmax);
2. ``att_m`` thresholded at 10 values linspace(0.1, 0.9, 10); every run of consecutive
   segments above a threshold is a proposal ``[s, e)`` for each kept class (as the authors'
   code: none at a threshold that segment 0 alone passes, under ``official``);
3. score = mean of E[s:e, c] minus the mean over the outer margins (25% of the length on
   each side, truncated to whole segments and clipped to the video; 0 if empty) + 0.2 p_c;
4. Gaussian soft-NMS (sigma 0.3) per class over the pooled proposals, lengths counted
   inclusively as in the original (``e - s + 1``), each pick swapped to the front of the
   remaining list as the authors' code does (under ``official``);
5. segments -> seconds at the features' timing (``FeatureTiming.to_seconds``: x 16 / 25 for
   the published I3D features; a run ``[s, e)`` spans the cells of its features).

``PostprocessSettings.proposals = "cas"`` selects BaSNet's rule instead (docs/method.md §9.1
"Inference"; :func:`detect_cas`): proposals from each kept class's own normalised CAS, hard
NMS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wtal.data.timing import I3D_25FPS, FeatureTiming
from wtal.errors import UsageError

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
    min_length: int = 1  # shortest proposal, in segments (attention rule only)
    # attention: thresholds on the attention, soft-NMS (above); cas: BaSNet's rule
    # (detect_cas), which reads the cas_* fields, margin, class_weight and max_per_video.
    proposals: str = "attention"
    cas_class_threshold: float = 0.25  # BaSNet's --class_th
    cas_thresholds: tuple[float, ...] = tuple((np.arange(0, 0.25, 0.025)).tolist())
    cas_top_divisor: int = 8  # video scores: top floor(T / 8) mean (BaSNet's k)
    cas_scale: int = 24  # linear upsampling in time before thresholding (1: none)
    nms_iou: float = 0.7  # hard NMS
    # The authors' code (preset official): a threshold passed by segment 0 alone gives no
    # proposal; soft-NMS swaps each pick to the front of the remaining list (ties then fall
    # in that order). paper: [0, 1) is a proposal; ties fall in the input order.
    drop_lone_first: bool = True
    nms_swap: bool = True


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


def attention_runs(
    attention: np.ndarray, thresholds: tuple[float, ...], drop_lone_first: bool = False
) -> np.ndarray:
    """All runs ``[s, e)`` (R, 2) of consecutive segments with attention above a threshold
    (strictly, as the authors' ``np.where(att > t)``). ``drop_lone_first``: a threshold that
    segment 0 alone passes gives no run, as the authors' code (its ``if temp_list.any():``
    is False for the index list [0])."""
    above = attention[None, :] > np.asarray(thresholds)[:, None]  # (K, T)
    if drop_lone_first:
        above[above[:, 0] & (above.sum(axis=1) == 1)] = False
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
    swap: bool = False,
) -> np.ndarray:
    """Gaussian soft-NMS; returns an (N, 2) array: the visiting order and each proposal's
    final score. Each step picks the best remaining proposal (the first on ties of the
    remaining list) and multiplies every remaining score by its decay row; the pairwise work
    is one precomputed matrix (``soft_nms_decay``). The remaining list keeps the input order,
    or with ``swap`` the authors' order: their loop swaps the pick with the list's first row
    before dropping it, so that row takes the pick's place (equal scores then fall
    otherwise)."""
    n = score.size
    if decay is None:
        decay = soft_nms_decay(start, end, sigma)
    current = score.astype(np.float64).copy()
    order = np.empty(n, dtype=np.int64)
    final = np.empty(n, dtype=np.float64)
    remaining = np.arange(n)
    for i in range(n):  # sequential by nature: each pick depends on all earlier decays
        j = int(current[remaining].argmax())
        top = int(remaining[j])
        order[i], final[i] = top, current[top]
        if swap:
            remaining[j] = remaining[0]
            remaining = remaining[1:]
        else:
            remaining = np.delete(remaining, j)
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
    if settings.proposals == "cas":
        return detect_cas(cas, settings, timing)
    if settings.proposals != "attention":
        raise UsageError(
            f"inference.proposals must be 'attention' or 'cas', not {settings.proposals!r}"
        )
    p = video_class_scores(cas, attention, settings.top_divisor)
    kept = np.flatnonzero(p >= settings.class_threshold)
    if kept.size == 0:
        kept = np.array([int(np.argmax(p))])
    runs = attention_runs(attention, settings.attention_thresholds, settings.drop_lone_first)
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
        result = soft_nms(starts_f, ends_f, score, settings.nms_sigma, decay, settings.nms_swap)
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


# BaSNet's rule (Pilhyeon/BaSNet-pytorch test.py, utils.py; docs/method.md §9.1 "Inference").


def cas_video_scores(cas: np.ndarray, top_divisor: int = 8) -> np.ndarray:
    """p (C,): softmax over C + 1 of the top-floor(T / top_divisor) mean of the CAS itself
    (BaSNet's suppression-branch score), background dropped."""
    k = max(1, cas.shape[0] // top_divisor)
    top = -np.sort(-cas, axis=0)[:k].mean(axis=0)
    return softmax(top)[:-1]


def minmax_normalise(cas: np.ndarray) -> np.ndarray:
    """Per class over time: (S - relu(min)) / (relu(max) - relu(min)), a range <= 0 read as 1
    (BaSNet's ``minmax_norm``)."""
    high = np.maximum(cas.max(axis=0), 0.0)
    low = np.maximum(cas.min(axis=0), 0.0)
    delta = high - low
    delta = np.where(delta <= 0, 1.0, delta)
    return (cas - low) / delta


def upsample_linear(signal: np.ndarray, scale: int) -> np.ndarray:
    """``signal`` (T, ...) at positions arange(T * scale) / scale by linear interpolation,
    the last ``scale - 1`` positions extrapolated along the last interval (scipy's
    ``interp1d(kind="linear", fill_value="extrapolate")``, as BaSNet's
    ``upgrade_resolution``)."""
    t = signal.shape[0]
    if scale == 1:
        return signal.copy()
    x = np.arange(t * scale) / scale
    if t == 1:
        return np.repeat(signal, scale, axis=0)
    left = np.clip(np.floor(x).astype(np.int64), 0, t - 2)
    frac = (x - left).reshape((-1,) + (1,) * (signal.ndim - 1))
    return signal[left] + frac * (signal[left + 1] - signal[left])


def hard_nms(start: np.ndarray, end: np.ndarray, score: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by greedy NMS, best first (the first on ties): a proposal is dropped when
    its IoU with a kept one is >= ``iou``. Lengths count ``end - start + 1`` as BaSNet's
    ``nms`` does, on whatever units it is given (BaSNet: seconds)."""
    order = np.argsort(-score, kind="stable")
    length = end - start + 1
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(int(i))
        inter = np.maximum(
            0.0, np.minimum(end[i], end[rest]) - np.maximum(start[i], start[rest]) + 1
        )
        overlap = inter / (length[i] + length[rest] - inter)
        order = rest[overlap < iou]
    return np.array(keep, dtype=np.int64)


def detect_cas(
    cas: np.ndarray,
    settings: PostprocessSettings = PostprocessSettings(proposals="cas"),
    timing: FeatureTiming = I3D_25FPS,
) -> tuple[Detections, np.ndarray]:
    """BaSNet's detections of one video from its suppression-branch CAS (T, C + 1).

    1. p = :func:`cas_video_scores`; classes with p >= ``cas_class_threshold`` are kept, with
       no fallback when none is (as the repository; unlike it, class 0 is not lost);
    2. the CAS is min-max normalised per class (:func:`minmax_normalise`) and upsampled
       ``cas_scale`` times in time (:func:`upsample_linear`);
    3. per kept class and threshold in ``cas_thresholds``: every run of consecutive positions
       with value >= threshold and > 0 is a proposal; its score is the outer-inner contrast
       (:func:`outer_inner_scores`, ``margin``) of the class's curve with values below the
       threshold set to 0 (as the repository), plus ``class_weight`` x p_c (the repository
       adds 0.2 x its binarised 0/1 class score, a constant 0.2);
    4. a run [s, e) of positions spans [s / scale, e / scale) segments, then seconds at
       ``timing``; per class, hard NMS (:func:`hard_nms`, ``nms_iou``) on the seconds.
    """
    p = cas_video_scores(cas, settings.cas_top_divisor)
    kept = np.flatnonzero(p >= settings.cas_class_threshold)
    scale = settings.cas_scale
    curves = upsample_linear(minmax_normalise(cas)[:, kept], scale) if kept.size else None
    labels, starts, ends, scores = [], [], [], []
    for column, c in enumerate(kept):
        curve = curves[:, column]
        positive = np.where(curve > 0, curve, -np.inf)
        c_start, c_end, c_score = [], [], []
        for threshold in settings.cas_thresholds:
            runs = attention_runs(positive, (threshold,))
            if runs.size == 0:
                continue
            signal = np.where(curve >= threshold, curve, 0.0)
            c_score.append(
                outer_inner_scores(signal, runs, settings.margin) + settings.class_weight * p[c]
            )
            c_start.append(timing.to_seconds(runs[:, 0] / scale))
            c_end.append(timing.to_seconds(runs[:, 1] / scale))
        if not c_score:
            continue
        start, end, score = map(np.concatenate, (c_start, c_end, c_score))
        keep = hard_nms(start, end, score, settings.nms_iou)
        labels.append(np.full(keep.size, c))
        starts.append(start[keep])
        ends.append(end[keep])
        scores.append(score[keep])
    if not labels:
        empty = np.zeros(0)
        return Detections(empty.astype(int), empty, empty, empty), p
    label, start, end, score = map(np.concatenate, (labels, starts, ends, scores))
    if settings.max_per_video is not None and score.size > settings.max_per_video:
        best = np.argsort(-score, kind="stable")[: settings.max_per_video]
        label, start, end, score = label[best], start[best], end[best], score[best]
    return Detections(label, start, end, score), p
