#!/usr/bin/env python3
"""Benchmark: post-processing (docs/method.md §5) per video for 1, 10 and 30 minutes of video.

    python -m benchmarks.bench_postprocess [--repeats 7]

Input: seeded attention curves with bursts over noise and a 21-column CAS in which three
classes follow the attention (so three classes pass the 0.2 class threshold, the costly case).
Prints the median time of ``wtal.inference.postprocess.detect`` against the target of 20 ms
for a 10-minute video, and the baseline in the same run: the loop-by-loop CO2-Net
transcription (``tests/wtal/inference/reference.py``), checked to give the same detections.
"""

from __future__ import annotations

import argparse
import platform
import sys

import numpy as np

from benchmarks.timing import median_seconds
from tests.wtal.inference.reference import reference_detect
from tests.wtal.inference.test_postprocess import random_curves
from wtal.inference.postprocess import PostprocessSettings, attention_runs, detect

TARGET_MS = 20.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}"
    )
    print(f"{'video':>8} {'segments':>8} {'proposals':>9} {'detections':>10} "
          f"{'ours ms':>8} {'loops ms':>9} {'speed-up':>8}")  # fmt: skip
    verdict = True
    for minutes in (1, 10, 30):
        segments = int(minutes * 60 * 25 / 16)
        cas, attention = random_curves(segments, seed=minutes)
        found, _ = detect(cas, attention)
        reference = reference_detect(cas, attention)
        ours = sorted(zip(found.label, found.start, found.end, found.score, strict=True))
        if not np.allclose(np.array(ours, float), np.array(sorted(reference), float), atol=1e-9):
            print("MISMATCH with the loop reference", file=sys.stderr)
            return 1
        proposals = len(attention_runs(attention, PostprocessSettings().attention_thresholds))
        fast = 1000 * median_seconds(
            lambda c=cas, a=attention: detect(c, a), args.repeats, warmup=True
        )
        slow = 1000 * median_seconds(lambda c=cas, a=attention: reference_detect(c, a), 3)
        print(
            f"{minutes:>5} min {segments:>8} {proposals:>9} {len(found):>10} "
            f"{fast:>8.2f} {slow:>9.1f} {slow / fast:>7.0f}x"
        )
        if minutes == 10:
            verdict = fast < TARGET_MS
    print(f"target: < {TARGET_MS:g} ms for a 10-minute video: {'met' if verdict else 'NOT met'}")
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
