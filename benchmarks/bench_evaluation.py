#!/usr/bin/env python3
"""Benchmark: the evaluator on 100,000 predictions over the 212 THUMOS14 test videos.

    python benchmarks/bench_evaluation.py [--predictions 100000] [--repeats 5]

Prints medians of several runs for (a) the core (matching + AP, 7 thresholds), (b) the whole
command path (JSON parsing + validation + evaluation), against the target of 1 s, and (c) the
baseline in the same run: a per-row loop implementation of the official algorithm
(``tests/wtal/evaluation/reference.py``) and the vectorised evaluator on the same 4,000
predictions (the official evaluator's pandas row loops take about 2 s there).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from timing import median_seconds  # noqa: E402

from tests.wtal.evaluation.reference import reference_ap, rows_from_tables  # noqa: E402
from wtal.evaluation import evaluate_files, parse_tiou_thresholds  # noqa: E402
from wtal.evaluation.detection import detection_ap  # noqa: E402
from wtal.evaluation.tables import ground_truth_from_dict, predictions_from_dict  # noqa: E402

THUMOS = ROOT.parent / "shared" / "data" / "thumos14"


def thumos_ground_truth() -> tuple[dict, str]:
    """The real THUMOS14 test ground truth when ../shared is there, else a synthetic one of
    the same shape (212 videos, ~3,358 instances, 20 classes, ~16 instances per video)."""
    if (THUMOS / "videoname.npy").is_file():
        from wtal.data import read_wtalc

        return read_wtalc(THUMOS, name="thumos14").to_activitynet(), "real THUMOS14 test"
    rng = np.random.default_rng(0)
    database = {}
    for v in range(212):
        duration = float(rng.uniform(30, 900))
        classes = rng.choice(20, size=rng.integers(1, 3), replace=False)
        count = int(rng.integers(1, 32))
        starts = np.sort(rng.uniform(0, duration - 10, count))
        database[f"video_test_{v:07d}"] = {
            "subset": "test",
            "duration": duration,
            "annotations": [
                {
                    "segment": [float(s), float(s + rng.uniform(1, 10))],
                    "label": f"class{rng.choice(classes)}",
                }
                for s in starts
            ],
        }
    return {"database": database}, "synthetic THUMOS14-shaped"


def localizer_output(gt: dict, total: int, seed: int = 0) -> dict:
    """``total`` predictions: jittered copies of instances (70%), the rest background."""
    rng = np.random.default_rng(seed)
    db = {k: v for k, v in gt["database"].items() if v["subset"] == "test"}
    instances = [(vid, a) for vid, v in db.items() for a in v["annotations"]]
    labels = sorted({a["label"] for _, a in instances})
    videos = list(db)
    results: dict[str, list] = {vid: [] for vid in videos}
    near = int(total * 0.7)
    picks = rng.integers(len(instances), size=near)
    jitter = rng.normal(0, 0.3, size=(near, 2))
    for (vid, ann), (js, je) in zip((instances[i] for i in picks), jitter, strict=True):
        s, e = ann["segment"]
        start = max(0.0, s + js * (e - s))
        results[vid].append(
            {
                "segment": [start, max(start + 0.1, e + je * (e - s))],
                "label": ann["label"],
                "score": float(rng.random()),
            }
        )
    for _ in range(total - near):
        vid = videos[rng.integers(len(videos))]
        s = float(rng.random() * db[vid]["duration"])
        results[vid].append(
            {
                "segment": [s, s + float(rng.uniform(0.5, 20))],
                "label": labels[rng.integers(len(labels))],
                "score": float(rng.random()),
            }
        )
    return {"results": results}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--predictions", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    gt_data, source = thumos_ground_truth()
    pred_data = localizer_output(gt_data, args.predictions)
    thresholds = parse_tiou_thresholds("0.1:0.7:0.1")
    gt = ground_truth_from_dict(gt_data, "test")
    pred = predictions_from_dict(pred_data)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, numpy {np.__version__}"
    )
    print(
        f"ground truth: {source}: {len(gt.video_ids)} videos, {len(gt)} instances; "
        f"{len(pred):,} predictions; {thresholds.size} thresholds"
    )

    core = median_seconds(lambda: detection_ap(gt, pred, thresholds), args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        gt_path, pred_path = Path(tmp, "gt.json"), Path(tmp, "pred.json")
        gt_path.write_text(json.dumps(gt_data))
        pred_path.write_text(json.dumps(pred_data))
        whole = median_seconds(
            lambda: evaluate_files(gt_path, pred_path, "test", thresholds),
            max(1, args.repeats // 2),
        )
    print(f"core (matching + AP), median of {args.repeats}: {core:.3f} s   [target < 1 s]")
    print(f"whole path (JSON read + checks + evaluation):  {whole:.3f} s")

    # Baseline in the same run: per-row loops of the official algorithm on 4,000 predictions.
    rng = np.random.default_rng(1)
    subset = np.sort(rng.choice(len(pred), size=4000, replace=False))
    small = pred.take(subset)
    gt_rows, pred_rows = rows_from_tables(gt, small)
    loops = median_seconds(lambda: reference_ap(gt_rows, pred_rows, thresholds), 3)
    fast = median_seconds(lambda: detection_ap(gt, small, thresholds), args.repeats)
    same = np.allclose(
        reference_ap(gt_rows, pred_rows, thresholds),
        detection_ap(gt, small, thresholds),
        atol=1e-12,
    )
    print(
        f"4,000 predictions: per-row loop baseline {loops:.3f} s, vectorised {fast:.4f} s "
        f"({loops / fast:.0f}x); identical AP: {same}"
    )


if __name__ == "__main__":
    main()
