"""A workflow run forced or killed at any stage, then run again, ends with the files of a clean
run: the train job resumes or finishes its run instead of failing on a missing output, and
nothing a finished job made is lost."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml

from tests.workflow.test_workflow import ROOT, SNAKEMAKE, snakemake
from wtal.generate.synthetic_files import generate

#: The files a run ends with, compared byte for byte with the clean run's (the report names
#: the results folder, so every run of this module writes to the same one).
FILES = (
    "report.md",
    "metrics.json",
    "untrained/metrics.json",
    "infer/predictions.json",
    "train/training.json",
    "train/metrics.jsonl",
    "train/checkpoints/selected.pt",
    "train/checkpoints/untrained.pt",
    "ground_truth.json",
    "dataset_summary.json",
)
#: Forcing a rule reruns it and everything after it: train (then infer, evaluate, report) and
#: the two dataset rules (then evaluate and report) cover every stage.
RULES = ("train", "ground_truth", "dataset_summary")
ITERATIONS = 40


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("rerun")
    annotations = generate(root / "data", "tiny", 0, 32)
    config = {
        "base": str(ROOT / "config" / "experiments_cpu.yaml"),
        "results_dir": str(root / "results"),
        "dataset": {"name": "rerun", "annotations": str(annotations),
                    "features": str(annotations.parent / "features")},
        "training": {"iterations": ITERATIONS, "checkpoint_every": 4, "log_every": 1},
    }  # fmt: skip
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result = snakemake("all", config=path, cores=2)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return root, path, files(root)


def files(root: Path) -> dict[str, bytes]:
    out = root / "results" / "rerun"
    return {name: (out / name).read_bytes() for name in FILES}


def assert_nothing_left_to_do(config: Path) -> None:
    assert "Nothing to be done" in snakemake("-n", "all", config=config).stdout


@pytest.mark.slow
@pytest.mark.parametrize("rule", RULES)
def test_a_forced_rule_reruns_and_ends_with_the_files_of_the_clean_run(clean_run, rule):
    """--forcerun train failed with MissingOutputException (untrained.pt not written again on
    resume) and deleted training.json and the selected checkpoint."""
    root, config, clean = clean_run
    result = snakemake("--forcerun", rule, "all", config=config, cores=2)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert files(root) == clean
    assert_nothing_left_to_do(config)


def kill_when(config: Path, appears: Callable[[], bool], timeout: float = 600) -> None:
    """Start `snakemake all` and kill it as a node dies (SIGKILL to Snakemake and its jobs)
    as soon as ``appears()``; then unlock the folder, as the user must."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.Popen(
        [SNAKEMAKE, "all", "--cores", "2", "--configfile", str(config)],
        cwd=ROOT, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + timeout
    try:
        while not appears():
            assert run.poll() is None, "the run ended before the moment to kill it"
            assert time.monotonic() < deadline, f"the moment did not come in {timeout} s"
            time.sleep(0.01)
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    assert snakemake("--unlock", config=config).returncode == 0


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["train/checkpoints/last.pt", "ground_truth.json"])
def test_a_run_killed_at_a_stage_then_run_again_ends_as_the_clean_run(clean_run, moment):
    """Killed as a node dies (SIGKILL to Snakemake and its jobs), then unlocked and run again:
    the killed jobs rerun (training resumes from last.pt) and the files are the clean run's."""
    root, config, clean = clean_run
    shutil.rmtree(root / "results")
    out = root / "results" / "rerun"
    kill_when(config, (out / moment).exists)
    if moment.endswith("last.pt"):  # the kill landed mid-training
        assert not (out / "train" / "training.json").exists()
        assert torch.load(out / moment, weights_only=False)["iteration"] < ITERATIONS
    result = snakemake("all", config=config, cores=2)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert files(root) == clean
    assert_nothing_left_to_do(config)
    summary = json.loads((out / "train" / "training.json").read_text())
    assert summary["iterations_done"] == ITERATIONS
