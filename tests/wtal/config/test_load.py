"""YAML configs validated by the schema: errors name the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from wtal.config.load import load_config
from wtal.config.overrides import differences, parse_assignments
from wtal.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]

GOOD = """
dataset:
  name: tiny
  format: activitynet
  annotations: data/gt.json
"""


def write(tmp_path, text):
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    return path


def test_defaults_are_filled_in(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    assert config["results_dir"] == "results"
    assert config["dataset"]["features"] is None
    assert config["evaluation"] == {
        "tiou": "0.1:0.7:0.1",
        "units": "seconds",
        "ambiguous_filter": True,
    }


def test_misspelt_key_is_named_with_a_suggestion(tmp_path):
    path = write(
        tmp_path, GOOD.replace("annotations: data/gt.json", "annotations: a\n  featurse: x")
    )
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert str(path) in message
    assert "unknown key 'dataset.featurse' (did you mean 'features'?)" in message


def test_unknown_top_level_key(tmp_path):
    with pytest.raises(
        ConfigError, match=r"cfg.yaml: unknown key 'evalution' \(did you mean 'evaluation'\?\)"
    ):
        load_config(write(tmp_path, GOOD + "evalution: {}\n"))


def test_wrong_type_and_enum_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"key 'dataset.format': 'csv' is not one of"):
        load_config(write(tmp_path, GOOD.replace("format: activitynet", "format: csv")))
    with pytest.raises(
        ConfigError,
        match=r"key 'evaluation.ambiguous_filter': 'yes please' is not of type 'boolean'",
    ):
        load_config(write(tmp_path, GOOD + "evaluation:\n  ambiguous_filter: yes please\n"))


def test_missing_required_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="'dataset' is a required property"):
        load_config(write(tmp_path, "results_dir: r\n"))
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "dataset: [\n"))
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.yaml")


def test_overrides_are_validated_too(tmp_path):
    config = load_config(write(tmp_path, GOOD), overrides={"evaluation": {"units": "segments"}})
    assert config["evaluation"]["units"] == "segments"
    with pytest.raises(ConfigError, match=r"evaluation\.unit"):
        load_config(write(tmp_path, GOOD), overrides={"evaluation": {"unit": "segments"}})


def test_errors_in_overrides_blame_set_and_errors_in_the_file_blame_the_file(tmp_path):
    path = write(tmp_path, GOOD)
    with pytest.raises(ConfigError) as error:
        load_config(path, parse_assignments(["training.sed=1"]))
    message = str(error.value)
    assert message.startswith("--set training.sed=...: unknown key 'training.sed'")
    assert "(did you mean 'seed'?)" in message and str(path) not in message
    with pytest.raises(ConfigError, match=r"^--set model\.mode=\.\.\.: key 'model\.mode'"):
        load_config(path, parse_assignments(["model.mode=convolution"]))
    # Both at fault: the file is named for its key, --set for its own.
    both = write(tmp_path, GOOD + "training:\n  iteratons: 5\n")
    with pytest.raises(ConfigError) as error:
        load_config(both, parse_assignments(["training.sed=1", "training.seed=2"]))
    message = str(error.value)
    assert message.startswith(f"{both}: unknown key 'training.iteratons'")
    assert "--set training.sed=...: unknown key 'training.sed'" in message
    # A key the file lacks and --set does not give stays the file's fault.
    with pytest.raises(ConfigError, match=r"cfg\.yaml: dataset: 'annotations' is a required"):
        load_config(
            write(tmp_path, GOOD.replace("  annotations: data/gt.json\n", "")),
            parse_assignments(["dataset.features=f"]),
        )


def test_a_folder_or_a_file_that_is_not_utf8_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"is a folder, not a config file") as error:
        load_config(tmp_path)
    assert str(error.value).startswith(str(tmp_path))
    path = tmp_path / "cp1252.yaml"
    path.write_bytes(GOOD.replace("tiny", "tiny \u2013 copy").encode("cp1252"))
    with pytest.raises(ConfigError, match=r"cp1252\.yaml: not UTF-8 text \(byte 0x96 at offset"):
        load_config(path)


@pytest.mark.parametrize("path", sorted((ROOT / "config").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_are_valid(path):
    load_config(path)


def test_command_line_assignments_become_nested_overrides(tmp_path):
    overrides = parse_assignments(
        [
            "training.seed=2",
            "model.vlc.enabled=false",
            "training.tsm_lr=1e-4",
            "model.vlc.template=a video of the [CLS]",
            "training.seed=5",
        ]
    )
    assert overrides == {
        "training": {"seed": 5, "tsm_lr": 1e-4},
        "model": {"vlc": {"enabled": False, "template": "a video of the [CLS]"}},
    }
    config = load_config(write(tmp_path, GOOD), overrides)
    assert config["training"]["tsm_lr"] == 1e-4 and config["model"]["vlc"]["enabled"] is False
    for bad in ("training.seed", "=1", "training..seed=1"):
        with pytest.raises(ValueError, match=r"KEY\.PATH=VALUE"):
            parse_assignments([bad])
    with pytest.raises(ValueError, match="already a value"):
        parse_assignments(["training=1", "training.seed=1"])


def test_differences_list_every_changed_leaf_by_dotted_key():
    old = {"training": {"seed": 0, "iterations": 4}, "model": {"vlc": {"enabled": True}}}
    new = {"training": {"seed": 1, "iterations": 4}, "model": {"vlc": {}}, "extra": 2}
    assert differences(old, new) == [
        ("extra", None, 2),
        ("model.vlc.enabled", True, None),
        ("training.seed", 0, 1),
    ]
    assert differences(old, old) == []
