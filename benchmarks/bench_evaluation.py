#!/usr/bin/env python3
"""Benchmark: the evaluator on 100,000 predictions over the 212 THUMOS14 test videos.

    python -m benchmarks.bench_evaluation [--predictions 100000] [--repeats 5]
    python -m benchmarks.bench_evaluation --memory 1000000 4000000 [--before-tree DIR]

Prints medians of several runs for (a) the core (matching + AP, 7 thresholds), (b) the whole
command path (JSON parsing + validation + evaluation), against the target of 1 s, and (c) the
baseline in the same run: a per-row loop implementation of the official algorithm
(``tests/wtal/evaluation/reference.py``) and the vectorised evaluator on the same 4,000
predictions (the official evaluator's pandas row loops take about 2 s there).

``--memory ROWS...`` measures ``wtal evaluate`` itself on compact predictions files of ROWS
rows (about 70 bytes a row, rounded numbers as a localizer writes them), each run a fresh
process: peak RSS (``ru_maxrss``) and wall time, medians of ``--repeats``, and the cost per
row. ``--before-tree DIR`` (a copy of the code before, e.g. ``git archive REV wtal extract |
tar -x -C DIR``) runs DIR's ``wtal`` on the same files, in turns with today's, and checks that both
write the same metrics."""

from __future__ import annotations

import argparse
import json
import os
import platform
import site
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.timing import median_seconds
from tests.wtal.evaluation.reference import reference_ap, rows_from_tables
from wtal.evaluation import evaluate_files, parse_tiou_thresholds
from wtal.evaluation.detection import detection_ap
from wtal.evaluation.tables import ground_truth_from_dict, predictions_from_dict

ROOT = Path(__file__).resolve().parents[1]

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


def write_predictions(path: Path, gt: dict, total: int, seed: int = 0) -> None:
    """``total`` predictions like ``localizer_output``'s (70% jittered instances, the rest
    background), rounded (2 decimals for seconds, 4 for scores) and written video by video,
    so that millions of rows never exist as Python objects here."""
    rng = np.random.default_rng(seed)
    db = {k: v for k, v in gt["database"].items() if v["subset"] == "test"}
    labels = np.array(sorted({a["label"] for v in db.values() for a in v["annotations"]}))
    per_video = rng.multinomial(total, np.full(len(db), 1 / len(db)))
    with open(path, "w") as out:
        out.write('{"version": "bench", "results": {')
        for i, ((vid, video), n) in enumerate(zip(db.items(), per_video, strict=True)):
            segments = np.array([a["segment"] for a in video["annotations"]]).reshape(-1, 2)
            names = np.array([a["label"] for a in video["annotations"]] or ["none"])
            near = rng.random(n) < (0.7 if len(segments) else 0.0)
            pick = rng.integers(max(len(segments), 1), size=n)
            s, e = segments[pick].T if len(segments) else np.zeros((2, n))
            js, je = rng.normal(0, 0.3, size=(2, n)) * (e - s)
            background = rng.random(n) * video["duration"]
            start = np.where(near, np.maximum(0.0, s + js), background)
            end = np.where(near, np.maximum(start + 0.1, e + je), start + rng.uniform(0.5, 20, n))
            label = np.where(near, names[pick], labels[rng.integers(len(labels), size=n)])
            rows = [
                {"segment": [a, b], "label": c, "score": d}
                for a, b, c, d in zip(
                    np.round(start, 2).tolist(),
                    np.round(end, 2).tolist(),
                    label.tolist(),
                    np.round(rng.random(n), 4).tolist(),
                    strict=True,
                )
            ]
            out.write(f"{',' if i else ''}{json.dumps(vid)}: {json.dumps(rows)}")
        out.write("}}\n")


#: Runs a command and prints its peak RSS (bytes), its wall time and its exit status.
MEASURE = (
    "import resource, subprocess, sys, time\n"
    "start = time.perf_counter()\n"
    "status = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
    "wall = time.perf_counter() - start\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024, wall, status)\n"
)


def measure_evaluate(tree: Path, argv: list[str], workdir: Path) -> tuple[int, float]:
    """Peak RSS (bytes) and wall time of ``wtal evaluate ARGV`` run from the code in ``tree``:
    ``python -S`` with ``tree`` first on the path, so an editable install cannot shadow it."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), *site.getsitepackages()])}
    command = [sys.executable, "-S", "-m", "wtal.cli", "evaluate", *argv]
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, *command],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    )
    rss, wall, status = result.stdout.split()
    if status != "0":
        raise SystemExit(f"wtal evaluate ({tree}) failed:\n{result.stderr}")
    return int(rss), float(wall)


def memory_benchmark(sizes: list[int], repeats: int, before: Path | None) -> None:
    """Peak RSS and wall time of ``wtal evaluate`` per file size, with the cost per row."""
    gt_data, source = thumos_ground_truth()
    trees = {"after": ROOT} if before is None else {"before": before.resolve(), "after": ROOT}
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, numpy {np.__version__}; ground truth: {source}"
    )
    print("rows, file MB, code: peak RSS MB (x file), wall s (median of runs), bytes/row, us/row")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        gt_path = work / "gt.json"
        gt_path.write_text(json.dumps(gt_data))
        empty = work / "empty.json"
        empty.write_text('{"results": {}}')
        floor = {
            name: measure_evaluate(tree, ["--ground-truth", str(gt_path), "--predictions",
                                          str(empty)], work)[0]
            for name, tree in trees.items()
        }  # fmt: skip
        print("no predictions: " + ", ".join(f"{k} {v / 1e6:.0f} MB" for k, v in floor.items()))
        for rows in sizes:
            pred_path = work / "pred.json"
            write_predictions(pred_path, gt_data, rows)
            size = pred_path.stat().st_size
            runs: dict[str, list[tuple[int, float]]] = {name: [] for name in trees}
            for repeat in range(repeats):
                for name in trees if repeat % 2 == 0 else reversed(list(trees)):
                    argv = ["--ground-truth", str(gt_path), "--predictions", str(pred_path),
                            "--output", str(work / f"{name}.json")]  # fmt: skip
                    runs[name].append(measure_evaluate(trees[name], argv, work))
            for name, found in runs.items():
                rss = statistics.median(r for r, _ in found)
                wall = statistics.median(w for _, w in found)
                print(
                    f"{rows:,}, {size / 1e6:.0f} MB, {name}: {rss / 1e6:,.0f} MB "
                    f"({rss / size:.2f}x), {wall:.1f} s (runs: "
                    f"{', '.join(f'{w:.1f}' for _, w in found)}), "
                    f"{(rss - floor[name]) / rows:.0f} B/row, {1e6 * wall / rows:.1f} us/row"
                )
            if before is not None:
                same = (work / "before.json").read_bytes() == (work / "after.json").read_bytes()
                print(f"  metrics files byte-identical: {same}")
            pred_path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--predictions", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--memory", type=int, nargs="+", metavar="ROWS")
    parser.add_argument("--before-tree", type=Path, metavar="DIR")
    args = parser.parse_args()
    if args.memory:
        memory_benchmark(args.memory, args.repeats, args.before_tree)
        return

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
