#!/usr/bin/env python3
"""Benchmark: the workflow's DAG for an ActivityNet-sized plan (20,000 videos by default).

    python -m benchmarks.bench_workflow [--videos 20000] [--per-job 1 50 200] [--repeats 3]
                                        [--no-keep-flow]

Input: synthetic ActivityNet annotations (80% training, 20% validation videos, one instance
each) and an empty file per video, in a temporary folder; nothing is extracted. The
extraction runs in stages, each one job per chunk of extraction.videos_per_job videos: rules
decode_chunk, flow_chunk (only with extraction.keep_flow true, the default; --no-keep-flow
for false) and features_chunk. For each videos_per_job, prints the wall time of `snakemake all
-n --quiet rules` (parse, DAG, job summary; median of --repeats where a run takes under 30 s,
else one run), the jobs of each extraction stage and their sum, all jobs of the DAG, and the
jobs a cluster receives (those not in the Snakefile's localrules). Also the time of parsing
alone (`snakemake --list-rules`: reading the annotations, importing the project). Target: the
DAG in under 60 s, the job count set by videos_per_job alone (ceil(videos / videos_per_job)
jobs per extraction stage, and no flow_chunk job without keep_flow: checked).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks.timing import median_seconds
from tests.workflow.test_extraction_jobs import PROBE

ROOT = Path(__file__).resolve().parents[1]

TARGET_S = 60.0
CHEAP_S = 30.0  # runs shorter than this are repeated (median)
CHUNK_RULES = ("decode_chunk", "flow_chunk", "features_chunk")  # one job per chunk each
STATS_LINE = re.compile(r"^(\w+)\s+(\d+)$")


def write_plan(root: Path, videos: int) -> Path:
    """Annotations of ``videos`` videos and an empty file for each; the config's path."""
    folder = root / "videos"
    folder.mkdir(parents=True)
    database = {}
    for i in range(videos):
        video = f"v_{i:06d}"
        database[video] = {
            "subset": "validation" if i % 5 == 0 else "training",
            "duration": 120.0,
            "annotations": [{"segment": [10.0, 30.0], "label": f"class {i % 200}"}],
        }
        (folder / f"{video}.mp4").touch()
    (root / "annotations.json").write_text(json.dumps({"database": database}))
    return folder


def write_config(root: Path, folder: Path, per_job: int, keep_flow: bool) -> Path:
    config = {
        "results_dir": str(root / "results"),
        "dataset": {"name": "bench", "format": "activitynet",
                    "annotations": str(root / "annotations.json"), "videos": str(folder),
                    "train_subset": "training", "test_subset": "validation"},
        "extraction": {"videos_per_job": per_job, "keep_flow": keep_flow,
                       "weights_cache": str(root / "weights")},
    }  # fmt: skip
    path = root / f"config-{per_job}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def snakemake_command() -> list[str]:
    found = shutil.which("snakemake", path=str(Path(sys.executable).parent))
    if found is None:
        sys.exit("snakemake is not installed beside this Python")
    return [found]


def run(args: list[str]) -> str:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        sys.exit(
            f"{' '.join(args[:4])} ... failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    return result.stdout


def job_counts(output: str) -> dict[str, int]:
    """The dry run's job stats table: rule -> jobs (and 'total')."""
    counts = {}
    for line in output.splitlines():
        match = STATS_LINE.match(line.strip())
        if match:
            counts[match.group(1)] = int(match.group(2))
    return counts


def local_rules(config: Path) -> set[str]:
    """The rules of the Snakefile's localrules (never submitted to a cluster)."""
    out = run([sys.executable, "-c", PROBE, str(config)])
    (line,) = [line for line in out.splitlines() if line.startswith("LOCAL ")]
    return set(json.loads(line.removeprefix("LOCAL ")))


def expected_chunk_jobs(videos: int, per_job: int, keep_flow: bool) -> dict[str, int]:
    """Jobs per extraction stage: ceil(videos / videos_per_job) each; no flow stage without
    keep_flow (the features jobs compute the flow)."""
    chunks = math.ceil(videos / per_job)
    return {rule: 0 if rule == "flow_chunk" and not keep_flow else chunks for rule in CHUNK_RULES}


def timed_dry_run(config: Path, repeats: int) -> tuple[float, dict[str, int]]:
    command = [*snakemake_command(), "all", "-n", "--quiet", "rules", "--cores", "1",
               "--configfile", str(config)]  # fmt: skip
    start = time.perf_counter()
    counts = job_counts(run(command))
    seconds = time.perf_counter() - start
    if seconds < CHEAP_S and repeats > 1:
        seconds = median_seconds(lambda: run(command), repeats)
    return seconds, counts


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--videos", type=int, default=20_000)
    parser.add_argument("--per-job", type=int, nargs="+", default=[1, 50, 200])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--no-keep-flow",
        dest="keep_flow",
        action="store_false",
        help="extraction.keep_flow false: no flow stage (default: true, three stages)",
    )
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; {args.videos} videos, "
        f"extraction.keep_flow {str(args.keep_flow).lower()}"
    )
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench_workflow_") as tmp:
        root = Path(tmp)
        folder = write_plan(root, args.videos)
        first = write_config(root, folder, args.per_job[0], args.keep_flow)
        local = local_rules(first)
        parse = median_seconds(
            lambda: run([*snakemake_command(), "--list-rules", "--configfile", str(first)]),
            args.repeats,
        )
        print(f"parsing alone (snakemake --list-rules): {parse:.1f} s")
        print(f"{'videos_per_job':>14} {'dry run s':>9} {'decode':>7} {'flow':>7} "
              f"{'features':>8} {'extraction jobs':>15} {'all jobs':>8} "
              f"{'cluster jobs':>12}")  # fmt: skip
        for per_job in args.per_job:
            config = write_config(root, folder, per_job, args.keep_flow)
            seconds, counts = timed_dry_run(config, args.repeats)
            chunks = {rule: counts.get(rule, 0) for rule in CHUNK_RULES}
            cluster = sum(n for rule, n in counts.items() if rule not in local | {"total"})
            expected = expected_chunk_jobs(args.videos, per_job, args.keep_flow)
            wrong = [f"{rule} {expected[rule]}" for rule in CHUNK_RULES
                     if chunks[rule] != expected[rule]]  # fmt: skip
            flag = f"  EXPECTED {', '.join(wrong)} jobs" if wrong else ""
            flag += "" if seconds < TARGET_S else f"  over the {TARGET_S:.0f} s target"
            ok = ok and not wrong
            widths = zip(CHUNK_RULES, (7, 7, 8), strict=True)
            stages = " ".join(f"{chunks[rule]:>{width}}" for rule, width in widths)
            print(f"{per_job:>14} {seconds:>9.1f} {stages} {sum(chunks.values()):>15} "
                  f"{counts['total']:>8} {cluster:>12}{flag}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
