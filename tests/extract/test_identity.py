"""Cache identity: which video file a cache was made from (size + first/last MiB), what a
flow cache records beside it, stale caches made again, and folders that never look complete
while they are being replaced."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
import torch

import extract.features as features_module
from extract.batch import extract_videos, stale_folder, unique_videos
from extract.features import ExtractionSettings, expected_identity
from extract.flow import compute_flow, resolve_backend
from extract.i3d import InceptionI3d
from extract.identity import (
    END_BYTES,
    differences,
    feature_identity,
    flow_identity,
    read_sidecar,
    sidecar_path,
    stale_cache,
    video_fingerprint,
)
from extract.video import probe
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


def test_a_flow_cache_records_its_identity_after_its_final_name(clip, tmp_path):
    info = probe(clip)
    target = tmp_path / "flow_fast.npy"
    compute_flow(info, target, "fast", short_side=32, on_variable_frame_rate="error")
    record = json.loads(sidecar_path(target).read_text())
    assert sidecar_path(target).name == "flow_fast.identity.json"
    identity = record["identity"]
    assert identity["video"] == video_fingerprint(clip)
    assert identity["decode"] == {"fps": 25.0, "short_side": 32, "on_variable_frame_rate": "error"}
    assert identity["flow"]["preset"] == "fast" and identity["flow"]["parameters"]["warps"] == 2
    assert record["source"]["path"] == str(clip)
    assert record["source"]["mtime_ns"] == clip.stat().st_mtime_ns
    _, expected = expected_identity(clip, SMALL, {"rgb": "r", "flow": "f"})
    assert stale_cache(target, {k: expected[k] for k in ("video", "decode", "flow")}) == (
        "short side 32, now 64; --on-variable-frame-rate error, now resample"
    )
    # A run that dies before the new file is complete leaves no record beside the old one.
    with pytest.raises(ZeroDivisionError):
        compute_flow(info, target, "fast", short_side=48, progress=lambda n: 1 / 0)
    assert target.is_file() and read_sidecar(target) is None
    assert stale_cache(target, identity) is not None


def test_a_cache_without_a_record_is_stale(tmp_path):
    cache = tmp_path / "flow_fast.npy"
    assert stale_cache(cache, {"a": 1}) is None  # nothing there: nothing to reuse
    np.save(cache, np.zeros((2, 2, 2, 2), np.uint8))
    assert stale_cache(cache, {"a": 1}) == "no record of the video and settings it was made from"
    sidecar_path(cache).write_text("{not json")
    assert stale_cache(cache, {"a": 1}) is not None


def test_another_short_side_reextracts_like_a_fresh_run(clip, weights, tmp_path):
    notes: list[str] = []
    extract_videos([clip], tmp_path / "out", SMALL, rgb_weights=weights, progress=False)
    other = ExtractionSettings(short_side=72, crop=56, flow_preset="fast", workers=2)
    again = extract_videos(
        [clip], tmp_path / "out", other, rgb_weights=weights, progress=False, notify=notes.append
    )
    assert again.reused == [] and list(again.folders) == [clip]
    assert len(notes) == 2 and all("short side 64, now 72" in n for n in notes)
    extract_videos([clip], tmp_path / "fresh", other, rgb_weights=weights, progress=False)
    for name in ("rgb.npy", "flow.npy", "flow_fast.npy"):
        mine, fresh = tmp_path / "out" / "square" / name, tmp_path / "fresh" / "square" / name
        assert mine.read_bytes() == fresh.read_bytes(), name
    meta = json.loads((tmp_path / "out" / "square" / "meta.json").read_text())
    assert meta["identity"]["decode"]["short_side"] == 72
    digests = weights_digests(weights)
    assert meta["identity"]["weights"] == digests
    assert meta["identity"]["weights"]["rgb"] == meta["weights"]["rgb"]["sha256"]
    third = extract_videos([clip], tmp_path / "out", other, rgb_weights=weights, progress=False)
    assert third.reused == [clip]


def test_other_weights_or_crop_make_a_folder_stale(clip, weights, tmp_path):
    extract_videos([clip], tmp_path, SMALL, rgb_weights=weights, progress=False)
    folder = tmp_path / "square"
    digests = weights_digests(weights)
    _, identity = expected_identity(clip, SMALL, digests)
    assert stale_folder(folder, identity) is None
    _, other = expected_identity(clip, SMALL, {**digests, "flow": "f" * 64})
    assert stale_folder(folder, other) == (
        f"flow weights (sha256) {digests['flow'][:12]}..., now ffffffffffff..."
    )
    cropped = ExtractionSettings(short_side=64, crop=48, flow_preset="fast")
    assert stale_folder(folder, expected_identity(clip, cropped, digests)[1]) == ("crop 56, now 48")
    (folder / "flow.npy").unlink()
    assert stale_folder(folder, identity) == "flow.npy is missing"


def test_a_folder_being_replaced_never_looks_complete(clip, weights, tmp_path, monkeypatch):
    extract_videos([clip], tmp_path, SMALL, rgb_weights=weights, progress=False)
    real = features_module.write_npy

    def killed_after_rgb(path, array):
        real(path, array)
        if path.name == "rgb.npy":
            raise KeyboardInterrupt

    monkeypatch.setattr(features_module, "write_npy", killed_after_rgb)
    other = ExtractionSettings(short_side=72, crop=56, flow_preset="fast", workers=2)
    with pytest.raises(Interrupted, match=r"interrupted during .*square.mp4 \(0 of 1 videos"):
        extract_videos([clip], tmp_path, other, rgb_weights=weights, progress=False)
    monkeypatch.undo()
    # rgb.npy is now of short side 72, flow.npy of 64: the folder must not pass as either.
    assert not (tmp_path / "square" / "meta.json").exists()
    again = extract_videos([clip], tmp_path, SMALL, rgb_weights=weights, progress=False)
    assert again.reused == []


def test_same_stem_refused_and_same_file_kept_once(tmp_path):
    a, b = tmp_path / "a" / "clip.mp4", tmp_path / "b" / "clip.avi"
    with pytest.raises(ValueError, match="same name 'clip'") as caught:
        unique_videos([a, tmp_path / "x.mp4", b], tmp_path / "out")
    assert str(a) in str(caught.value) and str(b) in str(caught.value)
    assert str(tmp_path / "out" / "clip") in str(caught.value)
    same = tmp_path / "a" / ".." / "a" / "clip.mp4"
    assert unique_videos([a, same], tmp_path / "out") == [a]


def test_caches_made_before_backends_existed_stay_current():
    """The OpenCV record is the one every existing cache carries: unchanged, so none of
    them is recomputed because the torch backend was added."""
    identity = flow_identity({"bytes": 1}, 256, "resample", "standard", {}, "opencv")
    assert identity["flow"]["backend"] == "opencv DualTVL1OpticalFlow, clipped to +-20 px, uint8"
    no_autocast = feature_identity(identity, 224, {"rgb": "r", "flow": "f"})
    assert set(no_autocast) == {"video", "decode", "flow", "crop", "weights"}


def test_the_flow_backend_and_the_autocast_are_part_of_the_identity():
    opencv = flow_identity({"bytes": 1}, 256, "resample", "standard", {}, "opencv")
    torch_ = flow_identity({"bytes": 1}, 256, "resample", "standard", {}, "torch")
    assert differences(opencv, torch_).startswith("flow backend opencv DualTVL1OpticalFlow")
    weights = {"rgb": "r", "flow": "f"}
    fp32 = feature_identity(opencv, 224, weights)
    bf16 = feature_identity(opencv, 224, weights, "bf16")
    assert differences(fp32, bf16) == "I3D autocast none, now bf16"
    with pytest.raises(ValueError, match="unknown flow backend 'cuda'"):
        flow_identity({"bytes": 1}, 256, "resample", "standard", {}, "cuda")


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
        result = extract_videos([clip, other], out, SMALL, rgb_weights=weights, progress=False)
    finally:
        holder.communicate("\n", timeout=30)
    assert list(result.failed) == [clip] and list(result.folders) == [other]
    assert result.failed[clip].startswith(f"{out / 'square'}: another wtal run (pid {holder.pid})")
    assert sorted(p.name for p in (out / "square").iterdir()) == [".lock"]  # nothing written
    assert extract_videos([clip], out, SMALL, rgb_weights=weights, progress=False).failed == {}


def test_an_output_error_stops_the_batch_unless_each_video_stands_alone(clip, weights, tmp_path):
    blocked = shutil.copy(clip, tmp_path / "blocked.mp4")
    out = tmp_path / "out"
    out.mkdir()
    (out / "blocked").write_text("a file where the video's folder goes")
    with pytest.raises(FileExistsError):
        extract_videos([blocked, clip], out, SMALL, rgb_weights=weights, progress=False)
    notes: list[str] = []
    result = extract_videos([blocked, clip], out, SMALL, rgb_weights=weights, progress=False,
                            isolate=True, notify=notes.append)  # fmt: skip
    assert list(result.failed) == [blocked] and list(result.folders) == [clip]
    assert result.failed[blocked].startswith("FileExistsError: ")
    assert str(out / "blocked") in result.failed[blocked]
    assert any("Traceback" in note for note in notes)  # the whole story, for the job's log
