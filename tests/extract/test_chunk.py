"""A workflow extraction job (extract/chunk.py) on its own: which stages the workflow asks to
make again (WTAL_REDO, set by the planner for --forcerun / -f / -F), its arguments, the one
per-video loop for every stage (a line as each video ends, what cannot be decoded recorded,
a failed video failing the job at the end), and Ctrl-C through the workflow's script."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import extract.chunk as chunk
from extract.settings import ExtractionSettings
from tests.extract.clips import moving_square

SCRIPT = Path(__file__).resolve().parents[2] / "workflow" / "scripts" / "extract_chunk.py"


def test_a_stage_or_a_chunk_record_named_in_the_environment_is_made_again(tmp_path, monkeypatch):
    record = tmp_path / "extract" / "flow" / "2-per-job" / "0.json"
    other = tmp_path / "extract" / "flow" / "2-per-job" / "1.json"
    asked = {"WTAL_REDO": json.dumps({"stages": ["flow"], "records": []})}
    assert chunk.redo_asked("flow", str(record), asked)
    assert not chunk.redo_asked("features", str(record), asked)
    asked = {"WTAL_REDO": json.dumps({"stages": [], "records": [str(record)]})}
    assert chunk.redo_asked("flow", str(record), asked)
    assert not chunk.redo_asked("flow", str(other), asked)
    # records are compared as absolute paths (Snakemake may name them relative)
    relative = Path("extract") / "flow" / "2-per-job" / "0.json"
    asked = {"WTAL_REDO": json.dumps({"records": [str(tmp_path / relative)]})}
    monkeypatch.chdir(tmp_path)
    assert chunk.redo_asked("flow", str(relative), asked)
    assert not chunk.redo_asked("decode", str(record), {})  # outside the workflow: nothing


def test_a_damaged_redo_variable_is_named():
    with pytest.raises(ValueError, match=r"WTAL_REDO='\{stages' is not JSON"):
        chunk.redo_asked("flow", "0.json", {"WTAL_REDO": "{stages"})


def test_the_video_list_is_a_non_empty_json_list():
    paths = {"video": "v/{video}.mp4", "decoded": "d/{video}.json"}
    settings = json.dumps({"paths": paths, "settings": {}})
    args = chunk.parse_args(["decode", "--output", "0.json", "--videos", '["-x1", "b"]',
                             "--settings", settings])  # fmt: skip
    assert args.videos == ["-x1", "b"]
    assert args.settings.settings(2) == ExtractionSettings(workers=2)
    with pytest.raises(SystemExit):
        chunk.parse_args(["decode", "--output", "0.json", "--videos", "[]", "--settings", "{}"])


def test_ctrl_c_ends_a_job_in_one_line(tmp_path):
    """Ctrl-C during the workflow printed a KeyboardInterrupt traceback per extraction job
    (Snakemake echoes each job's log)."""
    from wtal.generate.demo_files import generate

    generate(tmp_path / "demo", videos=6, test_videos=1, width=64, height=64)
    videos = [f"video_validation_{i:07d}" for i in range(1, 4)]
    paths = {"video": str(tmp_path / "demo" / "videos" / "{video}.mp4"),
             "decoded": str(tmp_path / "decode" / "{video}.json"),
             "flow": str(tmp_path / "flow" / "{video}.npy")}  # fmt: skip
    settings = {"paths": paths, "settings": {
        "short_side": 64, "on_variable_frame_rate": "error", "flow_preset": "standard",
        "flow_backend": "opencv", "device": "cpu", "flow_batch": 1}}  # fmt: skip
    common = ["--settings", json.dumps(settings), "--videos", json.dumps(videos)]
    decode = [sys.executable, str(SCRIPT), "decode", "--output", str(tmp_path / "d.json")]
    subprocess.run([*decode, *common], check=True, capture_output=True)
    job = subprocess.Popen(
        [sys.executable, str(SCRIPT), "flow", "--output", str(tmp_path / "f.json"), *common],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as in a terminal
    )  # fmt: skip
    deadline = time.monotonic() + 60
    flow = tmp_path / "flow"
    while not (flow.is_dir() and any(flow.iterdir())):  # the first video's flow under way
        assert job.poll() is None and time.monotonic() < deadline, job.communicate()
        time.sleep(0.05)
    os.killpg(job.pid, signal.SIGINT)  # Ctrl-C reaches the terminal's whole process group
    _, err = job.communicate(timeout=60)
    assert job.returncode == 130, err
    assert "Traceback" not in err and err.count("\n") == 1
    assert err.startswith("extract_chunk flow: interrupted;")
    assert not (tmp_path / "f.json").exists()  # the chunk is not recorded as done


def chunk_job(tmp_path: Path, stage: str, videos: list[str], capsys) -> tuple[int, str, dict]:
    """A job of ``stage`` on clips in tmp_path/videos: exit status, log, chunk record."""
    paths = {"video": str(tmp_path / "videos" / "{video}.mp4"),
             "decoded": str(tmp_path / "decode" / "{video}.json")}  # fmt: skip
    if stage != "decode":
        paths["flow"] = str(tmp_path / "flow" / "{video}.npy")
    settings = ExtractionSettings(short_side=32, flow_preset="fast", flow_backend="opencv")
    data = {"paths": paths, **settings.for_stage(stage)}
    record = tmp_path / f"{stage}.json"
    status = chunk.main([stage, "--output", str(record), "--videos", json.dumps(videos),
                         "--settings", json.dumps(data)])  # fmt: skip
    log = capsys.readouterr()
    found = json.loads(record.read_text()) if record.is_file() else {}
    return status, log.out + log.err, found


def test_one_loop_for_every_stage_records_what_cannot_be_decoded(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("WTAL_REDO", raising=False)
    (tmp_path / "videos").mkdir()
    moving_square(tmp_path / "videos" / "good.mp4", frames=20, fps=25.0, size=(64, 48))
    (tmp_path / "videos" / "bad.mp4").write_bytes(b"not a video" * 100)
    status, log, record = chunk_job(tmp_path, "decode", ["bad", "good"], capsys)
    assert status == 0 and record["done"] == ["good"] and list(record["undecodable"]) == ["bad"]
    assert "  [1/2] bad: cannot be decoded: " in log and "  [2/2] good: done (" in log
    assert "[1/2] bad: cannot be decoded" in log.split("  [2/2] good: done")[1]  # the summary
    status, log, record = chunk_job(tmp_path, "flow", ["bad", "good"], capsys)
    assert status == 0 and record["done"] == ["good"] and list(record["undecodable"]) == ["bad"]
    assert "could not be decoded, so it has no flow or features" in record["undecodable"]["bad"]
    assert (tmp_path / "flow" / "good.npy").is_file() and not (
        tmp_path / "flow" / "bad.npy"
    ).exists()
    status, log, record = chunk_job(tmp_path, "flow", ["good"], capsys)
    assert record["kept"] == ["good"] and "  [1/1] good: done (current, kept) (" in log


def test_a_video_whose_stage_fails_fails_the_job_after_the_others(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("WTAL_REDO", raising=False)
    (tmp_path / "videos").mkdir()
    for name in ("a", "b"):
        moving_square(tmp_path / "videos" / f"{name}.mp4", frames=20, fps=25.0, size=(64, 48))
    assert chunk_job(tmp_path, "decode", ["a", "b"], capsys)[0] == 0
    (tmp_path / "decode" / "a.json").write_text("{damaged")
    status, log, record = chunk_job(tmp_path, "flow", ["a", "b"], capsys)
    assert status == 1 and record == {}  # no record: the chunk is not done
    damaged = tmp_path / "decode" / "a.json"
    assert f"  [1/2] a: FAILED: {damaged}: decode record unusable: " in log, log
    assert "  [2/2] b: done (" in log
    assert "1 of 2 videos of this chunk failed at flow" in log


def test_the_record_lists_the_videos_in_the_chunk_s_order(tmp_path, capsys, monkeypatch):
    """A kept video is settled before the others are made; the record keeps the chunk's order."""
    monkeypatch.delenv("WTAL_REDO", raising=False)
    (tmp_path / "videos").mkdir()
    for name in ("a", "b"):
        moving_square(tmp_path / "videos" / f"{name}.mp4", frames=20, fps=25.0, size=(64, 48))
    assert chunk_job(tmp_path, "decode", ["a"], capsys)[0] == 0
    status, _, record = chunk_job(tmp_path, "decode", ["b", "a"], capsys)
    assert status == 0 and record["done"] == ["b", "a"] and record["kept"] == ["a"]
    assert list(record["seconds"]) == ["b", "a"]


NO_TORCH = """
import sys
from extract.chunk import main
status = main(sys.argv[1:])
print("RESULT", status, "torch" in sys.modules)
"""


@pytest.mark.parametrize("stage", ["decode", "flow"])
def test_a_decode_job_or_an_opencv_flow_job_loads_no_torch(stage, tmp_path):
    """Importing torch costs a process 1-2 s: a job of tiny videos would pay it per chunk."""
    (tmp_path / "videos").mkdir()
    moving_square(tmp_path / "videos" / "a.mp4", frames=20, fps=25.0, size=(64, 48))
    paths = {"video": str(tmp_path / "videos" / "{video}.mp4"),
             "decoded": str(tmp_path / "decode" / "{video}.json"),
             "flow": str(tmp_path / "flow" / "{video}.npy")}  # fmt: skip
    settings = ExtractionSettings(short_side=32, flow_preset="fast", flow_backend="opencv")
    env = {k: v for k, v in os.environ.items() if k != "WTAL_REDO"}
    for name in ("decode", stage):
        data = json.dumps({"paths": paths, **settings.for_stage(name)})
        argv = [name, "--output", str(tmp_path / f"{name}.json"), "--videos", '["a"]',
                "--settings", data]  # fmt: skip
        result = subprocess.run([sys.executable, "-c", NO_TORCH, *argv], capture_output=True,
                                text=True, check=False, env=env)  # fmt: skip
        assert "RESULT 0 False" in result.stdout, result.stdout + result.stderr
