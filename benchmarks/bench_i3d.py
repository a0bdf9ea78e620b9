#!/usr/bin/env python3
"""Benchmark: I3D feature throughput (frames/s) per stream on the CPU.

    python -m benchmarks.bench_i3d [--batch-sizes 1 2 4 8] [--repeats 3] [--threads 2]

For each stream (RGB: 3 channels, flow: 2 channels) and batch size (clips of 16x224x224), runs
``InceptionI3d.features`` once to warm up, then ``--repeats`` times, and prints the median
frames/s (frames = batch x 16) and ms per frame. Weights are random: speed does not depend on
them. Prints the machine description first.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from extract.i3d import InceptionI3d
from extract.presets import CROP, SEGMENT_FRAMES


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> str:
    return (
        f"{cpu_model()}, {os.cpu_count()} logical CPUs, {platform.platform()}; "
        f"Python {platform.python_version()}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads, mkldnn={torch.backends.mkldnn.is_available()})"
    )


def throughput(
    model: InceptionI3d, batch: int, frames: int, size: int, repeats: int
) -> tuple[float, list[float]]:
    """Median seconds of ``model.features`` on (batch, C, frames, size, size), and all runs."""
    x = torch.rand(batch, model.in_channels, frames, size, size) * 2 - 1
    times = []
    with torch.inference_mode():
        model.features(x)  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            model.features(x)
            times.append(time.perf_counter() - start)
    return statistics.median(times), times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frames", type=int, default=SEGMENT_FRAMES)
    parser.add_argument("--size", type=int, default=CROP)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(machine())
    print(f"clips of {args.frames}x{args.size}x{args.size}, median of {args.repeats} runs\n")
    print(
        f"{'stream':<6} {'clips':>5} {'frames':>6} {'median s':>9} {'frames/s':>9} {'ms/frame':>9}"
    )
    for stream, channels in (("rgb", 3), ("flow", 2)):
        model = InceptionI3d(in_channels=channels).eval()
        for batch in args.batch_sizes:
            median, _ = throughput(model, batch, args.frames, args.size, args.repeats)
            n = batch * args.frames
            print(
                f"{stream:<6} {batch:>5} {n:>6} {median:>9.3f} {n / median:>9.1f} "
                f"{1000 * median / n:>9.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
