"""A loop-by-loop transcription of the CO2-Net post-processing the authors use (docs/method.md §5):
grouping of consecutive segments, outer-inner scores with Python lists, and the list-based
soft-NMS that swaps the best row to the front. Slow and plain, it is the reference the
vectorised ``wtal.inference.postprocess`` is checked and benchmarked against."""

from __future__ import annotations

import numpy as np


def _group(indices: np.ndarray) -> list[list[int]]:
    groups: list[list[int]] = []
    for i in indices.tolist():
        if groups and i == groups[-1][-1] + 1:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _soft_nms(dets: list[list[float]], sigma: float) -> list[list[float]]:
    rows = np.array(dets, dtype=np.float64)  # label, score, start, end
    rows = np.concatenate([rows, (rows[:, 3] - rows[:, 2] + 1)[:, None]], axis=1)
    kept = []
    while rows.size > 0:
        best = int(np.argmax(rows[:, 1]))
        rows[[0, best], :] = rows[[best, 0], :]
        kept.append(rows[0, :-1].tolist())
        inter = np.maximum(
            np.minimum(rows[0, 3], rows[1:, 3]) - np.maximum(rows[0, 2], rows[1:, 2]) + 1, 0.0
        )
        iou = inter / (rows[0, -1] + rows[1:, -1] - inter)
        rows[1:, 1] *= np.exp(-(iou * iou) / sigma)
        rows = rows[1:, :]
    return kept


def reference_detect(
    cas: np.ndarray,
    attention: np.ndarray,
    class_threshold: float = 0.2,
    margin: float = 0.25,
    class_weight: float = 0.2,
    sigma: float = 0.3,
) -> list[tuple[int, float, float, float]]:
    """(label, start s, end s, score) rows, per class in soft-NMS order."""
    t = cas.shape[0]
    weighted = cas * attention[:, None]
    k = max(1, t // 10)
    top = np.array([np.mean(sorted(weighted[:, c], reverse=True)[:k]) for c in range(cas.shape[1])])
    p = np.exp(top - top.max())
    p = (p / p.sum())[:-1]
    kept = [c for c in range(p.size) if p[c] >= class_threshold] or [int(np.argmax(p))]
    proposals: dict[int, list[list[float]]] = {c: [] for c in kept}
    for threshold in np.linspace(0.1, 0.9, 10):
        above = np.flatnonzero(attention > threshold)
        if not above.any():  # their `if temp_list.any():` (False for [0] alone)
            continue
        for c in kept:
            for group in _group(above):
                inner = np.mean(weighted[group, c])
                length = len(group)
                outer_s = max(0, int(group[0] - margin * length))
                outer_e = min(t - 1, int(group[-1] + margin * length))
                outer = list(range(outer_s, group[0])) + list(range(group[-1] + 1, outer_e + 1))
                outer_score = np.mean(weighted[outer, c]) if outer else 0.0
                score = inner - outer_score + class_weight * p[c]
                proposals[c].append([c, score, group[0], group[-1] + 1])
    out = []
    for c in kept:
        if proposals[c]:
            for label, score, s, e in _soft_nms(proposals[c], sigma):
                out.append((int(label), s * 16 / 25, e * 16 / 25, score))
    return out
