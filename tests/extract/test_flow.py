"""TV-L1 flow: known motion, quantisation, padding, parallel = serial, resume after a kill."""

from __future__ import annotations

import json

import numpy as np
import pytest

from extract.flow import FlowInfo, FlowStage, create_tvl1, dequantize, quantize
from extract.presets import FLOW_BOUND
from extract.settings import ExtractionSettings
from extract.stage import Task
from extract.video import Video
from tests.extract.clips import moving_square


@pytest.fixture(scope="module")
def square(tmp_path_factory):
    path = tmp_path_factory.mktemp("sq") / "square.mp4"
    return moving_square(path, frames=20, fps=25.0, size=(160, 64), step=2)


def make_flow(clip, target, preset, chunk=32, progress=None, **options) -> FlowInfo:
    """The flow stage's make (lock, compute, write, record) at these settings, ``chunk``
    frames per written chunk; ``progress(n)`` once per chunk written."""
    stage = FlowStage(ExtractionSettings(flow_preset=preset, device="cpu", **options))
    stage.chunk = chunk
    told = None if progress is None else (lambda step, done, total: progress(done))
    return stage.make(Task(Video(clip), target, progress=told))


def test_known_motion_is_recovered(square, tmp_path):
    result = make_flow(square, tmp_path / "flow.npy", "standard", workers=1, short_side=64)
    fields = np.load(tmp_path / "flow.npy")
    assert fields.shape == (20, 64, 160, 2) and fields.dtype == np.uint8
    assert (result.frames, result.height, result.width) == (20, 64, 160)
    pixels = dequantize(fields) * FLOW_BOUND  # back to pixels
    # Inside the square (rows 22-41, moving right by 2 px per frame): flow ~ (+2, 0).
    for k in (3, 10):
        x = 10 + 2 * k
        inside = pixels[k, 26:38, x + 4 : x + 16]
        assert np.median(inside[..., 0]) == pytest.approx(2.0, abs=0.35)
        assert abs(np.median(inside[..., 1])) < 0.35
    # Static background far from the square: ~0 motion.
    assert np.abs(np.median(pixels[5, 50:, 120:], axis=(0, 1))).max() < 0.35
    # N frames give N-1 fields; the last is repeated.
    assert np.array_equal(fields[-1], fields[-2])


def test_quantisation_round_trip():
    flow = np.array([-25.0, -20.0, -3.3, 0.0, 0.07, 19.9, 40.0], dtype=np.float32)
    q = quantize(flow)
    assert q.dtype == np.uint8 and q[0] == 0 and q[1] == 0 and q[-1] == 255
    back = dequantize(q) * FLOW_BOUND
    inside = np.abs(flow) <= FLOW_BOUND
    # Half a quantisation step at most (40 / 255 / 2 px), float32 rounding aside.
    assert np.all(np.abs(back[inside] - flow[inside]) <= FLOW_BOUND / 255 + 1e-5)
    assert dequantize(np.array([0, 255], np.uint8)).tolist() == [-1.0, 1.0]


def test_two_workers_give_the_same_fields_as_one(square, tmp_path):
    make_flow(square, tmp_path / "one.npy", "fast", workers=1, short_side=32, chunk=6)
    make_flow(square, tmp_path / "two.npy", "fast", workers=2, short_side=32, chunk=8)
    assert np.array_equal(np.load(tmp_path / "one.npy"), np.load(tmp_path / "two.npy"))


class Killed(Exception):
    pass


def dies_after(chunks: int):
    """A progress callback that kills the run once ``chunks`` chunks are written."""
    calls = []

    def progress(n: int) -> None:
        calls.append(n)
        if len(calls) == chunks:
            raise Killed

    return progress


def test_a_killed_run_resumes_at_the_last_finished_chunk(square, tmp_path):
    target = tmp_path / "flow.npy"
    with pytest.raises(Killed):
        make_flow(square, target, "fast", short_side=32, chunk=6, progress=dies_after(2))
    assert not target.exists()  # nothing that looks complete
    record = json.loads((tmp_path / "flow.partial.json").read_text())
    assert record["done"] == 11  # chunk 1: 6 frames, 5 fields; chunk 2: 6 more fields
    resumed = make_flow(square, target, "fast", short_side=32, chunk=6)
    assert resumed.resumed_from == 11
    assert not (tmp_path / "flow.partial.npy").exists()
    assert not (tmp_path / "flow.partial.json").exists()
    make_flow(square, tmp_path / "whole.npy", "fast", short_side=32, chunk=6)
    assert np.array_equal(np.load(target), np.load(tmp_path / "whole.npy"))


def test_a_progress_record_for_other_settings_is_not_reused(square, tmp_path):
    target = tmp_path / "flow.npy"
    with pytest.raises(Killed):
        make_flow(
            square,
            target,
            "fast",
            short_side=32,
            chunk=6,
            progress=lambda n: (_ for _ in ()).throw(Killed),
        )
    result = make_flow(square, target, "standard", short_side=32, chunk=6)
    assert result.resumed_from == 0


def test_bad_preset():
    with pytest.raises(ValueError, match="unknown flow preset 'fastest'"):
        create_tvl1("fastest")


@pytest.mark.parametrize("preset", ["fast", "standard"])
def test_the_torch_backend_gives_opencvs_fields(square, preset, tmp_path):
    opencv = make_flow(square, tmp_path / "cv.npy", preset, workers=2, short_side=64)
    torch_ = make_flow(
        square, tmp_path / "torch.npy", preset, short_side=64, flow_backend="torch", flow_batch=8
    )
    assert (opencv.backend, torch_.backend) == ("opencv", "torch")
    a = dequantize(np.load(tmp_path / "cv.npy")) * FLOW_BOUND
    b = dequantize(np.load(tmp_path / "torch.npy")) * FLOW_BOUND
    end_point_error = np.linalg.norm(a - b, axis=-1).mean()
    # The target of the issue; measured here 0.0009 px (fast) and 0.046 px (standard).
    assert end_point_error <= 0.25, end_point_error
    sidecar = json.loads((tmp_path / "torch.identity.json").read_text())
    assert sidecar["identity"]["flow"]["backend"].startswith("torch TV-L1")


def test_torch_batches_of_any_size_give_the_same_fields(square, tmp_path):
    for batch in (1, 7):
        make_flow(
            square, tmp_path / f"{batch}.npy", "fast", short_side=32, flow_backend="torch",
            flow_batch=batch, chunk=5,
        )  # fmt: skip
    assert np.array_equal(np.load(tmp_path / "1.npy"), np.load(tmp_path / "7.npy"))


def test_a_killed_torch_run_resumes_like_an_uninterrupted_one(square, tmp_path):
    target = tmp_path / "flow.npy"
    settings = {"short_side": 32, "chunk": 6, "flow_backend": "torch", "flow_batch": 4}
    with pytest.raises(Killed):
        make_flow(square, target, "fast", progress=dies_after(2), **settings)
    assert json.loads((tmp_path / "flow.partial.json").read_text())["done"] == 11
    assert make_flow(square, target, "fast", **settings).resumed_from == 11
    make_flow(square, tmp_path / "whole.npy", "fast", **settings)
    assert np.array_equal(np.load(target), np.load(tmp_path / "whole.npy"))
    # An OpenCV progress record is not resumed by a torch run (another identity).
    with pytest.raises(Killed):
        make_flow(
            square, tmp_path / "mixed.npy", "fast", short_side=32, chunk=6, progress=dies_after(1)
        )
    assert make_flow(square, tmp_path / "mixed.npy", "fast", **settings).resumed_from == 0
