"""Config layering: ``base:`` names the file(s) a config extends, relative to its folder; the
layers merge (mappings key by key; lists, scalars and null replace), each one's relative paths
resolved beside it, and the schema validates the merged result, which holds no ``base``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from wtal.config.load import (
    layered_config,
    load_config,
    load_layered_config,
    read_layers,
    workflow_config,
)
from wtal.config.overrides import parse_assignments
from wtal.config.schema import validate_config
from wtal.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]

DATASET = {
    "name": "tiny",
    "format": "activitynet",
    "annotations": "data/gt.json",
    "train_subset": "validation",
    "test_subset": "test",
}


def write(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_two_level_chain_resolves_each_files_paths_beside_it(tmp_path, monkeypatch):
    root = write(tmp_path / "shared" / "root.yaml", {"results_dir": "out", "dataset": DATASET})
    mid = write(
        tmp_path / "group" / "mid.yaml",
        {"base": "../shared/root.yaml", "dataset": {"features": "feats"}},
    )
    top = write(
        tmp_path / "me" / "top.yaml",
        {"base": "../group/mid.yaml", "training": {"seed": 3}, "model": {"word_vectors": "w.txt"}},
    )
    monkeypatch.chdir(tmp_path / "shared")  # not the top file's folder: nothing changes
    loaded = load_layered_config(os.path.relpath(top, tmp_path / "shared"))
    config = loaded.config
    assert config["results_dir"] == str(tmp_path / "shared" / "out")
    assert config["dataset"]["annotations"] == str(tmp_path / "shared" / "data" / "gt.json")
    assert config["dataset"]["features"] == str(tmp_path / "group" / "feats")
    assert config["model"]["word_vectors"] == str(tmp_path / "me" / "w.txt")
    assert config["dataset"]["name"] == "tiny"  # inherited key by key
    assert config["training"]["seed"] == 3
    assert (
        config["training"]["iterations"]
        == validate_config({"dataset": DATASET})["training"]["iterations"]
    )  # schema defaults fill what no layer set
    assert loaded.files == (str(root), str(mid), str(top))  # applied order, absolute
    assert "base" not in config


def test_a_list_replaces_the_base_list_whole(tmp_path):
    base = write(tmp_path / "a.yaml", {"x": {"items": [1, 2, 3], "keep": True}})
    top = write(tmp_path / "b.yaml", {"base": "a.yaml", "x": {"items": [9]}})
    assert read_layers([top]).data == {"x": {"items": [9], "keep": True}}
    assert read_layers([base]).data == {"x": {"items": [1, 2, 3], "keep": True}}


def test_null_replaces_an_inherited_value(tmp_path):
    write(tmp_path / "base.yaml", {"dataset": {**DATASET, "features": "feats"}})
    top = write(tmp_path / "top.yaml", {"base": "base.yaml", "dataset": {"features": None}})
    config = load_config(top)
    assert config["dataset"]["features"] is None
    assert config["dataset"]["annotations"] == str(tmp_path / "data" / "gt.json")


def test_null_over_a_whole_section_replaces_it_and_the_schema_says_so(tmp_path):
    write(tmp_path / "base.yaml", {"dataset": DATASET, "training": {"seed": 1}})
    top = write(tmp_path / "top.yaml", {"base": "base.yaml", "training": None})
    assert read_layers([top]).data["training"] is None
    with pytest.raises(ConfigError, match=r"key 'training': None is not of type 'object'"):
        load_config(top)


def test_a_list_of_bases_applies_in_order_later_winning(tmp_path):
    write(tmp_path / "data.yaml", {"dataset": DATASET, "training": {"seed": 1, "iterations": 5}})
    write(tmp_path / "seed.yaml", {"training": {"seed": 2, "max_seqlen": 64}})
    top = write(tmp_path / "top.yaml", {"base": ["data.yaml", "seed.yaml"]})
    training = load_config(top)["training"]
    assert (training["seed"], training["iterations"], training["max_seqlen"]) == (2, 5, 64)
    flipped = write(tmp_path / "flip.yaml", {"base": ["seed.yaml", "data.yaml"]})
    assert load_config(flipped)["training"]["seed"] == 1
    mine = write(
        tmp_path / "mine.yaml", {"base": ["data.yaml", "seed.yaml"], "training": {"seed": 7}}
    )
    assert load_config(mine)["training"]["seed"] == 7  # the file itself wins over its bases


def test_a_base_shared_by_two_bases_is_applied_once(tmp_path):
    # common <- lr (sets seed 1), common <- other (sets nothing): other's base must not
    # reapply common's seed 0 over lr's seed 1.
    write(tmp_path / "common.yaml", {"dataset": DATASET, "training": {"seed": 0}})
    write(tmp_path / "lr.yaml", {"base": "common.yaml", "training": {"seed": 1}})
    write(tmp_path / "other.yaml", {"base": "common.yaml", "training": {"max_seqlen": 64}})
    top = write(tmp_path / "top.yaml", {"base": ["lr.yaml", "other.yaml"]})
    loaded = load_layered_config(top)
    assert loaded.config["training"]["seed"] == 1
    assert loaded.config["training"]["max_seqlen"] == 64
    assert [Path(f).name for f in loaded.files] == [
        "common.yaml",
        "lr.yaml",
        "other.yaml",
        "top.yaml",
    ]


def test_a_cycle_is_an_error_naming_its_files(tmp_path):
    a = write(tmp_path / "a.yaml", {"base": "sub/b.yaml", "dataset": DATASET})
    b = write(tmp_path / "sub" / "b.yaml", {"base": "../a.yaml"})
    with pytest.raises(ConfigError) as caught:
        load_config(a)
    assert str(caught.value) == f"{b}: base cycle: {a} -> {b} -> {a}"
    itself = write(tmp_path / "self.yaml", {"base": "self.yaml"})
    with pytest.raises(ConfigError, match=r"base cycle: .*self\.yaml -> .*self\.yaml$"):
        load_config(itself)


def test_a_missing_base_names_the_file_that_refers_to_it(tmp_path):
    write(tmp_path / "mid.yaml", {"base": "gone/root.yaml"})
    top = write(tmp_path / "exp" / "top.yaml", {"base": "../mid.yaml"})
    with pytest.raises(ConfigError) as caught:
        load_config(top)
    mid = os.path.normpath(tmp_path / "exp" / ".." / "mid.yaml")
    missing = tmp_path / "gone" / "root.yaml"
    assert str(caught.value) == f"{mid}: base 'gone/root.yaml': {missing} not found"


def test_a_base_that_is_not_a_path_is_named(tmp_path):
    top = write(tmp_path / "top.yaml", {"base": 3, "dataset": DATASET})
    with pytest.raises(ConfigError) as caught:
        load_config(top)
    assert str(caught.value) == (
        f"{top}: base must be a config file's path or a list of paths, not 3"
    )
    folder = write(tmp_path / "f.yaml", {"base": ".", "dataset": DATASET})
    with pytest.raises(ConfigError, match=r"base '\.': .* is a folder, not a config file"):
        load_config(folder)


def test_set_overrides_apply_over_every_layer(tmp_path, monkeypatch):
    write(tmp_path / "cfg" / "base.yaml", {"dataset": {**DATASET, "features": "feats"}})
    top = write(tmp_path / "cfg" / "top.yaml", {"base": "base.yaml", "training": {"seed": 3}})
    monkeypatch.chdir(tmp_path)
    overrides = parse_assignments(["training.seed=5", "dataset.features=mine"])
    config = load_config(top, overrides)
    assert config["training"]["seed"] == 5
    assert config["dataset"]["features"] == str(tmp_path / "mine")  # --set: from the cwd
    with pytest.raises(ConfigError, match=r"^--set base=\.\.\.: a base is named in a config"):
        load_config(top, {"base": "other.yaml"})


def test_the_merged_config_holds_no_base_and_validation_refuses_one(tmp_path):
    write(tmp_path / "base.yaml", {"dataset": DATASET})
    top = write(tmp_path / "top.yaml", {"base": "base.yaml"})
    assert "base" not in load_config(top)
    assert "base" not in read_layers([top]).data
    with pytest.raises(ConfigError, match="'base' is read when a config file is loaded"):
        validate_config({"base": "base.yaml", "dataset": DATASET}, "cfg")


def test_the_schema_validates_the_merged_result_not_each_layer(tmp_path):
    # Neither layer is complete alone: the base has no dataset.name, the top no dataset.
    incomplete = {key: value for key, value in DATASET.items() if key != "name"}
    write(tmp_path / "base.yaml", {"dataset": incomplete})
    top = write(tmp_path / "top.yaml", {"base": "base.yaml", "dataset": {"name": "mine"}})
    assert load_config(top)["dataset"]["name"] == "mine"
    nameless = write(tmp_path / "nameless.yaml", {"base": "base.yaml", "training": {"seed": 1}})
    with pytest.raises(ConfigError) as caught:
        load_config(nameless)
    base = tmp_path / "base.yaml"
    assert str(caught.value) == (
        # no file set the missing key: the error names the top file and the files merged
        f"{nameless}: dataset: 'name' is a required property [merged from {base} + {nameless}]"
    )


def test_an_error_in_an_inherited_key_names_the_file_that_set_it(tmp_path):
    base = write(tmp_path / "base.yaml", {"dataset": DATASET, "training": {"sed": 1}})
    top = write(tmp_path / "top.yaml", {"base": "base.yaml", "training": {"seed": "x"}})
    with pytest.raises(ConfigError) as caught:
        load_config(top)
    assert str(caught.value) == (
        f"{top}: unknown key 'training.sed' (did you mean 'seed'?) (set in {base}); "
        f"key 'training.seed': 'x' is not of type 'integer' [merged from {base} + {top}]"
    )


def test_a_shipped_config_as_the_only_base_gives_the_same_config(tmp_path):
    shipped = ROOT / "config" / "thumos14.yaml"
    top = write(tmp_path / "exp" / "top.yaml", {"base": os.path.relpath(shipped, tmp_path / "exp")})
    loaded = load_layered_config(top)
    assert loaded.config == load_config(shipped)
    assert loaded.files == (str(shipped), str(top))
    # and a layer changes only what it names
    seeded = write(tmp_path / "exp" / "seed.yaml", {"base": "top.yaml", "training": {"seed": 3}})
    changed = [
        k for k, v in load_config(seeded)["training"].items() if v != loaded.config["training"][k]
    ]
    assert changed == ["seed"]


def test_the_workflow_merges_each_files_bases_under_it(tmp_path):
    write(tmp_path / "config" / "base.yaml", {"results_dir": "out", "dataset": DATASET})
    user = write(tmp_path / "mine" / "user.yaml", {"base": "../config/base.yaml"})
    config = layered_config([user], {"training": {"seed": 4}}, workdir=tmp_path)
    assert config["dataset"]["annotations"] == "config/data/gt.json"  # beside base.yaml
    assert config["results_dir"] == "config/out"
    assert config["training"] == {"seed": 4}
    assert "base" not in config
    loaded = workflow_config([user], {"training": {"seed": 4}}, workdir=tmp_path)
    assert loaded.config["training"]["seed"] == 4
    assert loaded.files == (str(tmp_path / "config" / "base.yaml"), str(user))
    with pytest.raises(ConfigError) as caught:
        workflow_config([user], {"training": {"seed": "x"}}, workdir=tmp_path)
    assert "key 'training.seed': 'x' is not of type 'integer' (set in --config)" in str(
        caught.value
    )
    with pytest.raises(ConfigError, match=r"^--config base=\.\.\.:"):
        workflow_config([user], {"base": "x.yaml"}, workdir=tmp_path)
