"""Relative paths in a config file mean paths beside the file, from whichever folder a command
runs; ``--set`` paths mean paths from the current folder; checkpoints record absolute paths, so
``wtal infer --checkpoint`` works from anywhere; the workflow's configs follow the same rule."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from wtal.cli import main
from wtal.config.load import layered_config, load_config
from wtal.config.overrides import parse_assignments
from wtal.config.paths import path_keys, rebase_paths
from wtal.config.schema import load_schema
from wtal.generate.synthetic_files import generate

ROOT = Path(__file__).resolve().parents[3]


def write(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


def relative_config() -> dict:
    return {
        "results_dir": "out",
        "dataset": {
            "name": "tiny",
            "format": "activitynet",
            "annotations": "data/annotations.json",
            "features": "./data/../data/features",
            "train_subset": "validation",
            "test_subset": "test",
        },
        "extraction": {"rgb_weights": "/abs/rgb.pt", "weights_cache": "~/cache"},
        "model": {"word_vectors": "default"},
    }


def test_the_schema_marks_every_path_key():
    assert sorted(".".join(k) for k in path_keys(load_schema())) == [
        "dataset.ambiguous",
        "dataset.annotations",
        "dataset.features",
        "dataset.videos",
        "extraction.flow_weights",
        "extraction.rgb_weights",
        "extraction.weights_cache",
        "model.word_vectors",
        "results_dir",
        "sheet",
    ]


def test_paths_in_a_file_resolve_beside_it_from_any_folder(tmp_path, monkeypatch):
    config_file = write(tmp_path / "exp" / "config.yaml", relative_config())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(os.path.relpath(config_file, elsewhere))
    exp = tmp_path / "exp"
    assert config["results_dir"] == str(exp / "out")
    assert config["dataset"]["annotations"] == str(exp / "data" / "annotations.json")
    assert config["dataset"]["features"] == str(exp / "data" / "features")  # normalised
    assert config["dataset"]["ambiguous"] is None  # null stays null
    assert config["extraction"]["rgb_weights"] == "/abs/rgb.pt"  # absolute stays
    assert config["extraction"]["weights_cache"] == "~/cache"  # the user's home stays
    assert config["model"]["word_vectors"] == "default"  # a keyword, not a path


def test_set_paths_resolve_from_the_current_folder(tmp_path, monkeypatch):
    config_file = write(tmp_path / "exp" / "config.yaml", relative_config())
    monkeypatch.chdir(tmp_path)
    overrides = parse_assignments(["dataset.features=feats", "model.word_vectors=glove.txt"])
    config = load_config(config_file, overrides)
    assert config["dataset"]["features"] == str(tmp_path / "feats")
    assert config["model"]["word_vectors"] == str(tmp_path / "glove.txt")
    assert config["dataset"]["annotations"] == str(tmp_path / "exp" / "data" / "annotations.json")


def test_the_workflow_config_merges_files_each_beside_itself(tmp_path):
    base = write(tmp_path / "config" / "base.yaml", relative_config())
    user = write(tmp_path / "mine" / "user.yaml", {"dataset": {"videos": "videos"}})
    config = layered_config([base, user], {"results_dir": "/scratch/out"}, workdir=tmp_path)
    assert config["dataset"]["annotations"] == "config/data/annotations.json"  # inside workdir
    assert config["dataset"]["videos"] == "mine/videos"
    assert config["results_dir"] == "/scratch/out"  # --config, absolute, outside the workdir


def test_a_config_written_elsewhere_keeps_meaning_the_same_files(tmp_path):
    config = {"results_dir": "results", "dataset": {"annotations": "/data/a.json"}}
    moved = rebase_paths(config, tmp_path, tmp_path / "results" / "demo" / "train", load_schema())
    assert moved == {"results_dir": "../..", "dataset": {"annotations": "/data/a.json"}}


def test_the_shipped_configs_name_files_inside_the_repository():
    # config/thumos14.yaml read from the repository root and from /: the same paths.
    for name in ("config.yaml", "thumos14.yaml", "activitynet13.yaml", "synthetic_cpu.yaml"):
        config = load_config(ROOT / "config" / name)
        assert config["results_dir"] == str(ROOT / "results"), name
        assert config["dataset"]["annotations"].startswith(str(ROOT) + os.sep), name


def test_infer_from_another_folder_uses_the_checkpoints_absolute_paths(tmp_path, monkeypatch):
    project = tmp_path / "project"
    generate(project / "data", "tiny", seed=1, feature_dim=64)
    config = relative_config()
    config["extraction"] = {}
    config["training"] = {"iterations": 2, "max_seqlen": 32, "selection": "last", "device": "cpu"}
    config["evaluation"] = {"ambiguous_filter": False}
    config_file = write(project / "config.yaml", config)
    monkeypatch.chdir(tmp_path)  # not the config's folder: its relative paths still work
    assert main(["train", "--config", "project/config.yaml", "--no-progress"]) == 0
    train_dir = project / "out" / "tiny" / "train"
    summary = json.loads((train_dir / "training.json").read_text())
    assert summary["config"]["dataset"]["features"] == str(project / "data" / "features")
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.chdir(other)
    checkpoint = train_dir / "checkpoints" / "last.pt"
    assert main(["infer", "--checkpoint", str(checkpoint), "--output", "inf", "--no-progress"]) == 0
    assert (other / "inf" / "metrics.json").is_file()
    assert config_file.is_file()


def test_a_config_file_that_is_not_a_mapping_is_named(tmp_path):
    from wtal.errors import ConfigError

    listed = tmp_path / "list.yaml"
    listed.write_text("- dataset\n- training\n")
    for read in (lambda: load_config(listed), lambda: layered_config([listed])):
        with pytest.raises(ConfigError) as caught:
            read()
        assert str(caught.value) == f"{listed}: must hold sections (a mapping), not a list"
