#!/usr/bin/env python3
"""One-call GPU check: correctness tests and speed of every GPU-bound stage, in one JSON.

    python -m benchmarks.gpu_check --output gpu_check.json [--clip bikes.mp4]
    python -m benchmarks.gpu_check --device cpu --quick --output smoke.json   # CPU smoke test

Items, each with its own time budget and its own try/except (a failure is recorded and the
others still run); the JSON is rewritten after every item, so a killed run keeps what it had:

- ``cuda_tests``: pytest on tests/wtal/{training,inference}/test_cuda.py (pass/fail/skip);
- ``training``: s/iteration of the four-step update on synthetic tensors, at the paper's
  width (THUMOS batch 10 x 320 x 2048, config/thumos14.yaml) and at the CPU configuration
  (10 x 128 x 512, config/synthetic_cpu.yaml);
- ``reproducibility``: two identical seeded training steps on the device, bitwise equal?
- ``i3d``: I3D frames/s per stream in fp32 (TF32 off), TF32, bf16 and fp16 autocast, and the
  feature cosine of each against fp32. Random weights unless ``--i3d-weights-cache`` holds
  the converted Kinetics file: speed does not depend on the weights, the cosine a little;
- ``tvl1_epe``: extract/tvl1.py against OpenCV's TV-L1 (end-point error), on ``--clip`` or,
  without one, on a synthetic moving texture with known motion (noted);
- ``flow_throughput``: torch TV-L1 pairs/s at short side 256, standard preset, batch 1, 2,
  4, ..., 64 (stopping at out-of-memory or the budget).

Peak device memory (``torch.cuda.max_memory_allocated``, reset before each item) is
recorded per item; on the CPU the process's peak RSS (cumulative) instead. ``--quick``
shrinks every size and repeat count (a smoke test, not a measurement).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib.util
import json
import math
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.bench_i3d import cpu_model
from wtal.utils.devices import tf32
from wtal.utils.files import write_json

ROOT = Path(__file__).resolve().parents[1]

CUDA_TESTS = ("tests/wtal/training/test_cuda.py", "tests/wtal/inference/test_cuda.py")
#: With --quick, only the CUDA tests of the step and of inference outputs.
QUICK_TESTS = "cuda_equals_the_cpu or cuda_outputs"
ITEMS = ("cuda_tests", "training", "reproducibility", "i3d", "tvl1_epe", "flow_throughput")
#: Seconds per item on a GPU (a total of 425 s; --budget-scale multiplies them).
BUDGETS = {
    "cuda_tests": 150,
    "training": 70,
    "reproducibility": 15,
    "i3d": 50,
    "tvl1_epe": 60,
    "flow_throughput": 80,
}


class BudgetExceeded(Exception):
    """An item stopped because its time budget ran out (what it had is kept)."""


@dataclass
class Context:
    device: torch.device
    quick: bool
    clip: Path | None
    i3d_cache: Path | None
    deadline: float = 0.0
    notes: list[str] = field(default_factory=list)
    partial: dict[str, Any] = field(default_factory=dict)  # kept if the item stops early
    flow_options: dict[str, Any] = field(default_factory=dict)  # for tvl1_flow (compiled=...)
    child: subprocess.Popen | None = None  # a running pytest

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def need(self, seconds: float, what: str) -> None:
        """Refuse to start ``what`` (expected to take ``seconds``) past the budget."""
        if seconds > self.left():
            raise BudgetExceeded(
                f"budget: {what} (about {seconds:.1f} s) left out, {self.left():.1f} s left"
            )

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)


# ------------------------------------------------------------------ helpers


def clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become None, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def timed(ctx: Context, fn: Callable[[], Any], repeats: int) -> tuple[float, list[float], Any]:
    """Median seconds of ``repeats`` calls of ``fn`` (synchronised), the times, last result."""
    times, result = [], None
    for _ in range(repeats):
        ctx.sync()
        start = time.perf_counter()
        result = fn()
        ctx.sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def reset_peak(ctx: Context) -> None:
    if ctx.cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(ctx.device)


def peak_mb(ctx: Context) -> float:
    if ctx.cuda:
        return torch.cuda.max_memory_allocated(ctx.device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


def git(*args: str) -> str | None:
    """``git args`` in the repository (stripped output), or None without git or a repository."""
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), *args],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def machine(device: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "device": str(device),
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty_files": len((git("status", "--porcelain") or "").splitlines()),
        "tvl1_module": {
            "present": (ROOT / "extract" / "tvl1.py").is_file(),
            "last_commit": git("log", "--oneline", "-1", "--", "extract/tvl1.py"),
        },
        "tf32_defaults": {
            "matmul": torch.backends.cuda.matmul.allow_tf32,
            "cudnn": torch.backends.cudnn.allow_tf32,
        },
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info |= {
            "gpu": props.name,
            "gpu_memory_gib": round(props.total_memory / 2**30, 1),
            "compute_capability": f"{props.major}.{props.minor}",
            "cudnn": torch.backends.cudnn.version(),
        }
    return info


# ------------------------------------------------------------------ cuda_tests


def junit_counts(path: Path) -> dict[str, Any]:
    """pass / fail / error / skip counts and each test's outcome from a JUnit XML file."""
    tests = []
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
                message = (child.get("message") or child.text or "")[:400]
        tests.append(
            {
                "test": f"{case.get('classname')}::{case.get('name')}",
                "outcome": outcome,
                "seconds": float(case.get("time") or 0),
                "message": message,
            }
        )
    counts = {k: sum(t["outcome"] == k for t in tests) for k in ("passed", "failed", "error")}
    counts["skipped"] = sum(t["outcome"] == "skipped" for t in tests)
    return {"counts": counts, "tests": tests}


def stop_child(ctx: Context) -> None:
    """Kill the running pytest (its whole process group), if any."""
    child = ctx.child
    if child is not None and child.poll() is None:
        with contextlib.suppress(OSError):
            os.killpg(child.pid, signal.SIGKILL)


def item_cuda_tests(ctx: Context) -> tuple[dict[str, Any], str]:
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        report = Path(tmp) / "junit.xml"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            f"--basetemp={Path(tmp) / 'pytest'}",
            *CUDA_TESTS,
        ]
        if ctx.quick:
            command += ["-k", QUICK_TESTS]
        child = ctx.child = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group, killed as one on a stop
        )
        try:
            output, _ = child.communicate(timeout=max(ctx.left(), 1))
        except subprocess.TimeoutExpired:
            stop_child(ctx)
            output, _ = child.communicate()
            raise BudgetExceeded(
                f"budget: pytest still running after the item's budget; output tail: "
                f"{(output or '')[-2000:]}"
            ) from None
        finally:
            ctx.child = None
        result: dict[str, Any] = {"command": " ".join(command[1:]), "returncode": child.returncode}
        if report.is_file():
            result |= junit_counts(report)
        if child.returncode != 0:
            result["output_tail"] = output[-3000:]
    counts = result.get("counts", {})
    if child.returncode not in (0, 5) or not counts:  # 5: nothing collected (all deselected)
        raise RuntimeError(
            f"pytest exited {child.returncode}: {counts or 'no report'}; "
            f"{result.get('output_tail', '')[-600:]}"
        )
    if ctx.cuda and counts.get("passed", 0) == 0:
        raise RuntimeError(f"CUDA is here but no CUDA test ran: {counts}")
    summary = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
    return result, summary


# ------------------------------------------------------------------ training


@dataclass(frozen=True)
class TrainShape:
    name: str
    config: str
    dim: int
    seqlen: int


def training_shapes(quick: bool) -> list[TrainShape]:
    if quick:  # a smoke test of the code path: short sequences, the paper's width halved
        return [
            TrainShape("cpu_config", "config/synthetic_cpu.yaml", 512, 16),
            TrainShape("paper", "config/thumos14.yaml", 1024, 16),
        ]
    return [
        TrainShape("cpu_config", "config/synthetic_cpu.yaml", 512, 128),
        TrainShape("paper", "config/thumos14.yaml", 2048, 320),
    ]


def synthetic_problem(shape: TrainShape, device: torch.device, seed: int = 0):
    """Config, models on ``device``, optimisers and one batch of synthetic tensors in the
    THUMOS shape (20 classes, 3 similar pairs + 4 random videos)."""
    from wtal.config.load import load_config
    from wtal.config.sections import TrainingSettings, read_section
    from wtal.data.dataset import Dataset, VideoRecord
    from wtal.generate.synthetic_plan import THUMOS14_CLASSES
    from wtal.models.vlc import SentenceBatch
    from wtal.training.setup import build_models, sentence_table, text_assets
    from wtal.training.step import make_optimizers

    config = load_config(ROOT / shape.config)
    config["training"]["max_seqlen"] = shape.seqlen
    classes = THUMOS14_CLASSES
    videos = tuple(
        VideoRecord(
            f"v{i}",
            "validation",
            100.0,
            (classes[i],),
            np.array([[1.0, 2.0]]),
            (classes[i],),
            np.zeros((0, 2)),
            np.zeros((1, shape.dim), np.float32),
        )
        for i in range(len(classes))
    )
    data = Dataset("synthetic", classes, videos)
    torch.manual_seed(seed)
    text = text_assets(data, config)
    tsm, vlc = build_models(len(classes), shape.dim, text, config)
    tsm.to(device)
    vlc.to(device)
    optimizers = make_optimizers(tsm, vlc, read_section(config, TrainingSettings))
    training = config["training"]
    batch = 2 * training["similar_classes"] + training["random_videos"]
    rows = np.concatenate(
        [np.repeat(np.arange(training["similar_classes"]), 2), np.arange(training["random_videos"])]
    )
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, shape.seqlen, shape.dim, generator=generator) * (10 / shape.dim**0.5)
    y = torch.zeros(batch, len(classes))
    y[torch.arange(batch), torch.from_numpy(rows)] = 1
    ids, key, lengths = sentence_table(data, config["model"]["vlc"]["template"], text.vocabulary)
    sentences = SentenceBatch(
        torch.from_numpy(ids[rows]).to(device),
        torch.from_numpy(lengths[rows]).to(device),
        torch.from_numpy(key[rows]).to(device),
    )
    return config, tsm, vlc, optimizers, x.to(device), y.to(device), sentences


def time_training(ctx: Context, shape: TrainShape, repeats: int) -> dict[str, Any]:
    """Median s/iteration of ``train_step`` on one synthetic batch, after one warm-up."""
    from wtal.training.step import train_step

    reset_peak(ctx)
    config, tsm, vlc, optimizers, x, y, sentences = synthetic_problem(shape, ctx.device)
    rng = np.random.default_rng(0)
    iteration = iter(range(1, 10_000))

    def step() -> dict[str, float]:
        return train_step(tsm, vlc, optimizers, x, y, sentences, config, rng, next(iteration))

    first, _, _ = timed(ctx, step, 1)  # warm-up (allocator, cuDNN plans, lazy init)
    ctx.need(first * repeats, f"{shape.name}: {repeats} timed iterations")
    median, times, values = timed(ctx, step, repeats)
    return {
        "config": shape.config,
        "batch": list(x.shape),
        "seconds_per_iteration": median,
        "times": times,
        "first_iteration_s": first,
        "tsm_parameters": sum(p.numel() for p in tsm.parameters()),
        "loss_total_tsm": values["total_tsm"],
        "peak_memory_mb": peak_mb(ctx),
    }


def item_training(ctx: Context) -> tuple[dict[str, Any], str]:
    repeats = 1 if ctx.quick else (5 if ctx.cuda else 3)
    result: dict[str, Any] = {
        "repeats": repeats,
        "warmup_iterations": 1,
        "precision": "float32, PyTorch's TF32 defaults (what wtal train runs with)",
        "tf32": {
            "matmul": torch.backends.cuda.matmul.allow_tf32,
            "cudnn": torch.backends.cudnn.allow_tf32,
        },
        "shapes": {},
    }
    ctx.partial = result
    parts = []
    for shape in training_shapes(ctx.quick):
        row = result["shapes"][shape.name] = time_training(ctx, shape, repeats)
        parts.append(f"{shape.name} {tuple(row['batch'])}: {row['seconds_per_iteration']:.3f} s/it")
    return result, "; ".join(parts)


def item_reproducibility(ctx: Context) -> tuple[dict[str, Any], str]:
    """Two identical seeded runs of two training steps (dropout on): bitwise equal?"""
    from wtal.config.sections import TrainingSettings, read_section
    from wtal.training.step import make_optimizers, train_step

    shape = TrainShape("cpu_config", "config/synthetic_cpu.yaml", 512, 16 if ctx.quick else 128)
    config, tsm, vlc, _, x, y, sentences = synthetic_problem(shape, ctx.device)
    start = copy.deepcopy((tsm.state_dict(), vlc.state_dict()))
    runs = []
    for _ in range(2):
        tsm.load_state_dict(start[0])
        vlc.load_state_dict(start[1])
        for p in (*tsm.parameters(), *vlc.parameters()):
            p.grad = None  # the "whole" VLC clipping reads the other step's stale gradients
        optimizers = make_optimizers(tsm, vlc, read_section(config, TrainingSettings))
        torch.manual_seed(1)  # every device's generator: the dropout draws
        rng = np.random.default_rng(1)
        losses = [train_step(tsm, vlc, optimizers, x, y, sentences, config, rng, i) for i in (1, 2)]
        params = [p.detach().clone() for p in (*tsm.parameters(), *vlc.parameters())]
        runs.append((losses, params))
    (la, pa), (lb, pb) = runs
    bitwise = all(torch.equal(a, b) for a, b in zip(pa, pb, strict=True))
    max_diff = max(float((a - b).abs().max()) for a, b in zip(pa, pb, strict=True))
    loss_diff = max(abs(a[k] - b[k]) for a, b in zip(la, lb, strict=True) for k in a)
    result = {
        "shape": [x.shape[0], shape.seqlen, shape.dim],
        "steps": 2,
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "parameters_bitwise_equal": bitwise,
        "parameters_max_abs_difference": max_diff,
        "losses_max_abs_difference": loss_diff,
    }
    return result, f"bitwise {'equal' if bitwise else 'different'} (max |dp| {max_diff:.2e})"


# ------------------------------------------------------------------ I3D


def i3d_models(ctx: Context) -> tuple[dict[str, torch.nn.Module], str]:
    from extract.i3d import InceptionI3d, for_inference

    if ctx.i3d_cache is not None:
        from extract.i3d_source import KINETICS_RGB_CACHE_NAME
        from extract.segments import load_models

        if (ctx.i3d_cache / KINETICS_RGB_CACHE_NAME).is_file():
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the flow stream's cross-modality warning
                models = load_models(cache_dir=ctx.i3d_cache)
            return (
                {k: m.to(ctx.device) for k, (m, _) in models.items()},
                "Kinetics-400 RGB weights (flow: cross-modality init)",
            )
        ctx.notes.append(f"i3d: no {KINETICS_RGB_CACHE_NAME} in {ctx.i3d_cache}: random weights")
    torch.manual_seed(0)
    return (
        {
            stream: for_inference(InceptionI3d(channels).eval()).to(ctx.device)
            for stream, channels in (("rgb", 3), ("flow", 2))
        },
        "random weights (speed does not depend on them; the cosine only a little)",
    )


def item_i3d(ctx: Context) -> tuple[dict[str, Any], str]:
    models, weights = i3d_models(ctx)
    batches = [1] if ctx.quick else [4, 16]
    repeats = 1 if ctx.quick else 3
    variants = ["fp32", "tf32", "bf16", "fp16"] if ctx.cuda else ["fp32", "bf16"]
    result: dict[str, Any] = {"weights": weights, "clip": [16, 224, 224], "streams": {}}
    ctx.partial = result
    parts = []
    for stream, model in models.items():
        rows: dict[str, Any] = {}
        result["streams"][stream] = rows
        for batch in batches:
            reset_peak(ctx)
            generator = torch.Generator().manual_seed(1)
            x = torch.rand(batch, model.in_channels, 16, 224, 224, generator=generator) * 2 - 1
            x = x.to(ctx.device)
            reference = None
            for variant in variants:

                def run(variant=variant, model=model, x=x):
                    autocast = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(variant)
                    with (
                        torch.inference_mode(),
                        tf32(variant == "tf32"),
                        torch.autocast(ctx.device.type, dtype=autocast)
                        if autocast
                        else contextlib.nullcontext(),
                    ):
                        return model.features(x).float()

                first, _, _ = timed(ctx, run, 1)
                ctx.need(first * repeats, f"i3d {stream} batch {batch} {variant}")
                median, _, features = timed(ctx, run, repeats)
                row = {"frames_per_s": batch * 16 / median, "seconds": median}
                if variant == "fp32":
                    reference = features
                else:
                    cosine = torch.nn.functional.cosine_similarity(features, reference, dim=1)
                    row |= {"cosine_min": float(cosine.min()), "cosine_mean": float(cosine.mean())}
                rows[f"batch{batch}_{variant}"] = row
            rows[f"batch{batch}_peak_memory_mb"] = peak_mb(ctx)
        best = max(v["frames_per_s"] for v in rows.values() if isinstance(v, dict))
        parts.append(f"{stream} best {best:.0f} frames/s")
    return result, "; ".join(parts)


# ------------------------------------------------------------------ TV-L1


def moving_texture(frames: int, height: int, width: int, step=(1.5, -0.75)) -> np.ndarray:
    """(frames, H, W) uint8 grey: a smooth random texture translated by ``step`` (dx, dy)
    pixels per frame (sub-pixel, bilinear, reflected borders), so the true flow is ``step``
    away from the borders."""
    import cv2

    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.uniform(0, 255, (height, width)).astype(np.float32), (0, 0), 2.0)
    base = cv2.normalize(base, None, 0, 255, cv2.NORM_MINMAX)
    out = []
    for i in range(frames):
        shift = np.float32([[1, 0, step[0] * i], [0, 1, step[1] * i]])
        warped = cv2.warpAffine(base, shift, (width, height), borderMode=cv2.BORDER_REFLECT)
        out.append(np.clip(np.rint(warped), 0, 255).astype(np.uint8))
    return np.stack(out)


def grey_frames(ctx: Context, count: int, short_side: int) -> tuple[np.ndarray, str, Any]:
    """``count`` grey frames at ``short_side``: from ``--clip`` or the moving texture; with
    the true flow (dx, dy) for the texture, else None."""
    import cv2

    if ctx.clip is not None:
        from extract.video import iter_frames, probe

        info = probe(ctx.clip)
        frames: list[np.ndarray] = []
        for _, chunk in iter_frames(info, short_side, chunk=64):
            frames += [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in chunk]
            if len(frames) >= count:
                break
        if len(frames) < count:
            frames += frames[::-1] * (count // max(len(frames), 1) + 1)  # ping-pong a short clip
        return np.stack(frames[:count]), f"{ctx.clip.name} at short side {short_side}", None
    width = round(short_side * 4 / 3)
    step = (1.5, -0.75)
    return (
        moving_texture(count, short_side, width, step),
        f"synthetic moving texture {width}x{short_side} (no --clip: a real clip is the test "
        "that matters)",
        step,
    )


def tvl1_api():
    """(TVL1Params, tvl1_flow) of extract/tvl1.py, or None while the module does not exist."""
    if importlib.util.find_spec("extract.tvl1") is None:
        return None
    from extract.tvl1 import TVL1Params, tvl1_flow

    return TVL1Params, tvl1_flow


def missing_tvl1() -> tuple[dict[str, Any], str]:
    return {"status": "missing", "note": "extract/tvl1.py is not in this tree"}, "missing"


def first_flow(ctx: Context, flow: Callable[..., torch.Tensor], first, second, params):
    """The first ``tvl1_flow`` call of the process (it compiles, where compiling is the
    device's default) and its seconds; if compiling fails, eager from then on (noted)."""
    from extract.tvl1 import resolve_compiled

    compiled = resolve_compiled(ctx.device, None)
    start = time.perf_counter()
    try:
        with torch.inference_mode():
            out = flow(first, second, params)
    except Exception as exc:
        if not compiled or is_oom(exc):
            raise
        ctx.notes.append(
            f"tvl1: torch.compile failed ({type(exc).__name__}: "
            f"{(str(exc).splitlines() or [''])[0][:200]}); eager from here on"
        )
        ctx.flow_options["compiled"] = compiled = False
        start = time.perf_counter()
        with torch.inference_mode():
            out = flow(first, second, params, compiled=False)
    ctx.sync()
    return out, time.perf_counter() - start, compiled


def item_tvl1_epe(ctx: Context) -> tuple[dict[str, Any], str]:
    api = tvl1_api()
    if api is None:
        return missing_tvl1()
    import cv2

    from extract.flow import create_tvl1
    from extract.presets import FLOW_BOUND, PRESETS

    params_type, flow = api
    pairs, side = (2, 64) if ctx.quick else (8, 256)
    frames, source, truth = grey_frames(ctx, pairs + 1, side)
    params = params_type.from_opencv(PRESETS["standard"])
    first = torch.from_numpy(frames[:-1]).to(ctx.device)
    second = torch.from_numpy(frames[1:]).to(ctx.device)
    ours, torch_s, compiled = first_flow(ctx, flow, first, second, params)
    ours = ours.float().cpu().numpy()
    solver = create_tvl1("standard")
    per_pair: list[dict[str, float]] = []
    ctx.partial = {"source": source, "per_pair": per_pair}
    for i in range(pairs):
        ctx.need(2.0, f"OpenCV TV-L1 pair {i}")
        start = time.perf_counter()
        reference = solver.calc(frames[i], frames[i + 1], None)
        opencv_s = time.perf_counter() - start
        diff = np.linalg.norm(ours[i] - reference, axis=2)
        bound = FLOW_BOUND
        clipped = np.linalg.norm(
            np.clip(ours[i], -bound, bound) - np.clip(reference, -bound, bound), axis=2
        )
        row = {
            "epe_mean": float(diff.mean()),
            "epe_p99": float(np.percentile(diff, 99)),
            "fraction_over_1px": float((diff > 1).mean()),
            "epe_mean_clipped_20px": float(clipped.mean()),
            "opencv_flow_magnitude_mean": float(np.linalg.norm(reference, axis=2).mean()),
            "opencv_seconds": opencv_s,
        }
        if truth is not None:
            inner = (slice(16, -16), slice(16, -16))
            for name, field_ in (("torch", ours[i]), ("opencv", reference)):
                error = np.linalg.norm(field_[inner] - np.float32(truth), axis=2)
                row[f"{name}_epe_vs_truth"] = float(error.mean())
        per_pair.append(row)
    mean_epe = statistics.mean(r["epe_mean"] for r in per_pair)
    result = {
        "source": source,
        "frame_size": list(frames.shape[1:]),
        "preset": "standard",
        "pairs": pairs,
        "epe_mean": mean_epe,
        "epe_mean_clipped_20px": statistics.mean(r["epe_mean_clipped_20px"] for r in per_pair),
        "torch_seconds_first_call": torch_s,
        "torch_compiled": compiled,
        "opencv_threads": cv2.getNumThreads(),
        "per_pair": per_pair,
    }
    return result, f"EPE {mean_epe:.3f} px over {pairs} pairs ({source.split(' (')[0]})"


def item_flow_throughput(ctx: Context) -> tuple[dict[str, Any], str]:
    api = tvl1_api()
    if api is None:
        return missing_tvl1()
    from extract.presets import PRESETS

    params_type, flow = api
    params = params_type.from_opencv(PRESETS["standard"])
    sizes = [1, 2] if ctx.quick else [1, 2, 4, 8, 16, 32, 64]
    side = 64 if ctx.quick else 256
    repeats = 1 if ctx.quick else 3
    frames, source, _ = grey_frames(ctx, sizes[-1] + 1, side)
    result: dict[str, Any] = {"source": source, "frame_size": list(frames.shape[1:]), "batches": {}}
    ctx.partial = result
    previous = None
    for batch in sizes:
        if previous is not None:  # assume the time at most doubles with the batch
            ctx.need(2 * previous * (1 + repeats), f"batch {batch}")
        reset_peak(ctx)
        first = torch.from_numpy(frames[:batch]).to(ctx.device)
        second = torch.from_numpy(frames[1 : batch + 1]).to(ctx.device)

        def run(first=first, second=second):
            with torch.inference_mode():
                return flow(first, second, params, **ctx.flow_options)

        try:
            if result["batches"]:
                warm, _, _ = timed(ctx, run, 1)  # includes any recompilation for this shape
            else:  # the first call compiles (or falls back to eager)
                _, warm, result["torch_compiled"] = first_flow(ctx, flow, first, second, params)
            median, _, _ = timed(ctx, run, repeats)
        except RuntimeError as exc:
            if not is_oom(exc):
                raise
            result["stopped"] = f"out of memory at batch {batch}"
            break
        result["batches"][str(batch)] = {
            "pairs_per_s": batch / median,
            "seconds": median,
            "first_call_s": warm,
            "peak_memory_mb": peak_mb(ctx),
        }
        previous = median
    best = max((v["pairs_per_s"], k) for k, v in result["batches"].items())
    return result, f"best {best[0]:.1f} pairs/s at batch {best[1]} ({side} px)"


# ------------------------------------------------------------------ driver

RUNNERS: dict[str, Callable[[Context], tuple[dict[str, Any], str]]] = {
    "cuda_tests": item_cuda_tests,
    "training": item_training,
    "reproducibility": item_reproducibility,
    "i3d": item_i3d,
    "tvl1_epe": item_tvl1_epe,
    "flow_throughput": item_flow_throughput,
}


def run_item(ctx: Context, name: str, budget: float) -> dict[str, Any]:
    ctx.deadline = time.perf_counter() + budget
    ctx.notes, ctx.partial = [], {}
    start = time.perf_counter()
    record: dict[str, Any] = {"budget_s": budget}
    try:
        reset_peak(ctx)
        result, summary = RUNNERS[name](ctx)
        status = result.pop("status", "ok") if isinstance(result, dict) else "ok"
        record |= {"status": status, "summary": summary, "result": result}
    except BudgetExceeded as exc:
        record |= {"status": "budget", "summary": str(exc)[:200], "error": str(exc)}
    except Exception as exc:  # one item's failure must not stop the others
        first = (str(exc).splitlines() or [""])[0][:160]
        record |= {
            "status": "failed",
            "summary": f"{type(exc).__name__}: {first}",
            "error": traceback.format_exc()[-4000:],
        }
    if "result" not in record and ctx.partial:
        record["result"] = ctx.partial  # what the item measured before it stopped
    record["seconds"] = time.perf_counter() - start
    with contextlib.suppress(Exception):
        record["peak_memory_mb"] = peak_mb(ctx)
    if ctx.notes:
        record["notes"] = list(ctx.notes)
    return record


def print_table(report: dict[str, Any]) -> None:
    memory = "peak GPU MB" if report["machine"].get("device", "").startswith("cuda") else "RSS MB"
    print(f"\n{'item':<16} {'status':<8} {'s':>6} {memory:>11}  summary")
    for name, record in report["items"].items():
        mb = record.get("peak_memory_mb")
        print(
            f"{name:<16} {record['status']:<8} {record.get('seconds', 0):>6.1f} "
            f"{'' if mb is None else f'{mb:.0f}':>11}  {record.get('summary', '')}"
        )
    print(f"total {report.get('wall_s', 0):.1f} s; JSON: {report['output']}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output", default="gpu_check.json", help="the JSON report")
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument("--clip", type=Path, help="a real video for TV-L1 (e.g. bikes.mp4)")
    parser.add_argument(
        "--i3d-weights-cache", type=Path, help="folder with the converted Kinetics I3D weights"
    )
    parser.add_argument("--only", nargs="+", choices=ITEMS, help="run only these items")
    parser.add_argument(
        "--budget-scale", type=float, default=1.0, help="multiply every item's time budget"
    )
    parser.add_argument(
        "--hard-limit",
        type=float,
        default=470.0,
        help="seconds after which the run stops, keeping the JSON of the items done",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    output = Path(args.output).resolve()
    from wtal.utils.devices import resolve_device

    report: dict[str, Any] = {
        "script": "benchmarks/gpu_check.py",
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "output": str(output),
        "items": {},
    }
    try:
        device = resolve_device(args.device, "--device")
    except ValueError as exc:
        report |= {"machine": machine(torch.device("cpu")), "error": str(exc)}
        write_json(output, clean(report))
        print(f"gpu_check: {exc}", file=sys.stderr)
        return 1
    report["machine"] = machine(device)
    if args.clip is not None and not args.clip.is_file():
        print(f"gpu_check: --clip {args.clip}: no such file", file=sys.stderr)
        return 1
    ctx = Context(device, args.quick, args.clip, args.i3d_weights_cache)
    lock = threading.Lock()

    def save() -> None:
        with lock:
            report["wall_s"] = time.perf_counter() - started
            write_json(output, clean(report))

    def hard_stop() -> None:
        report["aborted"] = (
            f"hard limit of {args.hard_limit:.0f} s reached during {report.get('current_item')}"
        )
        stop_child(ctx)
        with contextlib.suppress(Exception):  # the main thread may be changing the report
            save()
            print_table(report)
        os._exit(3)

    timer = threading.Timer(args.hard_limit, hard_stop)
    timer.daemon = True
    timer.start()
    print(json.dumps(report["machine"]), flush=True)
    for name in ITEMS:
        if args.only and name not in args.only:
            continue
        budget = BUDGETS[name] * args.budget_scale
        print(f"-- {name} (budget {budget:.0f} s)", flush=True)
        report["current_item"] = name
        report["items"][name] = record = run_item(ctx, name, budget)
        print(f"   {record['status']}: {record.get('summary', '')}", flush=True)
        save()
    timer.cancel()
    report.pop("current_item", None)
    report["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    save()
    print_table(report)
    return 0 if all(r["status"] in ("ok", "missing") for r in report["items"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
