"""The settings object: its defaults are the schema's and the protocol's, and the three
transports (a workflow job's JSON, the single-video commands' options, meta.json) all come
from it and read back as the same settings."""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from extract import presets
from extract.settings import COMMANDS, ExtractionSettings, option, read_by
from wtal.commands import extract as extract_command
from wtal.commands import stages as stage_commands
from wtal.data.timing import I3D_25FPS

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "wtal" / "schemas" / "config.schema.yaml"

#: Not the defaults anywhere: every key set, so a key lost on the way shows.
CHANGED = ExtractionSettings(
    short_side=128, crop=112, flow_preset="fast", workers=3, batch_segments=2, keep_flow=False,
    on_variable_frame_rate="error", flow_backend="torch", device="cpu", autocast="bf16",
    flow_batch=8, videos_per_job=5, rgb_weights="rgb.pt", flow_weights="flow.pt",
    weights_cache="cache",
)  # fmt: skip


def test_the_schema_and_the_settings_object_have_the_same_keys_and_defaults():
    section = yaml.safe_load(SCHEMA.read_text())["properties"]["extraction"]["properties"]
    schema = {key: spec["default"] for key, spec in section.items()}
    assert schema == dataclasses.asdict(ExtractionSettings())


def test_the_schema_offers_the_settings_choices():
    section = yaml.safe_load(SCHEMA.read_text())["properties"]["extraction"]["properties"]
    for field in dataclasses.fields(ExtractionSettings):
        if field.metadata["choices"] is not None:
            assert sorted(section[field.name]["enum"]) == sorted(field.metadata["choices"])


def test_the_defaults_are_the_protocol_and_the_protocol_is_the_datasets_timing():
    assert (ExtractionSettings().short_side, ExtractionSettings().crop) == (
        presets.SHORT_SIDE,
        presets.CROP,
    )
    assert I3D_25FPS.fps == presets.FPS
    assert I3D_25FPS.frames_per_segment == I3D_25FPS.stride == presets.SEGMENT_FRAMES


def test_each_stage_reads_the_keys_its_outputs_depend_on():
    assert read_by("decode") == ("short_side", "on_variable_frame_rate")
    assert {"flow_preset", "flow_backend", "device", "flow_batch"} <= set(read_by("flow"))
    assert set(read_by("flow")) <= set(read_by("features"))
    only_features = {"crop", "batch_segments", "keep_flow", "autocast", "rgb_weights",
                     "flow_weights", "weights_cache"}  # fmt: skip
    assert only_features <= set(read_by("features")) - set(read_by("flow"))
    assert not {"workers", "videos_per_job"} & {k for s in COMMANDS for k in read_by(s)}
    with pytest.raises(ValueError, match="unknown extraction stage 'pack'"):
        read_by("pack")


def test_a_job_s_settings_read_back_as_the_settings_of_its_stage():
    for stage in COMMANDS:
        given = CHANGED.for_stage(stage)
        back = ExtractionSettings.from_chunk(given, workers=CHANGED.workers)
        assert {key: getattr(back, key) for key in read_by(stage)} == {
            key: getattr(CHANGED, key) for key in read_by(stage)
        }
    assert CHANGED.for_stage("features")["weights"] == {
        "rgb": "rgb.pt",
        "flow": "flow.pt",
        "cache": "cache",
    }
    assert "weights" not in CHANGED.for_stage("flow")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser()
    commands = top.add_subparsers()
    extract_command.add_parser(commands)
    stage_commands.add_parser(commands)
    return top


@pytest.mark.parametrize("stage", list(COMMANDS))
@pytest.mark.parametrize("settings", [ExtractionSettings(), CHANGED])
def test_a_command_line_reads_back_as_the_settings_of_its_stage(stage, settings):
    """The workflow's single-video rules give these arguments; the command reads them back."""
    output = "out.npy" if stage == "flow" else "out"
    args = parser().parse_args([COMMANDS[stage], "v.mp4", "--output", output,
                                *settings.arguments(stage)])  # fmt: skip
    back = ExtractionSettings.from_args(args)
    assert {key: getattr(back, key) for key in read_by(stage)} == {
        key: getattr(settings, key) for key in read_by(stage)
    }


def test_options_are_named_as_the_commands_always_named_them():
    assert option("flow_preset", "flow") == "--preset"
    assert option("flow_preset", "extract") == "--flow-preset"
    assert option("flow_backend", "flow") == "--backend"
    assert option("batch_segments", "extract") == "--batch"
    assert option("keep_flow", "extract") == "--no-keep-flow"
    assert CHANGED.arguments("decode") == ["--short-side", "128",
                                           "--on-variable-frame-rate", "error"]  # fmt: skip


def test_meta_json_records_the_settings_it_always_recorded():
    assert list(ExtractionSettings().recorded()) == [
        "short_side", "crop", "flow_preset", "workers", "batch_segments", "keep_flow",
        "on_variable_frame_rate", "flow_backend", "device", "autocast", "flow_batch",
    ]  # fmt: skip


def test_the_settings_and_presets_load_no_torch_opencv_or_numpy():
    code = (
        "import sys, extract.settings, extract.presets; "
        "print(sorted(m for m in ('torch', 'cv2', 'numpy') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, check=True)  # fmt: skip
    assert result.stdout.strip() == "[]"
