"""workflow/scripts/extract_chunk.py on its own: which stages the workflow asks to make again
(WTAL_REDO, set by the planner for --forcerun / -f / -F), and its arguments."""

from __future__ import annotations

import importlib.util
import json
import sys
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
