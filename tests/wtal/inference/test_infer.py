"""``wtal infer`` end to end on the tiny synthetic set: its files, its numbers equal to what
training logged for the same checkpoint, ``wtal evaluate`` on its files agreeing, and clear
errors for checkpoints that do not fit the data."""

from __future__ import annotations

import argparse
import csv
import json

import pytest
import torch
import yaml

from tests.wtal.test_cli import run_cli
from tests.wtal.training.toy import toy_dataset
from wtal.cli import main
from wtal.errors import InputFileError
from wtal.generate.synthetic_files import generate
from wtal.inference.run import check_compatible
from wtal.models.checkpoint import load_model


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("infer")
    annotations = generate(root / "data", "tiny", seed=1, feature_dim=64)
    config = {
        "results_dir": str(root / "results"),
        "dataset": {
            "name": "tiny",
            "format": "activitynet",
            "annotations": str(annotations),
            "features": str(root / "data" / "features"),
            "train_subset": "validation",
            "test_subset": "test",
        },
        "training": {
            "iterations": 4,
            "max_seqlen": 32,
            "checkpoint_every": 2,
            "selection": "validation",
            "device": "cpu",
        },
        "evaluation": {"ambiguous_filter": False},
    }
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    command = ["train", "--config", str(path), "--no-progress", "--test-every-checkpoint"]
    assert main([*command, "--set", "training.seed=3", "--set", "model.vlc.template=a [CLS]"]) == 0
    return root


def test_command_line_overrides_are_used_and_recorded(trained, capsys):
    summary = json.loads((trained / "results" / "tiny" / "train" / "training.json").read_text())
    assert summary["seed"] == 3
    assert summary["config"]["training"]["seed"] == 3
    assert summary["config"]["model"]["vlc"]["template"] == "a [CLS]"
    assert summary["config"]["training"]["iterations"] == 4  # from the file
    assert summary["config"]["training"]["keep_snapshots"] is True  # --test-every-checkpoint
    report = json.loads((trained / "results" / "tiny" / "train" / "test_metrics.json").read_text())
    assert [row["iteration"] for row in report["test_selected"]["all"]] == [2, 4]
    assert report["test_selected"]["selection"].startswith("TEST-SELECTED")
    config = str(trained / "config.yaml")
    for bad, message in (
        ("training.sed=1", "training.sed"),  # the schema names a misspelt key
        ("training.seed", "KEY.PATH=VALUE"),
        ("model.mode=convolution", "model.mode"),
    ):
        assert main(["train", "--config", config, "--no-progress", "--set", bad]) == 1
        assert message in capsys.readouterr().err


def test_infer_reproduces_the_training_log_and_the_evaluator(trained, capsys):
    root = trained
    train_dir = root / "results" / "tiny" / "train"
    checkpoint = train_dir / "checkpoints" / "best.pt"
    out = root / "infer"
    args = ["--checkpoint", str(checkpoint), "--output", str(out), "--timelines", "2"]
    code = main(["infer", *args, "--no-progress"])
    assert code == 0
    assert "mAP (%)" in capsys.readouterr().out
    logged = json.loads((train_dir / "test_metrics.json").read_text())["selected"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["mAP"] == logged["mAP"]  # exactly: the same path, the same checkpoint
    assert metrics["checkpoint"]["iteration"] == logged["checkpoint"]["iteration"]
    rates = metrics["foreground_classification"]
    assert 0 <= rates["false_positive_rate"] <= 1 and 0 <= rates["false_negative_rate"] <= 1
    assert "| mAP@0.1 |" in (out / "metrics.md").read_text()

    # The evaluator, given only the written files, agrees.
    again = root / "again.json"
    assert main(
        [
            "evaluate",
            "--ground-truth", str(out / "ground_truth.json"),
            "--predictions", str(out / "predictions.json"),
            "--output", str(again),
        ]
    ) == 0  # fmt: skip
    assert json.loads(again.read_text())["mAP"] == metrics["mAP"]

    # The CSV holds the same detections as the JSON.
    predictions = json.loads((out / "predictions.json").read_text())
    rows = list(csv.DictReader((out / "predictions.csv").open()))
    assert len(rows) == sum(len(v) for v in predictions["results"].values())
    first_video = next(iter(predictions["results"]))
    best = max(predictions["results"][first_video], key=lambda r: r["score"])
    row = next(r for r in rows if r["video_id"] == first_video)
    assert row["label"] == best["label"]
    assert float(row["start"]) == pytest.approx(best["segment"][0], abs=1e-3)
    figures = out / "figures"
    assert (figures / "precision_recall.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (figures / "class_ap.png").is_file()
    assert len(list((figures / "timelines").glob("*.png"))) == 2
    provenance = json.loads((out / "infer.json").read_text())
    assert len(provenance["checkpoint"]["sha256"]) == 64
    assert provenance["subset"] == "test"


def test_a_checkpoint_for_other_classes_or_sizes_is_refused(trained):
    root = trained
    loaded = load_model(root / "results" / "tiny" / "train" / "checkpoints" / "last.pt")
    with pytest.raises(InputFileError, match="classes that do not match dataset 'toy'"):
        check_compatible(loaded, toy_dataset(dim=64))
    same_classes = toy_dataset(dim=32)
    same_classes = type(same_classes)("toy", loaded.classes, same_classes.videos)
    with pytest.raises(InputFileError, match=r"trained on 64-d features.*has 32-d features"):
        check_compatible(loaded, same_classes)


def test_missing_checkpoint_is_a_clear_error(tmp_path, capsys):
    assert main(["infer", "--checkpoint", str(tmp_path / "nope.pt")]) == 1
    err = capsys.readouterr().err
    assert "nope.pt" in err and "checkpoint not found" in err


def test_a_file_that_is_not_a_checkpoint_is_a_clear_error(tmp_path, capsys):
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"not a checkpoint at all")
    assert main(["infer", "--checkpoint", str(bogus)]) == 1
    err = capsys.readouterr().err
    assert "bogus.pt: not a wtal checkpoint (not a PyTorch file, or a damaged one" in err
    assert "weights_only" not in err


def test_a_checkpoint_from_before_the_authors_class_queries_is_refused(trained, tmp_path, capsys):
    import torch

    path = trained / "results" / "tiny" / "train" / "checkpoints" / "untrained.pt"
    state = torch.load(path, weights_only=True)
    # Earlier versions kept one position table shared by all classes: (tokens, width).
    state["model"]["text.positions"] = state["model"]["text.positions"][0].clone()
    old = tmp_path / "old.pt"
    torch.save(state, old)
    assert main(["infer", "--checkpoint", str(old), "--output", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "old.pt" in err and "must be retrained" in err and "Traceback" not in err


def one_line(result, *parts):
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert all(part in lines[0] for part in parts), lines[0]
    return lines[0]


def checkpoint_contents(trained):
    """Valid torch files that are not wtal checkpoints, and what the error must say."""
    good = torch.load(
        trained / "results" / "tiny" / "train" / "checkpoints" / "best.pt", weights_only=True
    )
    no_classes = {k: v for k, v in good.items() if k != "classes"}
    return {
        "a list": ([good["model"]], "(it holds a list, not a dictionary)"),
        "no classes": (no_classes, "(no 'classes')"),
        "wrong type": ({**good, "feature_dim": "64"}, "('feature_dim' is a str)"),
        "no model": ({**good, "config": {"dataset": {}}}, "(its config has no model section"),
        "a pickle": (
            {**good, "extra": argparse.Namespace(run="rm -rf")},
            "(it holds objects other than tensors and plain values (Unsupported global: "
            "GLOBAL argparse.Namespace))",
        ),
    }


@pytest.mark.parametrize("case", ["a list", "no classes", "wrong type", "no model", "a pickle"])
def test_a_checkpoint_of_the_wrong_structure_is_one_line_naming_the_file(trained, tmp_path, case):
    content, problem = checkpoint_contents(trained)[case]
    path = tmp_path / "other.pt"
    torch.save(content, path)
    result = run_cli("infer", "--checkpoint", str(path), "--output", str(tmp_path / "out"))
    line = one_line(result, f"{path}: not a wtal checkpoint {problem}")
    assert "weights_only" not in line  # never the advice to run the file's pickles


@pytest.mark.parametrize(
    "args, parts",
    [
        (["--timelines", "-3"], ["--timelines -3: must be 0 or more"]),
        (["--device", "gpu"], ["--device gpu: not a device"]),
        pytest.param(
            ["--device", "cuda"],
            ["--device cuda: this PyTorch", "built without CUDA"],
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="PyTorch has CUDA"),
        ),
    ],
)
def test_infer_refuses_bad_options_before_the_work(trained, tmp_path, args, parts):
    checkpoint = trained / "results" / "tiny" / "train" / "checkpoints" / "best.pt"
    out = tmp_path / "out"
    result = run_cli("infer", "--checkpoint", str(checkpoint), "--output", str(out), *args)
    one_line(result, *parts)
    assert not out.exists()


def test_infer_refuses_an_output_that_is_a_file_before_running(trained, tmp_path):
    checkpoint = trained / "results" / "tiny" / "train" / "checkpoints" / "best.pt"
    taken = tmp_path / "metrics.json"
    taken.write_text("{}\n")
    result = run_cli("infer", "--checkpoint", str(checkpoint), "--output", str(taken))
    one_line(result, f"{taken}: --output must be a folder")
    assert result.stdout == ""  # no metrics table: nothing was run


def test_short_videos_get_no_predictions_and_their_instances_count_as_misses(trained):
    """dataset.min_segments: videos with fewer segments are left out of inference (a warning
    counts them), their ground truth stays: as a run whose predictions lack them."""
    from wtal.data.open import open_dataset
    from wtal.inference.run import evaluate_predictions, run_split

    checkpoint = trained / "results" / "tiny" / "train" / "checkpoints" / "best.pt"
    loaded = load_model(checkpoint, torch.device("cpu"))
    split = open_dataset(loaded.config["dataset"]).subset("test")
    lengths = sorted(v.num_segments for v in split.videos)
    minimum = lengths[len(lengths) // 2]
    short = {v.video_id for v in split.videos if v.num_segments < minimum}
    assert short and any(len(split.video(vid).segments) for vid in short)
    config = {**loaded.config, "dataset": {**loaded.config["dataset"], "min_segments": minimum}}
    whole = run_split(loaded.model, split, loaded.norm, loaded.config, torch.device("cpu"))
    with pytest.warns(UserWarning, match=f"{len(short)} of {len(split.videos)} videos"):
        left = run_split(loaded.model, split, loaded.norm, config, torch.device("cpu"))
    assert set(left.predictions["results"]) == set(whole.predictions["results"]) - short
    pruned = {
        key: {vid: v for vid, v in value.items() if vid not in short}
        if isinstance(value, dict)
        else value
        for key, value in whole.predictions.items()
    }
    expected = evaluate_predictions(pruned, split, config)
    assert left.metrics.to_dict() == expected.to_dict()
    for count in ("ground_truth_instances", "ground_truth_videos"):  # the short ones too
        assert left.metrics.counts[count] == whole.metrics.counts[count]
