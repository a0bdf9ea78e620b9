"""The whole pipeline on a tiny embedded demo: every stage target, a real run from generated
videos to the report, what a changed setting reruns, and a broken video under --keep-going."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.workflow.test_rerun import kill_when
from tests.workflow.test_workflow import snakemake

STAGE_TARGETS = ("decode", "flow", "features", "pack", "train", "infer", "evaluate", "report")


def tiny_demo(root: Path, weights_cache: Path, **changes: dict) -> dict:
    """Seven 7-second videos of 64 x 64 pixels (5 train, 2 test) in three extraction jobs,
    four iterations, the demo's 512-d model."""
    config = {
        "results_dir": str(root / "results"),
        "dataset": {
            "name": "tiny",
            "format": "activitynet",
            "annotations": str(root / "data" / "annotations.json"),
            "videos": str(root / "data" / "videos"),
            "train_subset": "validation",
            "test_subset": "test",
        },
        "demo": {"enabled": True, "videos": 7, "test_videos": 2, "width": 64, "height": 64,
                 "min_seconds": 6.4, "max_seconds": 7.68},
        "extraction": {"short_side": 64, "crop": 64, "flow_preset": "fast",
                       "videos_per_job": 3, "weights_cache": str(weights_cache)},
        "features": {"channel_pool": 4},  # the demo's CPU width: 512-d model input
        "training": {"iterations": 4, "max_seqlen": 16, "checkpoint_every": 2,
                     "selection": "last", "device": "cpu"},
        "evaluation": {"ambiguous_filter": False},
    }  # fmt: skip
    for section, values in changes.items():
        config[section] = {**config.get(section, {}), **values}
    return config


def write(config: dict, path: Path) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def jobs(dry_run_stdout: str) -> set[str]:
    return {line.split("rule ")[1].rstrip(":") for line in dry_run_stdout.splitlines()
            if line.startswith("rule ")}  # fmt: skip


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, kinetics_cache):
    root = tmp_path_factory.mktemp("pipeline")
    config = write(tiny_demo(root, kinetics_cache), root / "config.yaml")
    result = snakemake("all", config=config, cores=2)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return root, config


def test_every_stage_target_dry_runs(tmp_path, kinetics_cache):
    config = write(tiny_demo(tmp_path, kinetics_cache), tmp_path / "config.yaml")
    for target in (*STAGE_TARGETS, str(tmp_path / "results" / "tiny" / "metrics.json")):
        result = snakemake("-n", target, config=config)
        assert result.returncode == 0, f"{target}: {result.stderr[-2000:]}"


@pytest.mark.slow
def test_the_tiny_demo_runs_to_a_report(demo_run):
    root, _ = demo_run
    out = root / "results" / "tiny"
    report = (out / "report.md").read_text()
    assert "| TSM + VLC (checkpoint chosen by last, iteration 4) |" in report
    assert "untrained model" in report and "Videos decoded: 7; failed: 0." in report
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["counts"]["ground_truth_videos"] == 2
    assert len(metrics["mAP"]) == 7
    # The evaluate stage judged the infer stage's files: the same numbers.
    assert json.loads((out / "infer" / "metrics.json").read_text())["mAP"] == metrics["mAP"]
    meta = json.loads((out / "features" / "video_test_0000001" / "meta.json").read_text())
    assert meta["settings"]["flow_preset"] == "fast" and meta["settings"]["crop"] == 64
    # three chunks, the flow kept (keep_flow defaults to true), a benchmark per job
    chunks = [json.loads((out / "extract" / "features" / "3-per-job" / f"{i}.json").read_text())
              for i in range(3)]  # fmt: skip
    assert [len(chunk["done"]) for chunk in chunks] == [3, 3, 1]
    videos = [video for chunk in chunks for video in chunk["done"]]
    assert all((out / "flow" / "fast-64" / f"{video}.npy").is_file() for video in videos)
    benchmarks = out / "benchmarks"
    for name in ("decode_chunk/3-per-job/0", "flow_chunk/3-per-job/2",
                 "features_chunk/3-per-job/2", "train", "infer"):  # fmt: skip
        assert (benchmarks / f"{name}.tsv").read_text().startswith("s\th:m:s\tmax_rss")


@pytest.mark.slow
def test_a_training_setting_reruns_training_and_what_follows_only(demo_run):
    root, config_path = demo_run
    assert "Nothing to be done" in snakemake("-n", "all", config=config_path).stdout
    config = yaml.safe_load(config_path.read_text())
    changed = write({**config, "training": {**config["training"], "iterations": 6}},
                    root / "more_iterations.yaml")  # fmt: skip
    rerun = jobs(snakemake("-n", "all", config=changed).stdout)
    assert rerun == {"stage_config", "train", "infer", "infer_untrained", "evaluate", "report",
                     "all"}  # fmt: skip
    flow = write({**config, "extraction": {**config["extraction"], "flow_preset": "standard"}},
                 root / "standard_flow.yaml")  # fmt: skip
    rerun = jobs(snakemake("-n", "all", config=flow).stdout)
    # the flow and features stages read the preset; decoding does not
    assert {"flow_chunk", "features_chunk", "inventory", "pack", "train"} <= rerun
    assert "demo_videos" not in rerun and "decode_chunk" not in rerun
    crop = write({**config, "extraction": {**config["extraction"], "crop": 56}},
                 root / "crop.yaml")  # fmt: skip
    rerun = jobs(snakemake("-n", "all", config=crop).stdout)
    assert {"features_chunk", "inventory", "pack", "train"} <= rerun
    assert not {"demo_videos", "decode_chunk", "flow_chunk"} & rerun


@pytest.mark.slow
def test_a_forced_extraction_stage_ends_with_the_report_of_the_clean_run(demo_run):
    """--forcerun flow rewrote dataset.json, and the train job then failed on every rerun
    (MissingOutputException: a resumed run wrote no untrained.pt)."""
    root, config = demo_run
    out = root / "results" / "tiny"
    names = (
        "report.md",
        "metrics.json",
        "train/training.json",
        "train/checkpoints/selected.pt",
        "features/video_test_0000001/rgb.npy",
        "features/video_test_0000001/flow.npy",
    )
    before = {name: (out / name).read_bytes() for name in names}  # fmt: skip
    result = snakemake("--forcerun", "flow", "all", config=config, cores=2)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "rule train:" in result.stderr  # the dataset was packed again: training reran
    assert {name: (out / name).read_bytes() for name in names} == before
    assert "Nothing to be done" in snakemake("-n", "all", config=config).stdout


@pytest.mark.slow
def test_a_run_killed_during_extraction_then_run_again_ends_as_the_clean_run(demo_run):
    root, config = demo_run
    out = root / "results" / "tiny"
    names = (
        "report.md",
        "metrics.json",
        "train/checkpoints/selected.pt",
        "features/video_test_0000001/rgb.npy",
        "features/video_validation_0000001/flow.npy",
    )
    before = {name: (out / name).read_bytes() for name in names}  # fmt: skip
    shutil.rmtree(out / "features")
    shutil.rmtree(out / "extract" / "features")
    kill_when(config, lambda: any((out / "features").glob("*/meta.json")))  # one video done
    result = snakemake("all", config=config, cores=2)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert {name: (out / name).read_bytes() for name in names} == before
    assert "Nothing to be done" in snakemake("-n", "all", config=config).stdout


@pytest.mark.slow
def test_a_broken_video_is_recorded_and_reported_and_the_rest_completes(
    demo_run, tmp_path, kinetics_cache
):
    root, _ = demo_run
    data = tmp_path / "data"
    shutil.copytree(root / "data", data)
    broken = "video_test_0000002"
    (data / "videos" / f"{broken}.mp4").write_bytes(b"not a video" * 100)
    config = tiny_demo(tmp_path, kinetics_cache)
    config["demo"] = {"enabled": False}
    config["dataset"]["name"] = "broken"
    config = write(config, tmp_path / "config.yaml")
    result = snakemake("all", config=config, cores=2)
    # a video that cannot be decoded fails no job: its chunk records it and goes on
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    out = tmp_path / "results" / "broken"
    decoded = json.loads((out / "decode" / f"{broken}.json").read_text())
    assert decoded["ok"] is False and decoded["error"]
    for stage in ("decode", "flow", "features"):
        chunk = json.loads((out / "extract" / stage / "3-per-job" / "2.json").read_text())
        assert chunk["done"] == [] and list(chunk["undecodable"]) == [broken]
        log = (out / "logs" / "extract" / stage / "3-per-job" / "2.log").read_text()
        assert f"[1/1] {broken}: cannot be decoded" in log
    assert not (out / "features" / broken).exists()
    report = (out / "report.md").read_text()  # ... and everything else completed
    assert "Videos decoded: 6; failed: 1." in report and f"`{broken}`" in report
    assert json.loads((out / "metrics.json").read_text())["counts"]["ground_truth_videos"] == 2
