"""The Snakemake workflow: dry run, lint, a real run on a tiny dataset, and what reruns."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.wtal.data.fixtures import write_wtalc

ROOT = Path(__file__).resolve().parents[2]
SNAKEMAKE = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or shutil.which(
    "snakemake"
)


def snakemake(*args: str, config: Path | None, cores: int = 1) -> subprocess.CompletedProcess:
    if SNAKEMAKE is None:
        pytest.skip("snakemake is not installed in this environment")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    # --configfile takes several files: it goes last so targets are not read as configs.
    configfile = ["--configfile", str(config)] if config is not None else []
    return subprocess.run(
        [SNAKEMAKE, *args, "--cores", str(cores), *configfile],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


@pytest.fixture
def tiny_config(tmp_path: Path) -> Path:
    """The dataset stage of a W-TALC folder without features (training would need them)."""
    folder = write_wtalc(tmp_path / "annotations", with_features=False)
    config = {
        "results_dir": str(tmp_path / "results"),
        "dataset": {
            "name": "tiny",
            "format": "wtalc",
            "annotations": str(folder),
            "train_subset": "validation",
            "test_subset": "test",
        },
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_lint_finds_no_rule_problems(tiny_config):
    result = snakemake("--lint", config=tiny_config)
    output = result.stdout + result.stderr
    assert "Lints for" not in output, output
    assert result.returncode == 0, output


def test_the_default_config_is_the_demo_and_a_configfile_replaces_it(tiny_config):
    demo = snakemake("-n", "--forceall", "all", config=None)  # whatever results/ holds
    assert demo.returncode == 0, demo.stderr
    assert "demo_videos" in demo.stdout and "features_chunk" in demo.stdout
    released = snakemake("-n", "all", config=tiny_config)
    assert released.returncode == 0, released.stderr
    # Starting from released features: no video stage, and nothing of the demo leaks in.
    assert "demo_videos" not in released.stdout and "_chunk" not in released.stdout
    assert "rule train:" in released.stdout and "rule report:" in released.stdout


def test_dataset_stage_writes_ground_truth_and_summary_then_only_reruns_what_changed(
    tiny_config, tmp_path
):
    out = tmp_path / "results" / "tiny"
    targets = [str(out / "ground_truth.json"), str(out / "dataset_summary.json")]
    result = snakemake(*targets, config=tiny_config)
    assert result.returncode == 0, result.stderr
    gt = json.loads((out / "ground_truth.json").read_text())
    assert set(gt["database"]) == {"v_train", "v_test_empty", "v_test_bad"}
    summary = json.loads((out / "dataset_summary.json").read_text())
    assert summary["subsets"]["test"]["videos"] == 2
    assert (out / "logs" / "ground_truth.log").read_text().startswith("wrote ")

    assert "Nothing to be done" in snakemake("-n", *targets, config=tiny_config).stdout
    os.utime(tmp_path / "annotations" / "labels.npy")  # touched, same content: no rerun
    assert "Nothing to be done" in snakemake("-n", *targets, config=tiny_config).stdout
    durations = tmp_path / "annotations" / "duration.npy"  # an annotation really changed
    np.save(durations, np.load(durations) + 1.0)
    rerun = snakemake("-n", *targets, config=tiny_config)
    assert "ground_truth" in rerun.stdout and "dataset_summary" in rerun.stdout


def test_unknown_config_key_stops_the_workflow(tiny_config):
    bad = yaml.safe_load(tiny_config.read_text())
    bad["dataset"]["anotations"] = bad["dataset"].pop("annotations")
    tiny_config.write_text(yaml.safe_dump(bad))
    result = snakemake("-n", "all", config=tiny_config)
    assert result.returncode != 0
    assert (
        "unknown key 'dataset.anotations' (did you mean 'annotations'?)"
        in result.stdout + result.stderr
    )


def test_missing_annotations_are_a_clear_error(tiny_config, tmp_path):
    shutil.rmtree(tmp_path / "annotations")
    result = snakemake("-n", "all", config=tiny_config)
    assert result.returncode != 0
    assert (
        "missing" in result.stdout + result.stderr
        and "dataset.annotations" in result.stdout + result.stderr
    )


def test_a_video_id_that_reads_as_a_wildcard_is_named(tmp_path):
    """An id with braces broke the DAG with a WildcardError that named no video."""
    videos = tmp_path / "videos"
    videos.mkdir()
    entry = {"subset": "validation", "duration": 10.0,
             "annotations": [{"segment": [1.0, 2.0], "label": "Jump"}]}  # fmt: skip
    annotations = tmp_path / "annotations.json"
    annotations.write_text(json.dumps({"database": {"v{video}": entry}}))
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "results_dir": str(tmp_path / "results"),
        "dataset": {"name": "ids", "format": "activitynet", "annotations": str(annotations),
                    "videos": str(videos), "train_subset": "validation", "test_subset": "test"},
    }))  # fmt: skip
    result = snakemake("-n", "all", config=config)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"{annotations}: database/v{{video}}: video id 'v{{video}}' holds a brace" in output
    assert "WildcardError" not in output


def test_the_videos_of_a_subset_spelt_the_authors_way_are_planned(tmp_path):
    """The authors' ActivityNet1.3 files say train / val: a config saying training /
    validation plans their videos (the plan compared the spellings as they were)."""
    videos = tmp_path / "videos"
    videos.mkdir()
    entry = {"duration": 10.0, "annotations": [{"segment": [1.0, 2.0], "label": "Jump"}]}
    database = {"a": {**entry, "subset": "train"}, "b": {**entry, "subset": "val"},
                "c": {**entry, "subset": "testing"}}  # fmt: skip
    for video in database:
        (videos / f"{video}.mp4").write_bytes(b"")
    annotations = tmp_path / "annotations.json"
    annotations.write_text(json.dumps({"database": database}))
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "results_dir": str(tmp_path / "results"),
        "dataset": {"name": "spell", "format": "activitynet", "annotations": str(annotations),
                    "videos": str(videos), "train_subset": "training",
                    "test_subset": "validation"},
        "extraction": {"videos_per_job": 1},
    }))  # fmt: skip
    result = snakemake("-n", "decode", config=config)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "decode_chunk        2" in result.stdout + result.stderr
