"""workflow/scripts/extract_chunk.py on its own: which stages the workflow asks to make again
(WTAL_REDO, set by the planner for --forcerun / -f / -F), and its arguments."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "workflow" / "scripts" / "extract_chunk.py"


@pytest.fixture(scope="module")
def chunk():
    spec = importlib.util.spec_from_file_location("extract_chunk", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_a_stage_or_a_chunk_record_named_in_the_environment_is_made_again(
    chunk, tmp_path, monkeypatch
):
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


def test_a_damaged_redo_variable_is_named(chunk):
    with pytest.raises(ValueError, match=r"WTAL_REDO='\{stages' is not JSON"):
        chunk.redo_asked("flow", "0.json", {"WTAL_REDO": "{stages"})


def test_the_video_list_is_a_non_empty_json_list(chunk):
    args = chunk.parse_args(["decode", "--output", "0.json", "--videos", '["-x1", "b"]',
                             "--settings", json.dumps({"paths": {}, "settings": {}})])  # fmt: skip
    assert args.videos == ["-x1", "b"] and args.settings.weights == {}
    with pytest.raises(SystemExit):
        chunk.parse_args(["decode", "--output", "0.json", "--videos", "[]", "--settings", "{}"])


def test_ctrl_c_ends_a_job_in_one_line(tmp_path):
    """Ctrl-C during the workflow printed a KeyboardInterrupt traceback per extraction job
    (Snakemake echoes each job's log)."""
    from wtal.data.demo_videos import generate

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
