"""Reuse: which video file an output was made from (size + first/last MiB), what a flow file
records beside it, the one rule that says why an output is stale (identity, made-from times,
redo), stale outputs made again, and folders that never look complete while they are being
replaced."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import extract.features as features_module
from extract.batch import extract_videos, unique_videos
from extract.features import FeatureFolder, FeatureStage
from extract.flow import FlowStage
from extract.i3d import InceptionI3d
from extract.reuse import (
    END_BYTES,
    Reuse,
    Sidecar,
    differences,
    feature_identity,
    flow_identity,
    read_sidecar,
    sidecar_path,
    video_fingerprint,
    why_stale,
)
from extract.settings import ExtractionSettings, resolve_backend
from extract.stage import Task
from extract.video import Video
from extract.weights import weights_digests
from tests.extract.clips import moving_square
from wtal.errors import Interrupted

SMALL = ExtractionSettings(short_side=64, crop=56, flow_preset="fast", workers=2)
pytestmark = pytest.mark.filterwarnings("ignore:I3D FLOW NETWORK IS UNTRAINED")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "rgb_random.pt"
    torch.save(InceptionI3d(3).state_dict(), path)
    return path


def with_weights(settings: ExtractionSettings, weights: Path) -> ExtractionSettings:
    return dataclasses.replace(settings, rgb_weights=str(weights))


def folder_identity(clip: Path, settings: ExtractionSettings, digests: dict) -> dict:
    """What extracting ``clip`` with ``settings`` and weights of ``digests`` would record."""
    flow = flow_identity(video_fingerprint(clip), settings, settings.backend())
    return feature_identity(flow, settings, digests)


def stale_folder(folder: Path, identity: dict) -> str | None:
    return why_stale(FeatureFolder(folder), identity, Reuse())


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clip")
    return moving_square(folder / "square.mp4", frames=40, fps=25.0, size=(128, 96))


def test_fingerprint_ignores_path_and_time_but_not_content(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, 3 * END_BYTES, dtype=np.uint8).tobytes()
    original = tmp_path / "a.mp4"
    original.write_bytes(data)
    copy = tmp_path / "b" / "a.mp4"
    copy.parent.mkdir()
    shutil.copy(original, copy)
    os.utime(copy, ns=(1, 1))
    assert video_fingerprint(copy) == video_fingerprint(original)
    last = bytearray(data)
    last[-1] ^= 1
    copy.write_bytes(bytes(last))
    assert video_fingerprint(copy)["bytes"] == len(data)
    assert video_fingerprint(copy) != video_fingerprint(original)
    first = bytearray(data)
    first[0] ^= 1
    copy.write_bytes(bytes(first))
    assert video_fingerprint(copy) != video_fingerprint(original)
    # The documented limit: the middle of a large file is not read.
    middle = bytearray(data)
    middle[len(data) // 2] ^= 1
    copy.write_bytes(bytes(middle))
    assert video_fingerprint(copy) == video_fingerprint(original)


def test_a_small_file_is_hashed_whole(tmp_path):
    path = tmp_path / "v.mp4"
    path.write_bytes(b"x" * 1000 + b"y" * 1000)
    before = video_fingerprint(path)
    path.write_bytes(b"x" * 1000 + b"z" + b"y" * 999)
    assert video_fingerprint(path) != before and video_fingerprint(path)["bytes"] == 2000


def test_differences_say_what_changed():
    old = {"decode": {"short_side": 96}, "flow": {"preset": "fast"}, "crop": 56}
    new = {"decode": {"short_side": 64}, "flow": {"preset": "fast"}, "crop": 32}
    assert differences(old, new) == "short side 96, now 64; crop 56, now 32"
    assert differences(new, new) is None
    assert differences(None, new) == "no record of the video and settings it was made from"


def flow_settings(short_side: int, on_variable_frame_rate: str = "resample") -> ExtractionSettings:
    return ExtractionSettings(short_side=short_side, flow_preset="fast", flow_backend="opencv",
                              on_variable_frame_rate=on_variable_frame_rate)  # fmt: skip


def test_a_flow_file_records_its_identity_after_its_final_name(clip, tmp_path):
    target = tmp_path / "flow_fast.npy"
    FlowStage(flow_settings(32, "error")).make(Task(Video(clip, "error"), target))
    record = json.loads(sidecar_path(target).read_text())
    assert sidecar_path(target).name == "flow_fast.identity.json"
    identity = record["identity"]
    assert identity["video"] == video_fingerprint(clip)
    assert identity["decode"] == {"fps": 25.0, "short_side": 32, "on_variable_frame_rate": "error"}
    assert identity["flow"]["preset"] == "fast" and identity["flow"]["parameters"]["warps"] == 2
    assert record["source"]["path"] == str(clip)
    assert record["source"]["mtime_ns"] == clip.stat().st_mtime_ns
    expected = folder_identity(clip, SMALL, {"rgb": "r", "flow": "f"})
    flow_part = {k: expected[k] for k in ("video", "decode", "flow")}
    assert why_stale(Sidecar(target), flow_part, Reuse()) == (
        "short side 32, now 64; --on-variable-frame-rate error, now resample"
    )
    # A run that dies before the new file is complete leaves no record beside the old one.
    task = Task(Video(clip), target, progress=lambda *_: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        FlowStage(flow_settings(48)).make(task)
    assert target.is_file() and read_sidecar(target) is None
    assert why_stale(Sidecar(target), identity, Reuse()) is not None


def test_a_file_without_a_record_is_stale(tmp_path):
    cache = tmp_path / "flow_fast.npy"
    assert why_stale(Sidecar(cache), {"a": 1}, Reuse()) == ""  # nothing there: nothing to say
    np.save(cache, np.zeros((2, 2, 2, 2), np.uint8))
    assert why_stale(Sidecar(cache), {"a": 1}, Reuse()) == (
        "no record of the video and settings it was made from"
    )
    sidecar_path(cache).write_text("{not json")
    assert why_stale(Sidecar(cache), {"a": 1}, Reuse()) is not None


def test_the_rule_keeps_a_current_output_unless_its_sources_are_newer_or_redo(tmp_path):
    output, source = tmp_path / "out.npy", tmp_path / "decoded.json"
    np.save(output, np.zeros(2, np.uint8))
    sidecar_path(output).write_text(json.dumps({"identity": {"a": 1}}))
    source.write_text("{}")
    os.utime(source, ns=(10**9, 10**9))
    assert why_stale(Sidecar(output), {"a": 1}, Reuse((source,))) is None
    assert why_stale(Sidecar(output), {"a": 2}, Reuse((source,))) == "a 1, now 2"
    assert why_stale(Sidecar(output), {"a": 1}, Reuse(redo=True)) == "asked to make it again"
    later = os.stat(output).st_mtime_ns + 10**9
    os.utime(source, ns=(later, later))
    assert why_stale(Sidecar(output), {"a": 1}, Reuse((source,))) == (
        f"{source} changed afterwards"
    )


def extract(videos: list, out: Path, settings: ExtractionSettings, weights: Path, **options):
    return extract_videos(videos, out, with_weights(settings, weights), progress=False, **options)


def test_another_short_side_reextracts_like_a_fresh_run(clip, weights, tmp_path, caplog):
    extract([clip], tmp_path / "out", SMALL, weights)
    other = ExtractionSettings(short_side=72, crop=56, flow_preset="fast", workers=2)
    with caplog.at_level(logging.WARNING, logger="extract"):
        again = extract([clip], tmp_path / "out", other, weights)
    notes = [record.getMessage() for record in caplog.records]
    assert again.reused == [] and list(again.folders) == [clip]
    assert notes == [
        f"{clip}: the features in {tmp_path / 'out' / 'square'} are stale (short side 64, "
        "now 72): extracting again",
        f"{clip}: the flow cache {tmp_path / 'out' / 'square' / 'flow_fast.npy'} is stale "
        "(short side 64, now 72): computing it again",
    ]
    extract([clip], tmp_path / "fresh", other, weights)
    for name in ("rgb.npy", "flow.npy", "flow_fast.npy"):
        mine, fresh = tmp_path / "out" / "square" / name, tmp_path / "fresh" / "square" / name
        assert mine.read_bytes() == fresh.read_bytes(), name
    meta = json.loads((tmp_path / "out" / "square" / "meta.json").read_text())
    assert meta["identity"]["decode"]["short_side"] == 72
    digests = weights_digests(weights)
    assert meta["identity"]["weights"] == digests
    assert meta["identity"]["weights"]["rgb"] == meta["weights"]["rgb"]["sha256"]
    third = extract([clip], tmp_path / "out", other, weights)
    assert third.reused == [clip]


def test_other_weights_or_crop_make_a_folder_stale(clip, weights, tmp_path):
    extract([clip], tmp_path, SMALL, weights)
    folder = tmp_path / "square"
    digests = weights_digests(weights)
    identity = folder_identity(clip, SMALL, digests)
    assert stale_folder(folder, identity) is None
    other = folder_identity(clip, SMALL, {**digests, "flow": "f" * 64})
    assert stale_folder(folder, other) == (
        f"flow weights (sha256) {digests['flow'][:12]}..., now ffffffffffff..."
    )
    cropped = ExtractionSettings(short_side=64, crop=48, flow_preset="fast")
    assert stale_folder(folder, folder_identity(clip, cropped, digests)) == "crop 56, now 48"
    (folder / "flow.npy").unlink()
    assert stale_folder(folder, identity) == "flow.npy is missing"


def test_the_video_is_fingerprinted_once_per_stage_run(clip, weights, tmp_path, monkeypatch):
    """The check, the flow cache and the records all read the one fingerprint taken."""
    import extract.video as video_module

    calls = []
    real = video_module.video_fingerprint
    monkeypatch.setattr(video_module, "video_fingerprint", lambda p: calls.append(p) or real(p))
    extract([clip], tmp_path, SMALL, weights)
    extract([clip], tmp_path, SMALL, weights, redo=True)
    assert calls == [clip, clip]


def test_a_folder_being_replaced_never_looks_complete(clip, weights, tmp_path, monkeypatch):
    extract([clip], tmp_path, SMALL, weights)
    real = features_module.write_npy

    def killed_after_rgb(path, array):
        real(path, array)
        if path.name == "rgb.npy":
            raise KeyboardInterrupt

    monkeypatch.setattr(features_module, "write_npy", killed_after_rgb)
    other = ExtractionSettings(short_side=72, crop=56, flow_preset="fast", workers=2)
    with pytest.raises(Interrupted, match=r"interrupted during .*square.mp4 \(0 of 1 videos"):
        extract([clip], tmp_path, other, weights)
    monkeypatch.undo()
    # rgb.npy is now of short side 72, flow.npy of 64: the folder must not pass as either.
    assert not (tmp_path / "square" / "meta.json").exists()
    again = extract([clip], tmp_path, SMALL, weights)
    assert again.reused == []


def test_same_stem_refused_and_same_file_kept_once(tmp_path):
    a, b = tmp_path / "a" / "clip.mp4", tmp_path / "b" / "clip.avi"
    with pytest.raises(ValueError, match="same name 'clip'") as caught:
        unique_videos([a, tmp_path / "x.mp4", b], tmp_path / "out")
    assert str(a) in str(caught.value) and str(b) in str(caught.value)
    assert str(tmp_path / "out" / "clip") in str(caught.value)
    same = tmp_path / "a" / ".." / "a" / "clip.mp4"
    assert unique_videos([a, same], tmp_path / "out") == [a]


def identities(backend: str = "opencv", autocast: str = "none") -> tuple[dict, dict]:
    settings = ExtractionSettings(autocast=autocast)
    flow = flow_identity({"bytes": 1}, settings, backend)
    return flow, feature_identity(flow, settings, {"rgb": "r", "flow": "f"})


def test_caches_made_before_backends_existed_stay_current():
    """The OpenCV record is the one every existing cache carries: unchanged, so none of
    them is recomputed because the torch backend was added."""
    flow, features = identities()
    assert flow["flow"]["backend"] == "opencv DualTVL1OpticalFlow, clipped to +-20 px, uint8"
    assert set(features) == {"video", "decode", "flow", "crop", "weights"}


def test_the_flow_backend_and_the_autocast_are_part_of_the_identity():
    opencv, fp32 = identities()
    torch_, _ = identities("torch")
    assert differences(opencv, torch_).startswith("flow backend opencv DualTVL1OpticalFlow")
    _, bf16 = identities(autocast="bf16")
    assert differences(fp32, bf16) == "I3D autocast none, now bf16"
    with pytest.raises(ValueError, match="unknown flow backend 'cuda'"):
        identities("cuda")


def test_auto_means_torch_on_cuda_and_opencv_elsewhere():
    assert resolve_backend("auto", torch.device("cpu")) == "opencv"
    assert resolve_backend("auto", torch.device("cuda", 1)) == "torch"
    assert resolve_backend("torch", torch.device("cpu")) == "torch"
    assert resolve_backend("opencv", torch.device("cuda")) == "opencv"
    with pytest.raises(ValueError, match="unknown flow backend 'gpu'"):
        resolve_backend("gpu", torch.device("cpu"))
    assert ExtractionSettings(device="cpu").backend() == "opencv"
    assert ExtractionSettings(device="cpu", flow_backend="torch").backend() == "torch"


HOLD_FOLDER = """
import sys
from pathlib import Path
from wtal.utils.files import exclusive_lock
folder = Path(sys.argv[1])
with exclusive_lock(folder / ".lock", folder):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_a_folder_another_run_is_writing_fails_that_video_alone(clip, weights, tmp_path):
    import subprocess
    import sys

    other = shutil.copy(clip, tmp_path / "other.mp4")
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_FOLDER, str(out / "square")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        result = extract([clip, other], out, SMALL, weights)
    finally:
        holder.communicate("\n", timeout=30)
    assert list(result.failed) == [clip] and list(result.folders) == [other]
    assert result.failed[clip].startswith(f"{out / 'square'}: another wtal run (pid {holder.pid})")
    assert sorted(p.name for p in (out / "square").iterdir()) == [".lock"]  # nothing written
    assert extract([clip], out, SMALL, weights).failed == {}


def test_an_output_error_stops_the_batch_unless_each_video_stands_alone(
    clip, weights, tmp_path, caplog
):
    blocked = shutil.copy(clip, tmp_path / "blocked.mp4")
    out = tmp_path / "out"
    out.mkdir()
    (out / "blocked").write_text("a file where the video's folder goes")
    with pytest.raises(FileExistsError):
        extract([blocked, clip], out, SMALL, weights)
    with caplog.at_level(logging.INFO, logger="extract"):
        result = extract([blocked, clip], out, SMALL, weights, isolate=True)
    assert list(result.failed) == [blocked] and list(result.folders) == [clip]
    assert result.failed[blocked].startswith("FileExistsError: ")
    assert str(out / "blocked") in result.failed[blocked]
    assert any("Traceback" in line for line in caplog.text.splitlines())  # for the job's log
    assert f"  [1/2] {blocked}: FAILED: FileExistsError: " in caplog.text  # as each video ends
    assert f"  [2/2] {clip}: done (" in caplog.text


def test_a_missing_weights_file_stops_the_run_whatever_isolate(clip, tmp_path):
    """Not one video's problem: the run stops (a workflow job too), naming the file."""
    from extract.errors import StageError

    gone = tmp_path / "gone.pt"
    with pytest.raises(StageError, match=r"gone\.pt: no such weights file"):
        extract([clip], tmp_path, SMALL, gone, isolate=True)


def test_the_features_stage_fills_the_template(clip, weights, tmp_path):
    """Check, lock, compute, write, record: a second run keeps what the first made."""
    stage = FeatureStage(with_weights(SMALL, weights))
    task = Task(Video(clip), tmp_path / "square")
    assert stage.run(task) is True and (tmp_path / "square" / ".lock").is_file()
    again = FeatureStage(with_weights(SMALL, weights))
    assert again.run(Task(Video(clip), tmp_path / "square")) is False
    assert again.models is None  # kept: the networks never loaded
