"""``wtal train`` from the command line: every input it will need is checked before the first
iteration, each refusal is one line naming the option or the file, Ctrl-C says what was kept
and the rerun resumes to the same model as an uninterrupted run, and a damaged ``last.pt``
says how to recover (and the advice works)."""

from __future__ import annotations

import json
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from tests.wtal.test_cli import run_cli
from wtal.cli import main
from wtal.generate.synthetic_files import generate

#: Small and fast: a few iterations of the default model on 64-d features.
TRAINING = {
    "iterations": 4,
    "max_seqlen": 16,
    "checkpoint_every": 1,
    "log_every": 1,
    "selection": "last",
    "device": "cpu",
}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli_train")
    generate(root / "data", "tiny", seed=2, feature_dim=64)
    return root / "data"


def write_config(folder: Path, data: Path, dataset=None, training=None, model=None) -> Path:
    config = {
        "results_dir": str(folder / "results"),
        "dataset": {
            "name": "tiny",
            "format": "activitynet",
            "annotations": str(data / "annotations.json"),
            "features": str(data / "features"),
            "train_subset": "validation",
            "test_subset": "test",
            **(dataset or {}),
        },
        "training": {**TRAINING, **(training or {})},
        "model": {"vlc": {"vocabulary": "sentences"}, **(model or {})},
        "evaluation": {"ambiguous_filter": False},
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def one_line_error(result: subprocess.CompletedProcess, *parts: str, status: int = 1) -> str:
    """The single stderr line of a refused command, checked to hold every one of ``parts``."""
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("flag", ["--test", "--test-every-checkpoint"])
def test_a_missing_test_subset_is_refused_before_training(data, tmp_path, flag):
    config = write_config(tmp_path, data, dataset={"test_subset": "testing"})
    out = tmp_path / "run"
    result = run_cli("train", "--config", str(config), "--output", str(out), flag)
    one_line_error(result, str(config), "dataset.test_subset 'testing'", "no such subset", flag)
    assert "validation, test" in result.stderr  # the subsets it has
    assert not out.exists()  # not one iteration was trained


def test_a_missing_train_subset_is_refused_naming_the_config(data, tmp_path):
    config = write_config(tmp_path, data, dataset={"train_subset": "train"})
    result = run_cli("train", "--config", str(config), "--output", str(tmp_path / "run"))
    one_line_error(result, str(config), "dataset.train_subset 'train'", "no such subset")


@pytest.mark.parametrize(
    "args, parts",
    [
        (["--device", "gpu"], ["--device gpu", "not a device", "cuda:N"]),
        (["--device", "cuda:x"], ["--device cuda:x", "not a device"]),
        (["--set", "training.device=gpu"], ["--set training.device gpu", "not a device"]),
        (["--iterations", "0"], ["--iterations 0", "must be 1 or more"]),
        (["--iterations", "-5"], ["--iterations -5", "must be 1 or more"]),
    ],
)
def test_bad_options_are_refused_before_the_data_is_read(data, tmp_path, args, parts):
    config = write_config(tmp_path, data)
    out = tmp_path / "run"
    result = run_cli("train", "--config", str(config), "--output", str(out), *args)
    line = one_line_error(result, *parts)
    assert str(config) not in line  # the option is at fault, not the file
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this PyTorch has CUDA")
def test_cuda_on_a_pytorch_without_cuda_is_refused(data, tmp_path):
    config = write_config(tmp_path, data)
    out = tmp_path / "run"
    result = run_cli("train", "--config", str(config), "--output", str(out), "--device", "cuda")
    one_line_error(result, "--device cuda", "built without CUDA", torch.__version__)
    assert not out.exists()
    in_config = write_config(tmp_path, data, training={"device": "cuda"})
    result = run_cli("train", "--config", str(in_config), "--output", str(out))
    one_line_error(result, f"{in_config}: training.device cuda", "built without CUDA")


def test_an_output_that_is_a_file_is_refused(data, tmp_path):
    config = write_config(tmp_path, data)
    taken = tmp_path / "taken.txt"
    taken.write_text("someone's notes\n")
    result = run_cli("train", "--config", str(config), "--output", str(taken))
    one_line_error(result, f"{taken}: --output must be a folder")
    assert taken.read_text() == "someone's notes\n"


def test_config_files_that_cannot_be_read_are_named(data, tmp_path):
    result = run_cli("train", "--config", str(tmp_path))
    one_line_error(result, f"{tmp_path}: is a folder, not a config file")
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes("results_dir: r\u00e9sultats\n".encode("latin-1"))
    result = run_cli("train", "--config", str(latin))
    one_line_error(result, f"{latin}: not UTF-8 text", "0xe9")


def test_a_misspelt_set_key_blames_set_not_the_config_file(data, tmp_path):
    config = write_config(tmp_path, data)
    result = run_cli("train", "--config", str(config), "--set", "training.sed=1")
    line = one_line_error(result, "--set training.sed=...", "did you mean 'seed'")
    assert str(config) not in line


#: Long enough that the interrupt lands mid-run on a fast, quiet machine too.
ITERATIONS = 30


def test_ctrl_c_keeps_the_last_checkpoint_and_the_rerun_resumes_exactly(data, tmp_path):
    config = write_config(tmp_path, data, training={"iterations": ITERATIONS})
    out = tmp_path / "run"
    command = [sys.executable, "-m", "wtal.cli", "train", "--config", str(config)]
    command += ["--output", str(out), "--no-progress"]
    last = out / "checkpoints" / "last.pt"
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C must reach the run even when this test runs in a background job (whose
        # shell may have set SIGINT to ignored, a disposition children inherit).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 300
    while not last.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(random.Random(12).uniform(0.0, 0.4))  # somewhere in the next iterations
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    interrupted = subprocess.CompletedProcess(command, process.returncode, "", stderr)
    line = one_line_error(interrupted, status=130)
    found = re.fullmatch(
        r"wtal train: interrupted at iteration (\d+); the last checkpoint \(iteration (\d+), "
        r"(.+)\) is kept; rerun the same command to resume",
        line,
    )
    assert found, line
    at, kept, path = int(found[1]), int(found[2]), Path(found[3])
    assert path == last and 1 <= kept <= at < ITERATIONS
    assert torch.load(last, weights_only=True)["iteration"] == kept  # what it says is kept

    resumed = subprocess.run(command, capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert f"trained {ITERATIONS} iterations" in resumed.stdout

    reference = tmp_path / "reference"
    assert (
        main(["train", "--config", str(config), "--output", str(reference), "--no-progress"]) == 0
    )
    a = torch.load(last, weights_only=True)
    b = torch.load(reference / "checkpoints" / "last.pt", weights_only=True)
    assert a["iteration"] == b["iteration"] == ITERATIONS
    for part in ("model", "vlc"):
        assert a[part].keys() == b[part].keys()
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part]), part
    log = (out / "metrics.jsonl").read_text()
    assert log == (reference / "metrics.jsonl").read_text()  # no row lost or repeated


@pytest.fixture(scope="module")
def finished_run(data, tmp_path_factory) -> tuple[Path, Path]:
    """A two-iteration run (its config and its output folder)."""
    root = tmp_path_factory.mktemp("finished")
    config = write_config(root, data, training={"iterations": 2})
    out = root / "run"
    assert main(["train", "--config", str(config), "--output", str(out), "--no-progress"]) == 0
    return config, out


def test_a_truncated_last_checkpoint_says_how_to_recover_and_the_advice_works(
    finished_run, tmp_path
):
    config, original = finished_run
    out = tmp_path / "run"
    shutil.copytree(original, out)
    last = out / "checkpoints" / "last.pt"
    whole = last.read_bytes()
    last.write_bytes(whole[: len(whole) // 2])  # the disk filled up, a copy was cut short
    command = ["train", "--config", str(config), "--output", str(out), "--no-progress"]
    result = run_cli(*command)
    line = one_line_error(result, f"{last}: cannot resume from it", "truncated or damaged")
    assert "delete it" in line and "--restart-on-change" in line
    assert "weights_only" not in line

    restarted = run_cli(*command, "--restart-on-change")
    assert restarted.returncode == 0, restarted.stderr
    assert "discarding the run, starting afresh" in restarted.stderr
    assert torch.load(last, weights_only=True)["iteration"] == 2

    last.unlink()  # the other advice: delete it (the rest of the run's files are still there)
    assert run_cli(*command).returncode == 0
    assert torch.load(last, weights_only=True)["iteration"] == 2


@pytest.mark.parametrize(
    "content, problem",
    [
        ([1, 2, 3], "it holds a list, not a dictionary"),
        ({"iteration": 2, "tsm": {}}, "no 'config', 'classes', 'feature_dim'"),
    ],
)
def test_a_last_checkpoint_of_the_wrong_structure_is_named(
    finished_run, tmp_path, content, problem
):
    config, original = finished_run
    out = tmp_path / "run"
    shutil.copytree(original, out)
    last = out / "checkpoints" / "last.pt"
    torch.save(content, last)
    result = run_cli("train", "--config", str(config), "--output", str(out))
    one_line_error(result, str(last), f"not a wtal checkpoint ({problem}")


def test_a_test_subset_without_instances_is_refused_before_training(data, tmp_path):
    # Its mAP is undefined: a day of training must not end in "average mAP n/a" (or a crash).
    annotations = json.loads((data / "annotations.json").read_text())
    for entry in annotations["database"].values():
        if entry["subset"] == "test":
            entry["annotations"] = []
    stripped = tmp_path / "annotations.json"
    stripped.write_text(json.dumps(annotations))
    config = write_config(tmp_path, data, dataset={"annotations": str(stripped)})
    out = tmp_path / "run"
    result = run_cli("train", "--config", str(config), "--output", str(out), "--test")
    one_line_error(result, "dataset.test_subset 'test'", "has annotated instances", "undefined")
    assert not out.exists()


def test_a_held_out_part_without_instances_is_refused_before_training(data, tmp_path):
    annotations = json.loads((data / "annotations.json").read_text())
    for entry in annotations["database"].values():
        if entry["subset"] == "validation":  # the training subset: weak labels kept
            entry["annotations"] = []
    stripped = tmp_path / "annotations.json"
    stripped.write_text(json.dumps(annotations))
    config = write_config(
        tmp_path, data, dataset={"annotations": str(stripped)}, training={"selection": "validation"}
    )
    result = run_cli("train", "--config", str(config), "--output", str(tmp_path / "run"))
    one_line_error(result, "training.selection: validation", "undefined", "selection: last")
