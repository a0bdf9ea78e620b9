"""Perturbed predictions around a real ground truth (fixed seed): what a localizer outputs,
with boundary noise, duplicates, wrong classes, score ties and background false alarms."""

from __future__ import annotations

from typing import Any

import numpy as np


def perturbed_predictions(
    ground_truth: dict[str, Any], subset: str, seed: int, tie_scores: bool = False
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    database = {k: v for k, v in ground_truth["database"].items() if v["subset"] == subset}
    classes = sorted({a["label"] for v in database.values() for a in v["annotations"]})

    def score() -> float:
        return round(float(rng.random()), 2) if tie_scores else float(rng.random())

    results: dict[str, list[dict[str, Any]]] = {}
    for vid, entry in database.items():
        rows = results.setdefault(vid, [])
        for ann in entry["annotations"]:
            start, end = ann["segment"]
            length = end - start
            for _ in range(int(rng.integers(0, 4))):
                s = max(0.0, start + rng.normal(0, 0.3) * length)
                e = max(s + 0.1, end + rng.normal(0, 0.3) * length)
                label = ann["label"] if rng.random() > 0.1 else classes[rng.integers(len(classes))]
                rows.append({"segment": [s, e], "label": label, "score": score()})
    videos = list(database)
    for _ in range(2000):
        vid = videos[rng.integers(len(videos))]
        s = float(rng.random() * (database[vid]["duration"] or 100.0))
        rows = results.setdefault(vid, [])
        rows.append(
            {
                "segment": [s, s + float(rng.random() * 20)],
                "label": classes[rng.integers(len(classes))],
                "score": score(),
            }
        )
    results["video_without_ground_truth"] = [
        {"segment": [1.0, 5.0], "label": classes[0], "score": 0.99}
    ]
    return {"results": results}
