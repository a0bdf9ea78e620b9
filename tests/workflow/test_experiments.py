"""`snakemake experiments` on an experiment sheet: one training job per run x seed, the
table at the end, nothing to do on a second run, and a changed run retrains that run only."""

from __future__ import annotations

import json
import re

import yaml

from tests.workflow.test_workflow import ROOT, snakemake


def jobs(dry_run: str, rule: str) -> int:
    """The count of ``rule`` in a dry run's job table."""
    found = re.search(rf"^{rule}\s+(\d+)$", dry_run, re.M)
    return int(found.group(1)) if found else 0


def write_sheet(tmp_path, tsm_set):
    config = {
        "base": str(ROOT / "config" / "experiments_cpu.yaml"),
        "dataset": {
            "annotations": str(tmp_path / "data" / "annotations.json"),
            "features": str(tmp_path / "data" / "features"),
        },
        "training": {"iterations": 2, "checkpoint_every": 2, "log_every": 1},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    sheet = {
        "name": "mini",
        "title": "mini sheet",
        "config": "config.yaml",
        "synthetic": {"size": "tiny", "feature_dim": 32},
        "published": "thumos14",
        "seeds": [0, 1],
        "runs": [
            {
                "name": "baseline",
                "set": {"model": {"mode": "baseline", "vlc": {"enabled": False}}},
                "paper": {"tiou": [0.3, 0.5, 0.7], "mAP": [54.5, 36.5, 13.0], "average": 34.9},
            },
            {"name": "tsm", "set": tsm_set},
        ],
    }
    (tmp_path / "mini.yaml").write_text(yaml.safe_dump(sheet))
    workflow = {
        "base": str(ROOT / "config" / "config.yaml"),  # the workflow's own default config
        "results_dir": str(tmp_path / "results"),
        "sheet": str(tmp_path / "mini.yaml"),
    }
    (tmp_path / "workflow.yaml").write_text(yaml.safe_dump(workflow))
    return tmp_path / "workflow.yaml"


def test_a_sheet_runs_end_to_end_then_does_nothing_and_reruns_only_a_changed_run(tmp_path):
    config = write_sheet(tmp_path, {"model": {"vlc": {"enabled": False}}})
    dry = snakemake("-n", "experiments", config=config)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert jobs(dry.stdout, "experiment_train") == 4  # 2 runs x 2 seeds
    made = snakemake("experiments", config=config, cores=2)
    assert made.returncode == 0, made.stdout + made.stderr
    out = tmp_path / "results" / "experiments" / "mini"
    table = (out / "table.md").read_text()
    assert "| baseline (reference) | 0,1 |" in table
    assert '| tsm (model.mode="text") | 0,1 |' in table
    # the runs are on the synthetic set: the paper's THUMOS14 numbers are not put beside them
    assert "are not shown" in table and "34.9" not in table
    data = json.loads((out / "table.json").read_text())
    assert [s["run"] for s in data["settings"]] == ["baseline", "tsm"]
    assert all(s["paper"] is None for s in data["settings"])
    assert (out / "table.png").stat().st_size > 0
    again = snakemake("-n", "experiments", config=config)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
    # a changed setting of one run retrains that run's seeds, and the table
    write_sheet(tmp_path, {"model": {"vlc": {"enabled": False}, "temperature": 2.0}})
    changed = snakemake("-n", "experiments", config=config)
    assert changed.returncode == 0, changed.stdout + changed.stderr
    assert jobs(changed.stdout, "experiment_train") == 2
    assert "tsm/seed0/training.json" in changed.stdout
    assert "baseline/seed0/training.json" not in changed.stdout


def test_the_experiments_target_without_a_sheet_says_how_to_name_one(tmp_path):
    workflow = {"base": str(ROOT / "config" / "config.yaml"), "results_dir": str(tmp_path)}
    (tmp_path / "workflow.yaml").write_text(yaml.safe_dump(workflow))
    result = snakemake("-n", "experiments", config=tmp_path / "workflow.yaml")
    assert result.returncode != 0
    assert "--config sheet=experiments/<sheet>.yaml" in result.stdout + result.stderr


def test_lint_finds_no_rule_problems_with_a_sheet(tmp_path):
    workflow = {
        "base": str(ROOT / "config" / "config.yaml"),
        "results_dir": str(tmp_path),
        "sheet": str(ROOT / "experiments" / "table8_cpu.yaml"),
    }
    (tmp_path / "workflow.yaml").write_text(yaml.safe_dump(workflow))
    result = snakemake("--lint", config=tmp_path / "workflow.yaml")
    output = result.stdout + result.stderr
    assert "Lints for" not in output, output
    assert result.returncode == 0, output
