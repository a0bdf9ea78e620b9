"""``wtal extract`` and ``wtal flow`` as a user runs them: caches reused only for the same
video file and settings (byte-equal to a fresh run otherwise), two videos of one name refused,
folders without videos, ``--no-progress``, Ctrl-C, and a full disk, each in one line."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import extract.features as features_module
import extract.flow as flow_module
from extract.i3d import InceptionI3d
from tests.extract.clips import moving_square
from wtal.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:I3D FLOW NETWORK IS UNTRAINED")
TINY = ["--crop", "56", "--flow-preset", "fast", "--workers", "2", "--threads", "2"]


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    """A pytorch-i3d-style RGB state dict with fixed random weights (the flow stream gets the
    cross-modality init): no download, and features that depend on every input bit."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "rgb_random.pt"
    torch.save(InceptionI3d(3).state_dict(), path)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """Two different 40-frame clips (2 segments each) of 128 x 96 pixels at 25 fps."""
    folder = tmp_path_factory.mktemp("clips")
    moving_square(folder / "square.mp4", frames=40, fps=25.0, size=(128, 96), step=2)
    moving_square(folder / "faster.mp4", frames=40, fps=25.0, size=(128, 96), step=5)
    return folder


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wtal.cli", *args], capture_output=True, text=True, check=False
    )


def extract(weights: Path, output: Path, *videos: Path, extra: tuple[str, ...] = ()):
    result = run_cli(
        "extract", *map(str, videos), "--output", str(output), "--rgb-weights", str(weights),
        "--no-progress", *TINY, *extra,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def extract_args(weights: Path, output: Path, *videos: Path) -> list[str]:
    return ["extract", *map(str, videos), "--output", str(output), "--rgb-weights",
            str(weights), "--short-side", "64", "--no-progress", *TINY]  # fmt: skip


def assert_same_features(first: Path, second: Path) -> None:
    for name in ("rgb.npy", "flow.npy"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_another_short_side_into_the_same_folder_gives_a_fresh_runs_features(
    weights, clips, tmp_path
):
    video = clips / "square.mp4"
    extract(weights, tmp_path / "out", video, extra=("--short-side", "96"))
    again = extract(weights, tmp_path / "out", video, extra=("--short-side", "64"))
    extract(weights, tmp_path / "fresh", video, extra=("--short-side", "64"))
    assert_same_features(tmp_path / "out" / "square", tmp_path / "fresh" / "square")
    assert "already extracted" not in again.stdout
    assert f"{video}: the features in {tmp_path / 'out' / 'square'} are stale" in again.stderr
    assert "short side 96, now 64" in again.stderr
    assert "flow cache" in again.stderr  # the 96-px flow is not reused either


def test_another_video_of_the_same_name_is_extracted_again(weights, clips, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = tmp_path / "a" / "clip.mp4", tmp_path / "b" / "clip.mp4"
    shutil.copy(clips / "square.mp4", first)
    shutil.copy(clips / "faster.mp4", second)
    extract(weights, tmp_path / "out", first, extra=("--short-side", "64"))
    again = extract(weights, tmp_path / "out", second, extra=("--short-side", "64"))
    assert "already extracted" not in again.stdout
    assert "video content" in again.stderr and "stale" in again.stderr
    extract(weights, tmp_path / "fresh", second, extra=("--short-side", "64"))
    assert_same_features(tmp_path / "out" / "clip", tmp_path / "fresh" / "clip")


def test_a_copied_or_touched_video_is_still_recognised(weights, clips, tmp_path):
    video = tmp_path / "square.mp4"
    shutil.copy(clips / "square.mp4", video)
    extract(weights, tmp_path / "out", video, extra=("--short-side", "64"))
    moved = tmp_path / "elsewhere" / "square.mp4"
    moved.parent.mkdir()
    shutil.copy(video, moved)  # a new file: another path and modification time
    again = extract(weights, tmp_path / "out", moved, extra=("--short-side", "64"))
    assert "1 of 1 videos already extracted: skipped" in again.stdout
    assert "stale" not in again.stderr


@pytest.mark.parametrize("names", [("a/clip.mp4", "b/clip.mp4"), ("clip.mp4", "clip.avi")])
def test_two_videos_of_one_name_are_refused_before_any_work(names, clips, tmp_path):
    videos = []
    for name in names:
        path = tmp_path / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(clips / "square.mp4", path)
        videos.append(path)
    folder = tmp_path / "in" if names[0] == "clip.mp4" else None
    inputs = [str(folder)] if folder else [str(v) for v in videos]
    result = run_cli("extract", *inputs, "--output", str(tmp_path / "out"), *TINY)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert str(videos[0]) in result.stderr and str(videos[1]) in result.stderr
    assert "same name 'clip'" in result.stderr
    assert not (tmp_path / "out").exists()


def test_the_same_file_named_twice_is_extracted_once(weights, clips, tmp_path):
    video = clips / "square.mp4"
    result = extract(weights, tmp_path / "out", video, clips, extra=("--short-side", "64"))
    assert result.stdout.count(f"{video}: 2 segments") == 1


def test_a_folder_without_videos_says_so(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no video here")
    result = run_cli("extract", str(empty), "--output", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == f"wtal extract: error: {empty}: no video found " + (
        "(suffixes .avi, .flv, .m4v, .mkv, .mov, .mp4, .mpeg, .mpg, .webm, .wmv)"
    )


def test_a_folder_with_videos_only_in_subfolders_says_they_are_not_searched(clips, tmp_path):
    top = tmp_path / "videos"
    (top / "day1").mkdir(parents=True)
    shutil.copy(clips / "square.mp4", top / "day1" / "square.mp4")
    result = run_cli("extract", str(top), "--output", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"{top}: no video found" in result.stderr
    assert "subfolders are not searched" in result.stderr
    assert str(top / "day1" / "square.mp4") in result.stderr


def test_a_flow_file_made_with_another_preset_is_refused(weights, clips, tmp_path):
    video = clips / "square.mp4"
    flow = tmp_path / "flow" / "square.npy"
    made = run_cli("flow", str(video), "--output", str(flow), "--preset", "fast",
                   "--short-side", "64")  # fmt: skip
    assert made.returncode == 0, made.stderr
    result = run_cli(
        "extract", str(video), "--output", str(tmp_path / "out"), "--flow", str(flow),
        "--rgb-weights", str(weights), "--short-side", "64", "--crop", "56",
        "--flow-preset", "standard", "--no-progress",
    )  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{flow}: was not made from {video}" in result.stderr
    assert "flow preset fast, now standard" in result.stderr
    assert not (tmp_path / "out" / "square" / "meta.json").exists()


def test_the_flow_stage_keeps_a_current_file_and_remakes_a_stale_one(clips, tmp_path):
    video = clips / "square.mp4"
    flow = tmp_path / "square.npy"
    args = ["flow", str(video), "--output", str(flow), "--preset", "fast"]
    assert run_cli(*args, "--short-side", "64").returncode == 0
    kept = run_cli(*args, "--short-side", "64")
    assert kept.returncode == 0 and "kept" in kept.stdout
    remade = run_cli(*args, "--short-side", "48")
    assert remade.returncode == 0, remade.stderr
    assert "short side 64, now 48" in remade.stderr
    fresh = tmp_path / "fresh.npy"
    assert run_cli("flow", str(video), "--output", str(fresh), "--preset", "fast",
                   "--short-side", "48").returncode == 0  # fmt: skip
    assert flow.read_bytes() == fresh.read_bytes()


def test_ctrl_c_names_the_video_and_what_is_kept(weights, clips, tmp_path, monkeypatch, capsys):
    real = flow_module.compute_flow
    calls = []

    def interrupted_on_the_second_video(*args, **kwargs):
        calls.append(args[0].path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(flow_module, "compute_flow", interrupted_on_the_second_video)
    videos = [clips / "faster.mp4", clips / "square.mp4"]
    code = main(extract_args(weights, tmp_path / "out", *videos))
    assert code == 130
    err = capsys.readouterr().err.strip()
    assert err == (
        f"wtal extract: interrupted during {videos[1]} (1 of 2 videos done); finished videos "
        "are kept; rerun the same command to resume"
    )
    assert (tmp_path / "out" / "faster" / "meta.json").is_file()
    assert not (tmp_path / "out" / "square" / "meta.json").exists()


def test_a_full_disk_stops_the_run_naming_the_file(weights, clips, tmp_path, monkeypatch, capsys):
    written = []
    real_write_npy = features_module.write_npy

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")  # as fsync reports it: no name

    def disk_full(path, array):  # the real atomic write, on a disk that is full
        written.append(Path(path))
        with monkeypatch.context() as patch:
            patch.setattr(os, "fsync", no_space)
            real_write_npy(path, array)

    monkeypatch.setattr(features_module, "write_npy", disk_full)
    videos = [clips / "faster.mp4", clips / "square.mp4"]
    code = main(extract_args(weights, tmp_path / "out", *videos))
    assert code == 1
    err = capsys.readouterr().err.strip()
    rgb = tmp_path / "out" / "faster" / "rgb.npy"
    assert err == f"wtal extract: error: {rgb}: no space left on device"
    assert written == [rgb]  # the second video was not tried: it would fail the same way


def test_a_decode_record_of_another_version_of_the_video_is_refused(weights, clips, tmp_path):
    video = tmp_path / "clip.mp4"
    shutil.copy(clips / "square.mp4", video)
    record = tmp_path / "clip.json"
    decoded = run_cli("decode", str(video), "--output", str(record), "--short-side", "64")
    assert decoded.returncode == 0, decoded.stderr
    shutil.copy(clips / "faster.mp4", video)  # replaced after the decode stage ran
    result = run_cli(
        "extract", str(video), "--decoded", str(record), "--output", str(tmp_path / "out"),
        "--rgb-weights", str(weights), "--short-side", "64", *TINY,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"{record}: describes another version of {video}" in result.stderr
    assert "video content" in result.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("command", ["extract", "flow"])
def test_a_cuda_device_without_cuda_is_one_line_before_any_work(command, clips, tmp_path):
    out = tmp_path / "out"
    target = ["--output", str(out / "flow.npy")] if command == "flow" else ["--output", str(out)]
    result = run_cli(command, str(clips / "square.mp4"), *target, "--device", "cuda")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "--device cuda" in lines[0] and "use cpu or auto" in lines[0]
    assert not out.exists()


@pytest.mark.parametrize(
    ("option", "value"), [("--flow-batch", "0"), ("--workers", "0"), ("--batch", "-1")]
)
def test_counts_below_one_are_refused_naming_the_option(option, value, clips, tmp_path):
    result = run_cli("extract", str(clips / "square.mp4"), "--output", str(tmp_path), option, value)
    assert result.returncode == 1
    assert f"{option} must be at least 1, not {value}" in result.stderr
    assert "Traceback" not in result.stderr


def test_workers_default_to_the_cores_this_process_may_use():
    import argparse

    from wtal.commands import extract as extract_command
    from wtal.commands import stages

    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers()
    extract_command.add_parser(commands)
    stages.add_parser(commands)
    cores = len(os.sched_getaffinity(0))
    assert parser.parse_args(["extract", "v.mp4", "--output", "o"]).workers == cores
    assert parser.parse_args(["flow", "v.mp4", "--output", "f.npy"]).workers == cores
