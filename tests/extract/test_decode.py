"""The decode and flow stages of one video (extract/decode.py, extract/flow.py) as the
workflow's jobs and the `wtal decode` / `wtal flow` commands run them: what is kept, what is
made again and why, the lock beside each output, and a flow stage on OpenCV that never loads
torch."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from extract.decode import DecodeStage, read_decoded
from extract.errors import Undecodable, VideoError
from extract.flow import FlowStage
from extract.reuse import lock_path, newer_inputs
from extract.settings import ExtractionSettings
from extract.stage import Task
from extract.video import Video
from tests.extract.clips import moving_square
from wtal.errors import InputFileError
from wtal.utils.files import BusyError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return moving_square(tmp_path / "square.mp4", frames=40, fps=25.0, size=(64, 48), step=2)


def at(path: Path, seconds: int) -> None:
    os.utime(path, ns=(seconds * 10**9, seconds * 10**9))


def decode(video: Path, record: Path, short_side: int = 256, reuse: bool = False) -> dict | None:
    """The decode stage as `wtal decode` (``reuse`` false: always made) or a workflow job runs
    it: the record made, or None when a current one was kept."""
    stage = DecodeStage(ExtractionSettings(short_side=short_side))
    task = Task(Video(video), record)
    if not reuse:
        return stage.make(task)
    return json.loads(record.read_text()) if stage.run(task) else None


def make_flow(video: Path, flow: Path, preset: str, short_side: int, **options) -> bool:
    made_from = tuple(options.pop("made_from", ()))
    settings = ExtractionSettings(short_side=short_side, flow_preset=preset, device="cpu")
    return FlowStage(settings, **options).run(Task(Video(video), flow, made_from))


def test_newer_inputs_are_those_modified_after_the_output(tmp_path):
    output, older, newer = (tmp_path / name for name in ("out", "older", "newer"))
    for path, when in ((output, 200), (older, 100), (newer, 300)):
        path.write_text(path.name)
        at(path, when)
    missing = tmp_path / "missing"
    assert newer_inputs(output, [older, newer, missing]) == [newer]
    at(newer, 200)  # the same time is not newer
    assert newer_inputs(output, [older, newer]) == []


def test_a_decode_record_is_kept_for_the_same_file_and_made_again_for_another(clip, tmp_path):
    record = tmp_path / "decode" / "square.json"
    made = decode(clip, record, 48)
    assert made == json.loads(record.read_text())
    assert made["ok"] and made["decoded_frames"] == 40 and made["segments"] == 2
    assert decode(clip, record, 48, reuse=True) is None  # current: kept
    assert decode(clip, record, 48) == made  # asked: made again, the same
    moving_square(clip, frames=48, fps=25.0, size=(64, 48), step=3)  # another file, one name
    again = decode(clip, record, 48, reuse=True)
    assert again is not None and again["decoded_frames"] == 48
    assert read_decoded(record, Video(clip)) == again


def test_a_variable_frame_rate_record_is_not_kept_when_such_videos_are_refused(clip, tmp_path):
    record = tmp_path / "square.json"
    decode(clip, record, 48)
    data = json.loads(record.read_text())
    record.write_text(json.dumps({**data, "variable_frame_rate": True}))
    stage = DecodeStage(ExtractionSettings(on_variable_frame_rate="error"))
    task = Task(Video(clip, "error"), record)
    assert stage.check(task, stage.expected(task)) == (
        "--on-variable-frame-rate resample, now error"
    )
    resample = DecodeStage(ExtractionSettings())
    assert (
        resample.check(Task(Video(clip), record), resample.expected(Task(Video(clip), record)))
        is None
    )


def test_a_video_that_cannot_be_decoded_is_recorded_or_raised(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video" * 100)
    record = tmp_path / "bad.json"
    with pytest.raises(VideoError):
        decode(bad, record)
    assert not record.exists()
    stage = DecodeStage(ExtractionSettings(), record_failure=True)
    with pytest.raises(Undecodable, match="cannot be decoded") as caught:
        stage.make(Task(Video(bad), record))
    made = json.loads(record.read_text())
    assert made == {"ok": False, "video": str(bad), "error": str(caught.value)}
    # a failure record is never kept, silently: decoding again sees a replaced file
    assert stage.check(Task(Video(bad), record), stage.expected(Task(Video(bad), record))) == ""
    with pytest.raises(Undecodable, match="could not be decoded, so it has no flow or features"):
        read_decoded(record, Video(bad))


def test_a_decode_record_of_another_version_of_the_file_is_refused(clip, tmp_path):
    record = tmp_path / "square.json"
    decode(clip, record, 48)
    moving_square(clip, frames=40, fps=25.0, size=(64, 48), step=5)
    with pytest.raises(InputFileError, match="describes another version of"):
        read_decoded(record, Video(clip))


def test_the_flow_is_kept_when_current_and_made_again_after_its_inputs_or_when_asked(
    clip, tmp_path, caplog
):
    record, flow = tmp_path / "square.json", tmp_path / "flow" / "square.npy"
    decode(clip, record, 48)
    options = {"preset": "fast", "short_side": 48, "made_from": [record]}
    caplog.set_level(logging.WARNING, logger="extract")

    def said() -> list[str]:
        return [r.getMessage() for r in caplog.records]

    assert make_flow(clip, flow, **options) is True
    content = flow.read_bytes()
    at(record, 100)
    assert make_flow(clip, flow, **options) is False and said() == []  # current: kept
    at(record, os.stat(flow).st_mtime_ns // 10**9 + 10)  # the decode record made again
    assert make_flow(clip, flow, **options) is True
    assert said() == [f"{clip}: {flow} is stale ({record} changed afterwards): "
                      "computing it again"]  # fmt: skip
    at(record, 100)
    assert make_flow(clip, flow, **options, redo=True) is True
    assert "(asked to make it again)" in said()[-1]
    assert flow.read_bytes() == content  # made again, the same bytes
    # other settings: made again, and the notice says which
    assert make_flow(clip, flow, "standard", 48) is True
    assert said()[-1].startswith(f"{clip}: {flow} is stale (") and "preset" in said()[-1]


HOLD = """
import sys
from extract.reuse import lock_path
from wtal.utils.files import exclusive_lock
with exclusive_lock(lock_path(sys.argv[1]), sys.argv[1]):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_a_flow_file_another_process_is_writing_is_refused_and_left_alone(clip, tmp_path):
    flow = tmp_path / "square.npy"
    assert lock_path(flow) == tmp_path / ".square.npy.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(flow)], cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(BusyError, match=f"{flow}: another wtal run"):
            make_flow(clip, flow, "fast", 48)
        assert decode(clip, tmp_path / "square.json", 48)  # another output: not locked
    finally:
        holder.communicate("\n", timeout=30)
    assert not flow.exists() and not flow.with_name("square.partial.npy").exists()
    assert make_flow(clip, flow, "fast", 48) is True  # once released


FLOW_ON_OPENCV = """
import sys
from wtal.cli import main
status = main(["flow", sys.argv[1], "--output", sys.argv[2], "--preset", "fast",
               "--short-side", "48", "--workers", "1", *sys.argv[3:]])
print("RESULT", status, "torch" in sys.modules)
"""


@pytest.mark.parametrize(
    ("options", "loads_torch"),
    [(["--backend", "opencv"], False), (["--device", "cpu"], False), (["--backend", "torch",
     "--device", "cpu"], True)],
)  # fmt: skip
def test_the_flow_on_opencv_loads_no_torch(clip, tmp_path, options, loads_torch):
    result = subprocess.run(
        [sys.executable, "-c", FLOW_ON_OPENCV, str(clip), str(tmp_path / "f.npy"), *options],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"RESULT 0 {loads_torch}" in result.stdout
