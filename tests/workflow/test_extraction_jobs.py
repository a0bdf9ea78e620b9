"""The extraction stage's jobs: one per chunk of extraction.videos_per_job videos, the flow
kept or not (extraction.keep_flow), GPUs asked for when a device names CUDA, local rules,
benchmarks, memory that grows on retry, and a chunk job's failures (dry runs on a plan of
empty video files; real runs on small clips)."""

from __future__ import annotations

import json
import math
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.extract.clips import moving_square
from tests.workflow.test_workflow import ROOT, snakemake

VIDEOS = [f"v_{i:03d}" for i in range(7)]  # 5 training, 2 test videos, in this order


def write_plan(root: Path, videos: list[str], **extraction) -> Path:
    """ActivityNet annotations of ``videos`` (the last two test, the others training) and a
    config starting from the videos in root/videos (empty files unless already there)."""
    folder = root / "videos"
    folder.mkdir(parents=True, exist_ok=True)
    database = {}
    for i, video in enumerate(videos):
        subset = "test" if i >= len(videos) - 2 else "training"
        instance = {"segment": [0.2, 1.0], "label": f"c{i % 2}"}
        database[video] = {"subset": subset, "duration": 1.6, "annotations": [instance]}
        (folder / f"{video}.mp4").touch()
    (root / "annotations.json").write_text(json.dumps({"database": database}))
    config = {
        "results_dir": str(root / "results"),
        "dataset": {"name": "plan", "format": "activitynet",
                    "annotations": str(root / "annotations.json"), "videos": str(folder),
                    "train_subset": "training", "test_subset": "test"},
        "extraction": {"weights_cache": str(root / "weights"), **extraction},
    }  # fmt: skip
    path = root / f"config-{len(list(root.glob('config-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def dry_run_jobs(config: Path, target: str = "all", cores: int = 1) -> list[dict[str, str]]:
    """The jobs of a dry run: rule, the fields Snakemake prints (resources, benchmark, ...)
    and the shell command."""
    result = snakemake("-n", "-p", target, config=config, cores=cores)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    jobs: list[dict[str, str]] = []
    for line in result.stdout.splitlines():
        if line.startswith(("rule ", "localrule ")):
            jobs.append({"rule": line.split()[1].rstrip(":")})
        elif jobs and line.startswith("    ") and ": " in line:
            key, value = line.strip().split(": ", 1)
            jobs[-1][key] = value
        elif jobs and line.startswith("Shell command: "):
            jobs[-1]["shell"] = line.removeprefix("Shell command: ")
    return jobs


def resources(job: dict[str, str]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in job["resources"].split(", "))


def chunk_argument(job: dict[str, str], option: str):
    """The JSON value of ``option`` in an extract_chunk command."""
    words = shlex.split(job["shell"])
    return json.loads(words[words.index(option) + 1])


@pytest.mark.parametrize("per_job", [1, 3, 7, 10])
def test_one_extraction_job_per_chunk_of_videos_per_job(tmp_path, per_job):
    jobs = dry_run_jobs(write_plan(tmp_path, VIDEOS, videos_per_job=per_job))
    chunks = sorted((job for job in jobs if job["rule"] == "extract_chunk"),
                    key=lambda job: int(job["wildcards"].removeprefix("chunk=")))  # fmt: skip
    assert len(chunks) == math.ceil(len(VIDEOS) / per_job)
    members = [chunk_argument(job, "--videos") for job in chunks]
    # consecutive videos of the plan, videos_per_job each (the last one the rest), every
    # video in exactly one chunk
    assert members == [VIDEOS[i : i + per_job] for i in range(0, len(VIDEOS), per_job)]
    assert [job["output"] for job in chunks] == [
        str(tmp_path / "results" / "plan" / "extract" / f"{per_job}-per-job" / f"{i}.json")
        for i in range(len(chunks))
    ]
    # no per-video jobs any more, and the others once each
    others = [job["rule"] for job in jobs if job["rule"] != "extract_chunk"]
    assert sorted(others) == sorted(["i3d_weights", "ground_truth", "dataset_summary",
                                     "inventory", "pack", "stage_config", "stage_config",
                                     "stage_config", "train", "infer", "infer_untrained",
                                     "evaluate", "report", "all"])  # fmt: skip
    inventory = next(job for job in jobs if job["rule"] == "inventory")
    assert sorted(inventory["input"].split(", ")) == sorted(job["output"] for job in chunks)


def test_the_flow_is_kept_only_with_keep_flow(tmp_path):
    kept = dry_run_jobs(write_plan(tmp_path, VIDEOS, videos_per_job=7, keep_flow=True))
    dropped = dry_run_jobs(write_plan(tmp_path, VIDEOS, videos_per_job=7, keep_flow=False))
    (kept,) = [job for job in kept if job["rule"] == "extract_chunk"]
    (dropped,) = [job for job in dropped if job["rule"] == "extract_chunk"]
    kept, dropped = chunk_argument(kept, "--settings"), chunk_argument(dropped, "--settings")
    flow = tmp_path / "results" / "plan" / "flow" / "standard-256" / "{video}.npy"
    # kept: `wtal flow` makes flow/<preset>-<short side>/<video>.npy and `wtal extract` reads
    # it; not kept: `wtal extract` makes its own and deletes it once the features are written
    assert kept["paths"]["flow"] == str(flow) and "--no-keep-flow" not in kept["extract"]
    assert dropped["paths"]["flow"] is None and "--no-keep-flow" in dropped["extract"]


@pytest.mark.parametrize(
    ("extraction_device", "training_device", "extraction_gpu", "training_gpu"),
    [
        ("auto", "auto", "0", "0"),  # auto: no GPU asked for (profiles/slurm says why)
        ("cpu", "cpu", "0", "0"),
        ("cuda", "cpu", "1", "0"),
        ("cuda:0", "cuda", "1", "1"),
        ("cpu", "cuda:1", "0", "1"),
    ],
)
def test_a_gpu_is_asked_for_where_the_device_names_cuda(
    tmp_path, extraction_device, training_device, extraction_gpu, training_gpu
):
    config = write_plan(tmp_path, VIDEOS, videos_per_job=3, device=extraction_device)
    data = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**data, "training": {"device": training_device}}))
    jobs = dry_run_jobs(config)
    gpus = {job["rule"]: resources(job).get("gpu", "0") for job in jobs if "resources" in job}
    assert {
        rule: gpus[rule] for rule in ("extract_chunk", "train", "infer", "infer_untrained")
    } == {
        "extract_chunk": extraction_gpu,
        "train": training_gpu,
        "infer": training_gpu,
        "infer_untrained": training_gpu,
    }
    assert {gpu for rule, gpu in gpus.items() if rule not in
            ("extract_chunk", "train", "infer", "infer_untrained")} <= {"0"}  # fmt: skip
    # and the commands run where the resources were asked for
    chunk = next(job for job in jobs if job["rule"] == "extract_chunk")
    settings = chunk_argument(chunk, "--settings")
    for args in (settings["flow"], settings["extract"]):
        assert args[args.index("--device") + 1] == extraction_device
    infer = next(job for job in jobs if job["rule"] == "infer")
    assert f"--device {training_device} " in infer["shell"]


def test_extraction_settings_reach_the_commands(tmp_path):
    config = write_plan(tmp_path, VIDEOS, videos_per_job=7, flow_backend="torch",
                        autocast="bf16", flow_batch=8, workers=3)  # fmt: skip
    jobs = dry_run_jobs(config, cores=4)
    (chunk,) = [job for job in jobs if job["rule"] == "extract_chunk"]
    settings = chunk_argument(chunk, "--settings")
    flow, extract = settings["flow"], settings["extract"]
    assert flow[flow.index("--backend") + 1] == "torch"
    assert extract[extract.index("--flow-backend") + 1] == "torch"
    assert flow[flow.index("--flow-batch") + 1] == extract[extract.index("--flow-batch") + 1] == "8"
    assert extract[extract.index("--autocast") + 1] == "bf16"
    assert "--threads 3 " in chunk["shell"]  # workers: the job's threads (cores allowing)


def test_benchmark_files_for_extraction_training_and_inference(tmp_path):
    jobs = dry_run_jobs(write_plan(tmp_path, VIDEOS, videos_per_job=3))
    benchmarks = tmp_path / "results" / "plan" / "benchmarks"
    found = {job.get("benchmark") for job in jobs if job.get("benchmark")}
    assert found == {
        str(benchmarks / "extract_chunk" / "3-per-job" / f"{i}.tsv") for i in range(3)
    } | {str(benchmarks / f"{rule}.tsv") for rule in ("train", "infer", "infer_untrained")}


PROBE = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import (ConfigSettings, OutputSettings, ResourceSettings,
                                      StorageSettings)
with SnakemakeApi(OutputSettings()) as api:
    workflow = api.workflow(
        resource_settings=ResourceSettings(cores=1),
        config_settings=ConfigSettings(configfiles=[Path(sys.argv[1])],
                                       replace_workflow_config=True),
        storage_settings=StorageSettings(),
        snakefile=Path("Snakefile"),
        workdir=Path.cwd(),
    )._workflow
    print("LOCAL", json.dumps(sorted(rule.name for rule in workflow.rules
                                     if rule.name in workflow._localrules)))
"""


def test_small_rules_are_local_and_the_work_is_not(tmp_path):
    config = write_plan(tmp_path, VIDEOS)
    result = subprocess.run([sys.executable, "-c", PROBE, str(config)], cwd=ROOT,
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("LOCAL ")]
    assert json.loads(line.removeprefix("LOCAL ")) == [
        "all",
        "evaluate",
        "features",
        "ground_truth",
        "i3d_weights",
        "inventory",
        "pack",
        "report",
        "stage_config",
    ]  # fmt: skip  (the others: extract_chunk, dataset_summary, train, infer, infer_untrained)


def test_lint_finds_no_rule_problems_when_starting_from_videos(tmp_path):
    # the extraction rules exist only when dataset.videos is set
    result = snakemake("--lint", config=write_plan(tmp_path, VIDEOS, videos_per_job=3))
    output = result.stdout + result.stderr
    assert "Lints for" not in output, output
    assert result.returncode == 0, output


def test_a_chunk_that_does_not_exist_is_a_clear_error(tmp_path):
    config = write_plan(tmp_path, VIDEOS, videos_per_job=3)
    target = tmp_path / "results" / "plan" / "extract" / "3-per-job" / "3.json"
    result = snakemake("-n", str(target), config=config)
    assert result.returncode != 0
    assert "extraction chunk 3 does not exist: 7 videos at extraction.videos_per_job 3 make " \
        "chunks 0 to 2" in result.stdout + result.stderr  # fmt: skip


@pytest.mark.slow
def test_a_chunk_job_records_what_cannot_be_decoded_finishes_the_others_and_reuses_them(
    tmp_path, kinetics_cache
):
    """Three videos in one job: one not a video, one fine, one whose features cannot be
    written (its feature folder is a file). Then the blockage is removed and the job rerun."""
    bad, good, other = "a_bad", "b_good", "c_other"
    folder = tmp_path / "videos"
    folder.mkdir()
    (folder / f"{bad}.mp4").write_bytes(b"not a video" * 100)
    moving_square(folder / f"{good}.mp4", frames=40, fps=25.0, size=(80, 64), step=2)
    moving_square(folder / f"{other}.mp4", frames=40, fps=25.0, size=(64, 80), step=3)
    settings = {"videos_per_job": 3, "short_side": 64, "crop": 56, "flow_preset": "fast",
                "weights_cache": str(kinetics_cache), "device": "cpu"}  # fmt: skip
    out = tmp_path / "results" / "plan"
    record = out / "extract" / "3-per-job" / "0.json"
    (out / "features").mkdir(parents=True)
    (out / "features" / other).write_text("in the way")

    dropped = write_plan(tmp_path, [bad, good, other], keep_flow=False, **settings)
    first = snakemake(str(record), "--retries", "1", config=dropped, cores=2)
    output = first.stdout + first.stderr
    assert first.returncode != 0 and not record.exists(), output
    # the failure is named with its log, after the other videos were done
    assert (
        f"{other}: features failed (exit status 1; {out / 'logs' / 'features' / other}.log)"
        in output
    )
    assert f"[2/3] {good}: done" in output and f"[1/3] {bad}: cannot be decoded" in output
    # retried once, with twice the memory and the time
    assert "mem_mb=4000" in output and "mem_mb=8000" in output
    assert "runtime=2250" in output and "runtime=4500" in output
    made = out / "features" / good
    assert {"flow.npy", "meta.json", "rgb.npy"} <= {p.name for p in made.iterdir()}
    # keep_flow false: no flow cache left anywhere (wtal extract's own is flow_<preset>.npy)
    assert not (out / "flow").exists() and not list(made.glob("flow_*"))
    made_at = os.stat(made / "rgb.npy").st_mtime_ns

    (out / "features" / other).unlink()
    kept = write_plan(tmp_path, [bad, good, other], keep_flow=True, **settings)
    inventory = out / "inventory.json"
    second = snakemake(str(inventory), config=kept, cores=2)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    chunk = json.loads(record.read_text())
    assert chunk["videos"] == [bad, good, other] and chunk["done"] == [good, other]
    assert list(chunk["undecodable"]) == [bad] and "cannot be decoded" in chunk["undecodable"][bad]
    assert json.loads(inventory.read_text()) == {
        "ok": [good, other],
        "failed": chunk["undecodable"],
    }
    # the finished video was reused as it was (its flow not made again), the other made with
    # its flow kept
    assert os.stat(made / "rgb.npy").st_mtime_ns == made_at
    assert "already extracted" in (out / "logs" / "features" / f"{good}.log").read_text()
    flows = out / "flow" / "fast-64"
    assert (flows / f"{other}.npy").is_file() and not (flows / f"{good}.npy").exists()
    assert (out / "features" / other / "meta.json").is_file()
