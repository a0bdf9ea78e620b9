"""ActivityNet detection mAP, vectorised, with the official evaluator's semantics.

Semantics (ActivityNet ``eval_detection.py``): per class, predictions are visited in
descending score order (``argsort()[::-1]`` of the class's scores in file order, so ties fall
exactly as there); each is matched to the unmatched ground-truth instance of the same video
and class with the highest tIoU, if that tIoU reaches the threshold, else it is a false
positive; predictions in videos without ground truth of their class are false positives. AP is
the VOC all-point interpolated area; mAP is the mean over the classes present in the ground
truth. Segments are scored as they are: one that starts before 0 is not clipped (clipping
changes tIoU, hence the numbers). Candidates are visited in the official order,
``argsort()[::-1]`` of the tIoUs over the instances of the prediction's video and class, taken
from the same numpy call on the same values: numpy's default sort is not stable, and how it
orders equal tIoUs (common in segment units) depends on the processor, there as here.

Classes without ground truth: the official evaluator builds its class index from the ground
truth of the subset, so such a class has no AP and never enters the mean; its
``compute_average_precision_detection`` would give 0 for it without predictions and NaN (0/0
recall) with some. Here a class of ``gt.classes`` without instances (possible only when the
caller builds the table) gets NaN AP (null in JSON) and is left out of the mean; with no
instances at all the mAP is undefined (the official code takes the mean of an empty array:
NaN), never 0. A class with instances but no predictions scores 0, as there.

Matching is sequential only within one (class, video) pair, so all pairs advance together:
step k matches the k-th best prediction of every pair at once, for every threshold at once.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from wtal.evaluation.tables import GroundTruth, Predictions


@dataclass(frozen=True)
class MatchResult:
    """Per-threshold true-positive flags of the predictions, grouped by class.

    ``order`` lists prediction rows class by class, each class in evaluation (descending
    score) order; ``class_bounds[c]:class_bounds[c + 1]`` is class ``c``'s slice of it and of
    ``true_positive`` (shape: thresholds x len(order)).
    """

    order: np.ndarray
    class_bounds: np.ndarray
    true_positive: np.ndarray
    num_positives: np.ndarray


def segment_tiou(
    pred_start: np.ndarray, pred_end: np.ndarray, gt_start: np.ndarray, gt_end: np.ndarray
) -> np.ndarray:
    """Temporal IoU, broadcasting; same operation order as the official evaluator."""
    intersection = np.clip(np.minimum(pred_end, gt_end) - np.maximum(pred_start, gt_start), 0, None)
    union = (gt_end - gt_start) + (pred_end - pred_start) - intersection
    return intersection / union


def interpolated_average_precision(precision: np.ndarray, recall: np.ndarray) -> float:
    """VOC all-point interpolated AP of one precision-recall curve."""
    mprec = np.hstack([[0.0], precision, [0.0]])
    mrec = np.hstack([[0.0], recall, [1.0]])
    mprec = np.maximum.accumulate(mprec[::-1])[::-1]
    idx = np.where(mrec[1:] != mrec[:-1])[0] + 1
    return float(np.sum((mrec[idx] - mrec[idx - 1]) * mprec[idx]))


def _align(gt: GroundTruth, pred: Predictions) -> tuple[np.ndarray, np.ndarray]:
    """Ground-truth class index of each of ``pred.labels`` and ground-truth video index of
    each of ``pred.video_ids`` (-1: absent), to index with ``pred.label`` / ``pred.video``."""
    class_index = {name: i for i, name in enumerate(gt.classes)}
    video_index = {vid: i for i, vid in enumerate(gt.video_ids)}
    label_map = np.array([class_index.get(name, -1) for name in pred.labels], dtype=np.int64)
    video_map = np.array([video_index.get(vid, -1) for vid in pred.video_ids], dtype=np.int64)
    return label_map, video_map


def _mapped(mapping: np.ndarray, index: np.ndarray) -> np.ndarray:
    return mapping[index] if index.size else index.copy()


def _class_order(
    label: np.ndarray, score: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of known classes, class by class, each in the official visiting order (argsort
    of its scores in file order, reversed), and each class's bounds in that order."""
    kept = np.flatnonzero(label >= 0)
    by_class = kept[np.argsort(label[kept], kind="stable")]
    del kept
    class_bounds = np.zeros(n_classes + 1, dtype=np.int64)
    class_bounds[1:] = np.cumsum(np.bincount(label[by_class], minlength=n_classes))
    order = np.empty_like(by_class)
    for c in range(n_classes):
        rows = by_class[class_bounds[c] : class_bounds[c + 1]]
        order[class_bounds[c] : class_bounds[c + 1]] = rows[np.argsort(score[rows])[::-1]]
    return order, class_bounds


def _ground_truth_group(
    gt_keys: np.ndarray, key: np.ndarray, known_video: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the (class, video) ``key``s that have ground truth (the video must be
    known: -1 keys could alias), sorted by that group, and the index of each one's group."""
    group = np.searchsorted(gt_keys, key)
    has_gt = known_video & (group < gt_keys.size)
    has_gt[has_gt] = gt_keys[group[has_gt]] == key[has_gt]
    rows = np.flatnonzero(has_gt)
    del has_gt
    rows = rows[np.argsort(group[rows], kind="stable")]
    return rows, group[rows]


def _visit_rank(tiou: np.ndarray, n_gt: np.ndarray) -> np.ndarray:
    """Where each instance comes in the official visiting order of each row's instances,
    ``tiou.argsort()[::-1]`` over the ``n_gt`` instances of the row's video and class (0 =
    first; padding columns come last). The same numpy call on the same values: equal tIoUs
    fall as they fall there. numpy's default sort is not stable (on AVX-512 processors even
    for a dozen values), so the order of equal values depends on the processor, there as
    here."""
    rows, width = tiou.shape
    rank = np.full((rows, width), width, dtype=np.int64)
    for n in np.unique(n_gt):
        sel = np.flatnonzero(n_gt == n)
        visit = np.argsort(tiou[sel, :n], axis=1)[:, ::-1]  # as numpy sorts each row alone
        rank[sel[:, None], visit] = np.arange(n)
    return rank


def match_predictions(
    gt: GroundTruth, pred: Predictions, tiou_thresholds: np.ndarray
) -> MatchResult:
    """Greedy matching of every prediction at every threshold (official semantics).

    Columns as long as the predictions are let go as soon as they are used: with millions of
    predictions they, not the file, set the peak memory."""
    thresholds = np.asarray(tiou_thresholds, dtype=np.float64).reshape(-1)
    n_classes = len(gt.classes)
    label_map, video_map = _align(gt, pred)
    label = _mapped(label_map, pred.label)
    unknown = label < 0
    if unknown.any():
        names = sorted({pred.labels[i] for i in np.unique(pred.label[unknown])})
        warnings.warn(
            f"ignored {int(unknown.sum())} predictions of {len(names)} classes absent from "
            f"the ground truth: {', '.join(names)}",
            stacklevel=2,
        )
    del unknown
    order, class_bounds = _class_order(label, pred.score, n_classes)
    num_positives = np.bincount(gt.label, minlength=n_classes)

    # Ground truth grouped by (class, video), file order kept inside a group.
    n_videos = max(len(gt.video_ids), 1)
    gt_key = gt.label * n_videos + gt.video
    gt_sort = np.argsort(gt_key, kind="stable")
    gt_keys, gt_first, gt_count = np.unique(gt_key[gt_sort], return_index=True, return_counts=True)

    # Each prediction's ground-truth group; predictions without one stay false positives.
    video = _mapped(video_map, pred.video[order])
    key = label[order] * n_videos + video
    del label
    known_video = video >= 0
    del video
    rows, row_group = _ground_truth_group(gt_keys, key, known_video)
    del key, known_video
    true_positive = np.zeros((thresholds.size, order.size), dtype=bool)
    if rows.size == 0:
        return MatchResult(order, class_bounds, true_positive, num_positives)
    groups, first, count = np.unique(row_group, return_index=True, return_counts=True)
    del row_group
    by_size = np.argsort(-count, kind="stable")
    groups, first, count = groups[by_size], first[by_size], count[by_size]

    # Ground truth of the groups that have predictions, padded (groups x most instances).
    n_gt = gt_count[groups]
    width = int(n_gt.max())
    column = np.arange(width)
    valid = column[None, :] < n_gt[:, None]
    member = gt_sort[gt_first[groups][:, None] + np.minimum(column[None, :], n_gt[:, None] - 1)]
    g_start, g_end = gt.start[member], gt.end[member]
    locked = np.zeros((thresholds.size, groups.size, width), dtype=bool)
    active_at = np.searchsorted(-count, -np.arange(1, int(count[0]) + 1), side="right")
    width_at = np.maximum.accumulate(n_gt)  # instances to look at when the first k groups run
    thr = thresholds[:, None, None]
    for k, active in enumerate(active_at):
        w = int(width_at[active - 1])
        at = rows[first[:active] + k]
        source = order[at]
        tiou = segment_tiou(
            pred.start[source, None],
            pred.end[source, None],
            g_start[:active, :w],
            g_end[:active, :w],
        )
        eligible = (tiou >= thr) & valid[:active, :w] & ~locked[:, :active, :w]
        t_idx, a_idx = np.nonzero(eligible.any(axis=2))
        if t_idx.size == 0:
            continue
        # The first eligible instance in the official visiting order: the highest tIoU, and
        # among equal highest tIoUs the one numpy's argsort puts first.
        candidates = np.where(eligible[t_idx, a_idx], tiou[a_idx], -1.0)
        best = np.argmax(candidates, axis=1)
        tied = (candidates == candidates[np.arange(best.size), best, None]).sum(axis=1) > 1
        if tied.any():
            rows_tied = np.unique(a_idx[tied])
            rank = np.full((active, w), w, dtype=np.int64)
            rank[rows_tied] = _visit_rank(tiou[rows_tied], n_gt[:active][rows_tied])
            ranked = np.where(eligible[t_idx[tied], a_idx[tied]], rank[a_idx[tied]], w + 1)
            best[tied] = np.argmin(ranked, axis=1)
        locked[t_idx, a_idx, best] = True
        true_positive[t_idx, at[a_idx]] = True
    return MatchResult(order, class_bounds, true_positive, num_positives)


def average_precision_per_class(match: MatchResult) -> np.ndarray:
    """AP (thresholds x classes) from a matching; a class without predictions scores 0, a
    class without ground-truth instances NaN (undefined)."""
    n_thresholds = match.true_positive.shape[0]
    n_classes = match.class_bounds.size - 1
    ap = np.zeros((n_thresholds, n_classes))
    for c in range(n_classes):
        lo, hi = match.class_bounds[c], match.class_bounds[c + 1]
        if match.num_positives[c] == 0:
            ap[:, c] = np.nan
            continue
        if hi == lo:
            continue
        tp = match.true_positive[:, lo:hi].astype(np.float64)
        tp_cumsum = np.cumsum(tp, axis=1)
        fp_cumsum = np.cumsum(1.0 - tp, axis=1)
        recall = tp_cumsum / float(match.num_positives[c])
        precision = tp_cumsum / (tp_cumsum + fp_cumsum)
        for t in range(n_thresholds):
            ap[t, c] = interpolated_average_precision(precision[t], recall[t])
    return ap


def precision_recall_curves(
    match: MatchResult, threshold_index: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per class (precision, recall) arrays at one threshold, in score order."""
    curves = []
    for c in range(match.class_bounds.size - 1):
        lo, hi = match.class_bounds[c], match.class_bounds[c + 1]
        tp = match.true_positive[threshold_index, lo:hi].astype(np.float64)
        tp_cumsum = np.cumsum(tp)
        n = np.arange(1, tp.size + 1, dtype=np.float64)
        positives = max(int(match.num_positives[c]), 1)
        curves.append((tp_cumsum / n, tp_cumsum / positives))
    return curves


def detection_ap(gt: GroundTruth, pred: Predictions, tiou_thresholds: np.ndarray) -> np.ndarray:
    """AP per threshold and class (rows: thresholds, columns: ``gt.classes``)."""
    return average_precision_per_class(match_predictions(gt, pred, tiou_thresholds))
