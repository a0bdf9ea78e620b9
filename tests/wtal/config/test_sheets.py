"""Experiment sheets: checked by their schema, every shipped sheet's runs make valid configs,
bad sheets name the file (and the run), and the table shows the paper's numbers only beside
runs on the dataset the paper measured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from wtal.config.sheets import load_sheet, run_config
from wtal.errors import ConfigError
from wtal.report.sheet import run_folder, sheet_markdown

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = sorted((ROOT / "experiments").glob("*.yaml"))


def test_there_is_a_thumos14_sheet_and_a_cpu_variant_for_each_of_tables_3_to_8():
    names = {p.stem for p in SHIPPED}
    for table in range(3, 9):
        assert {f"table{table}", f"table{table}_cpu"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_sheet_makes_a_valid_config_for_every_run_and_seed(path):
    sheet = load_sheet(path)
    assert sheet.name == path.stem and len(sheet.seeds) == 5
    settings = set()
    for run in sheet.runs:
        config = run_config(sheet, run.name, sheet.seeds[-1])
        assert config["training"]["seed"] == sheet.seeds[-1]
        settings.add(
            json.dumps({k: v for k, v in config.items() if k != "training"}, sort_keys=True)
            + json.dumps({k: v for k, v in config["training"].items() if k != "seed"})
        )
    assert len(settings) == len(sheet.runs)  # no two runs of a sheet are the same setting
    cpu = path.stem.endswith("_cpu")
    assert (sheet.synthetic is not None) == cpu
    assert (sheet.published == "thumos14") == (not cpu)


def write(tmp_path, sheet, config=None):
    (tmp_path / "config.yaml").write_text(
        yaml.safe_dump(
            config or {"dataset": {"name": "toy", "format": "activitynet", "annotations": "a.json"}}
        )
    )
    path = tmp_path / "sheet.yaml"
    path.write_text(yaml.safe_dump(sheet))
    return path


SHEET = {"name": "s", "config": "config.yaml", "seeds": [0, 1], "runs": [{"name": "a"}]}


def test_a_run_config_is_the_sheet_config_plus_the_run_plus_the_seed(tmp_path):
    path = write(
        tmp_path, {**SHEET, "runs": [{"name": "a", "set": {"model": {"mode": "baseline"}}}]}
    )
    config = run_config(load_sheet(path), "a", 1)
    assert config["model"]["mode"] == "baseline" and config["training"]["seed"] == 1
    assert config["dataset"]["annotations"] == str(tmp_path / "a.json")  # beside its file


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"runs": [{"name": "a"}, {"name": "a"}]}, "run names must be unique: a repeated"),
        ({"config": "absent.yaml"}, "config: 'absent.yaml'"),
        ({"seeds": []}, "seeds"),
        ({"runs": [{"name": "a", "sett": {}}]}, "unknown key 'runs.0.sett'"),
        ({"name": "a b"}, "key 'name'"),
    ],
)
def test_a_bad_sheet_is_refused_naming_the_file(tmp_path, change, message):
    path = write(tmp_path, {**SHEET, **change})
    with pytest.raises(ConfigError, match=r"sheet\.yaml") as error:
        load_sheet(path)
    assert message in str(error.value)


def test_a_bad_run_override_names_the_sheet_and_the_run(tmp_path):
    path = write(tmp_path, {**SHEET, "runs": [{"name": "a", "set": {"model": {"mode": "cnn"}}}]})
    with pytest.raises(ConfigError, match=r"sheet\.yaml: run 'a': .*model\.mode"):
        run_config(load_sheet(path), "a", 0)
    with pytest.raises(ConfigError, match="no run named 'b'"):
        run_config(load_sheet(path), "b", 0)


def fake_run(folder: Path, config: dict, average: float) -> None:
    """A `wtal train --test` folder with the two files wtal compare reads."""
    folder.mkdir(parents=True)
    (folder / "training.json").write_text(
        json.dumps({"config": config, "seed": config["training"]["seed"]})
    )
    selected = {
        "protocol": {"units": "seconds"},
        "tiou": [0.3, 0.5, 0.7],
        "mAP": [average + 0.1, average, average - 0.1],
        "average_mAP": average,
    }
    (folder / "test_metrics.json").write_text(json.dumps({"selected": selected}))


@pytest.mark.parametrize(("dataset", "shown"), [("thumos14", True), ("synthetic", False)])
def test_the_paper_numbers_are_shown_only_on_their_dataset(tmp_path, dataset, shown):
    sheet_data = {
        **SHEET,
        "published": "thumos14",
        "runs": [
            {
                "name": "base",
                "label": "Baseline",
                "paper": {"tiou": [0.3, 0.5, 0.7], "mAP": [54.5, 36.5, 13.0], "average": 34.9},
            },
            {"name": "ours", "set": {"model": {"mode": "baseline"}}},
        ],
    }
    sheet = load_sheet(write(tmp_path, sheet_data))
    root = tmp_path / "runs"
    for run, offset in (("base", 0.0), ("ours", 0.05)):
        for seed in sheet.seeds:
            config = {
                "dataset": {"name": dataset},
                "training": {"seed": seed},
                "model": {"run": run},
            }
            fake_run(run_folder(root, run, seed), config, 0.3 + offset + 0.01 * seed)
    table, data = sheet_markdown(sheet, root)
    assert "| Baseline (reference) | 0,1 | 30.5 ± 0.7 |" in table
    assert (
        "| Baseline | 40.5 / 54.5 | 30.5 / 36.5 | 20.5 / 13.0 | 30.5 / 34.9 |" in table
    ) == shown
    assert ("34.9" in table) == shown
    assert (data["settings"][0]["paper"] is not None) == shown
    assert [s["run"] for s in data["settings"]] == ["base", "ours"]
    assert data["settings"][1]["paired_vs_reference"]["mean"] == pytest.approx(0.05)
