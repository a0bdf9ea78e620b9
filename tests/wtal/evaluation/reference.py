"""A deliberately simple ActivityNet detection AP, written from the official algorithm's
description with plain loops, to check the vectorised evaluator against (and as the
benchmark's baseline). Inputs are plain Python structures.

gt: list of (video, label, start, end); pred: list of (video, label, start, end, score).
"""

from __future__ import annotations

import numpy as np


def tiou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (b[1] - b[0]) + (a[1] - a[0]) - inter
    return inter / union


def class_ap(gt, pred, thresholds) -> list[float]:
    """AP at each threshold for one class (gt, pred already restricted to it)."""
    if not pred:
        return [0.0] * len(thresholds)
    scores = np.array([p[4] for p in pred])
    order = [int(i) for i in np.argsort(scores)[::-1]]
    out = []
    for thr in thresholds:
        used = [False] * len(gt)
        hits = []
        for i in order:
            video, _, s, e, _ = pred[i]
            best, best_iou = None, -1.0
            for j, (gvideo, _, gs, ge) in enumerate(gt):
                if gvideo != video or used[j]:
                    continue
                overlap = tiou((s, e), (gs, ge))
                if overlap >= thr and overlap >= best_iou:
                    best, best_iou = j, overlap
            if best is not None:
                used[best] = True
            hits.append(best is not None)
        tp = fp = 0
        precision, recall = [], []
        for hit in hits:
            tp += hit
            fp += not hit
            precision.append(tp / (tp + fp))
            recall.append(tp / len(gt))
        # VOC all-point interpolation: area under the right-maximum of precision.
        ap, previous_recall = 0.0, 0.0
        for k in range(len(hits)):
            if recall[k] != previous_recall:
                ap += (recall[k] - previous_recall) * max(precision[k:])
                previous_recall = recall[k]
        out.append(ap)
    return out


def reference_ap(gt, pred, thresholds) -> np.ndarray:
    """AP (thresholds x classes), classes in order of first appearance in ``gt``."""
    classes = list(dict.fromkeys(g[1] for g in gt))
    ap = np.zeros((len(thresholds), len(classes)))
    for c, label in enumerate(classes):
        class_gt = [g for g in gt if g[1] == label]
        class_pred = [p for p in pred if p[1] == label]
        ap[:, c] = class_ap(class_gt, class_pred, thresholds)
    return ap


def rows_from_tables(gt, pred) -> tuple[list[tuple], list[tuple]]:
    """The evaluator's columnar tables as the plain rows this reference takes."""
    gt_rows = [
        (gt.video_ids[v], gt.classes[c], s, e)
        for v, c, s, e in zip(gt.video, gt.label, gt.start, gt.end, strict=True)
    ]
    pred_rows = [
        (pred.video_ids[v], pred.labels[c], s, e, sc)
        for v, c, s, e, sc in zip(
            pred.video, pred.label, pred.start, pred.end, pred.score, strict=True
        )
    ]
    return gt_rows, pred_rows


def tables_from_rows(gt_rows, pred_rows, subset="test"):
    """The evaluator's tables from plain rows: GT (video, label, start, end); predictions
    (video, label, start, end, score)."""
    from wtal.evaluation.tables import ground_truth_from_dict, predictions_from_dict

    database: dict = {}
    for video, label, s, e in gt_rows:
        database.setdefault(video, {"subset": subset, "annotations": []})
        database[video]["annotations"].append({"segment": [s, e], "label": label})
    results: dict = {}
    for video, label, s, e, score in pred_rows:
        results.setdefault(video, []).append({"segment": [s, e], "label": label, "score": score})
    return ground_truth_from_dict({"database": database}, subset), predictions_from_dict(
        {"results": results}
    )


def whole_file_predictions(data, path="<predictions>"):
    """The prediction reader as it was before the streaming one (kept as the oracle it must
    equal): every row of the parsed file flattened into one list, checked and converted at
    once, the first bad entry named by the slow pass. Only change: OverflowError (a JSON
    integer too large for a float) takes the slow pass too."""
    from wtal.errors import InputFileError
    from wtal.evaluation.tables import Predictions, _locate_bad_prediction

    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise InputFileError(path, "missing the top-level 'results' object")
    results = data["results"]
    video_ids = tuple(results)
    label_index: dict = {}
    try:
        counts = [len(rows) for rows in results.values()]
        flat = [row for rows in results.values() for row in rows]
        segments = np.array([row["segment"] for row in flat], dtype=np.float64)
        if segments.size == 0:
            segments = segments.reshape(0, 2)
        if segments.ndim != 2 or segments.shape[1] != 2:
            raise ValueError("segment")
        scores = np.array([row["score"] for row in flat], dtype=np.float64)
        labels = np.array(
            [label_index.setdefault(row["label"], len(label_index)) for row in flat],
            dtype=np.int64,
        )
        if any(not isinstance(name, str) for name in label_index):
            raise TypeError("label")
        if any(isinstance(row["score"], bool | str) for row in flat):
            raise TypeError("score")
    except (KeyError, TypeError, ValueError, IndexError, OverflowError):
        _locate_bad_prediction(path, results)
        raise InputFileError(path, "malformed 'results'") from None
    bad = ~(np.isfinite(segments).all(axis=1) & np.isfinite(scores))
    bad |= segments[:, 1] < segments[:, 0]
    if bad.any():
        _locate_bad_prediction(path, results)
    video = np.repeat(np.arange(len(video_ids), dtype=np.int64), counts)
    return Predictions(
        video_ids=video_ids,
        labels=tuple(label_index),
        video=video,
        label=labels,
        start=segments[:, 0].copy(),
        end=segments[:, 1].copy(),
        score=scores,
    )
