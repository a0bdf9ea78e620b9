"""The extraction stage's jobs: one per chunk of extraction.videos_per_job videos, the flow
kept or not (extraction.keep_flow), GPUs asked for when a device names CUDA, local rules,
benchmarks, memory that grows on retry, and a chunk job's failures (dry runs on a plan of
empty video files; real runs on small clips)."""

from __future__ import annotations

import json
import math
import os
import shlex
import shutil
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


STAGE_RULES = ("decode_chunk", "flow_chunk", "features_chunk")


def chunk_jobs(jobs: list[dict[str, str]], rule: str) -> list[dict[str, str]]:
    """The jobs of one chunk rule, in chunk order."""
    found = [job for job in jobs if job["rule"] == rule]
    return sorted(found, key=lambda job: int(job["wildcards"].removeprefix("chunk=")))


@pytest.mark.parametrize("per_job", [1, 3, 7, 10])
def test_one_job_per_chunk_of_videos_per_job_and_stage(tmp_path, per_job):
    jobs = dry_run_jobs(write_plan(tmp_path, VIDEOS, videos_per_job=per_job))
    extract = tmp_path / "results" / "plan" / "extract"
    expected = [VIDEOS[i : i + per_job] for i in range(0, len(VIDEOS), per_job)]
    for rule in STAGE_RULES:
        stage = rule.removesuffix("_chunk")
        chunks = chunk_jobs(jobs, rule)
        assert len(chunks) == math.ceil(len(VIDEOS) / per_job)
        # consecutive videos of the plan, videos_per_job each (the last one the rest), every
        # video in exactly one chunk of each stage
        assert [chunk_argument(job, "--videos") for job in chunks] == expected
        assert [job["output"] for job in chunks] == [
            str(extract / stage / f"{per_job}-per-job" / f"{i}.json") for i in range(len(chunks))
        ]
        assert all(shlex.split(job["shell"])[2] == stage for job in chunks)
    # each chunk waits for the same chunk of the stage before, not for the whole stage
    for rule, before in (("flow_chunk", "decode"), ("features_chunk", "flow")):
        for i, job in enumerate(chunk_jobs(jobs, rule)):
            records = [f for f in job["input"].split(", ") if f.endswith(".json")]
            assert records == [str(extract / before / f"{per_job}-per-job" / f"{i}.json")]
    # no per-video jobs, and the others once each
    others = [job["rule"] for job in jobs if job["rule"] not in STAGE_RULES]
    assert sorted(others) == sorted(["i3d_weights", "ground_truth", "dataset_summary",
                                     "inventory", "pack", "stage_config", "stage_config",
                                     "stage_config", "train", "infer", "infer_untrained",
                                     "evaluate", "report", "all"])  # fmt: skip
    inventory = next(job for job in jobs if job["rule"] == "inventory")
    assert sorted(inventory["input"].split(", ")) == sorted(
        job["output"] for job in chunk_jobs(jobs, "features_chunk")
    )


def test_the_flow_is_a_stage_only_with_keep_flow(tmp_path):
    kept = dry_run_jobs(write_plan(tmp_path, VIDEOS, videos_per_job=7, keep_flow=True))
    dropped = dry_run_jobs(write_plan(tmp_path, VIDEOS, videos_per_job=7, keep_flow=False))
    (kept_features,) = chunk_jobs(kept, "features_chunk")
    (dropped_features,) = chunk_jobs(dropped, "features_chunk")
    assert len(chunk_jobs(kept, "flow_chunk")) == 1 and not chunk_jobs(dropped, "flow_chunk")
    # not kept: the features jobs compute the flow after the decode stage, and delete it
    extract = tmp_path / "results" / "plan" / "extract"
    assert str(extract / "decode" / "7-per-job" / "0.json") in dropped_features["input"]
    assert str(extract / "flow" / "7-per-job" / "0.json") in kept_features["input"]
    kept = chunk_argument(kept_features, "--settings")
    dropped = chunk_argument(dropped_features, "--settings")
    flow = tmp_path / "results" / "plan" / "flow" / "standard-256" / "{video}.npy"
    assert kept["paths"]["flow"] == str(flow) and kept["settings"]["keep_flow"] is True
    assert dropped["paths"]["flow"] is None and dropped["settings"]["keep_flow"] is False


@pytest.mark.parametrize(
    ("extraction_device", "flow_backend", "training_device", "features_gpu", "flow_gpu",
     "training_gpu"),
    [
        ("auto", "auto", "auto", "0", "0", "0"),  # auto: no GPU asked for (profiles/slurm)
        ("cpu", "auto", "cpu", "0", "0", "0"),
        ("cuda", "auto", "cpu", "1", "1", "0"),  # auto: torch TV-L1 on CUDA
        ("cuda:0", "opencv", "cuda", "1", "0", "1"),  # OpenCV's flow runs on the CPU
        ("cpu", "torch", "cuda:1", "0", "0", "1"),
    ],
)  # fmt: skip
def test_a_gpu_is_asked_for_where_the_device_names_cuda(
    tmp_path, extraction_device, flow_backend, training_device, features_gpu, flow_gpu,
    training_gpu,
):  # fmt: skip
    config = write_plan(tmp_path, VIDEOS, videos_per_job=3, device=extraction_device,
                        flow_backend=flow_backend)  # fmt: skip
    data = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**data, "training": {"device": training_device}}))
    jobs = dry_run_jobs(config)
    gpus = {job["rule"]: resources(job).get("gpu", "0") for job in jobs if "resources" in job}
    asked = ("features_chunk", "flow_chunk", "train", "infer", "infer_untrained")
    assert {rule: gpus[rule] for rule in asked} == {
        "features_chunk": features_gpu,
        "flow_chunk": flow_gpu,
        "train": training_gpu,
        "infer": training_gpu,
        "infer_untrained": training_gpu,
    }
    assert {gpu for rule, gpu in gpus.items() if rule not in asked} <= {"0"}
    # and the jobs run where the resources were asked for
    settings = chunk_argument(chunk_jobs(jobs, "features_chunk")[0], "--settings")
    assert settings["settings"]["device"] == extraction_device
    assert settings["settings"]["flow_backend"] == flow_backend
    infer = next(job for job in jobs if job["rule"] == "infer")
    assert f"--device {training_device} " in infer["shell"]


def test_extraction_settings_reach_the_jobs(tmp_path):
    from extract.settings import WEIGHTS, ExtractionSettings, read_by

    changed = {"flow_backend": "torch", "autocast": "bf16", "flow_batch": 8, "workers": 3,
               "short_side": 128, "crop": 112, "flow_preset": "fast",
               "batch_segments": 2}  # fmt: skip
    config = write_plan(tmp_path, VIDEOS, videos_per_job=7, **changed)
    jobs = dry_run_jobs(config, cores=4)
    settings = {rule: chunk_argument(chunk_jobs(jobs, rule)[0], "--settings")
                for rule in STAGE_RULES}  # fmt: skip
    # each stage is given the settings it reads, so that a change reruns only the stages
    # that read it; what a job is given reads back as the config's settings
    configured = ExtractionSettings(**changed, weights_cache=str(tmp_path / "weights"))
    for rule in STAGE_RULES:
        stage = rule.removesuffix("_chunk")
        given = ExtractionSettings.from_chunk(settings[rule], workers=3)
        assert {k: getattr(given, k) for k in read_by(stage)} == {
            k: getattr(configured, k) for k in read_by(stage)
        }
        transported = set(settings[rule]["settings"]) | set(settings[rule].get("weights", ()))
        assert transported == {WEIGHTS.get(k, k) for k in read_by(stage)}
    assert settings["decode_chunk"]["settings"] == {"on_variable_frame_rate": "resample",
                                                    "short_side": 128}  # fmt: skip
    assert "crop" not in settings["flow_chunk"]["settings"]
    assert "weights" not in settings["decode_chunk"] and "weights" not in settings["flow_chunk"]
    assert settings["features_chunk"]["weights"] == {
        "cache": str(tmp_path / "weights"), "flow": None, "rgb": None
    }  # fmt: skip
    paths = {rule: settings[rule]["paths"] for rule in STAGE_RULES}
    out = tmp_path / "results" / "plan"
    assert paths["features_chunk"] == {
        "video": str(tmp_path / "videos" / "{video}.mp4"),
        "decoded": str(out / "decode" / "{video}.json"),
        "flow": str(out / "flow" / "fast-128" / "{video}.npy"),
        "features": str(out / "features"),
    }
    assert paths["flow_chunk"] == {k: paths["features_chunk"][k] for k in ("video", "decoded",
                                                                           "flow")}  # fmt: skip
    assert paths["decode_chunk"] == {k: paths["features_chunk"][k] for k in ("video", "decoded")}
    threads = {rule: chunk_jobs(jobs, rule)[0]["shell"].split("--threads ")[1].split()[0]
               for rule in STAGE_RULES}  # fmt: skip
    assert threads == {"decode_chunk": "1", "flow_chunk": "3", "features_chunk": "3"}


def test_benchmark_files_for_extraction_training_and_inference(tmp_path):
    jobs = dry_run_jobs(write_plan(tmp_path, VIDEOS, videos_per_job=3))
    benchmarks = tmp_path / "results" / "plan" / "benchmarks"
    found = {job.get("benchmark") for job in jobs if job.get("benchmark")}
    assert found == {
        str(benchmarks / rule / "3-per-job" / f"{i}.tsv") for rule in STAGE_RULES for i in range(3)
    } | {str(benchmarks / f"{rule}.tsv") for rule in ("train", "infer", "infer_untrained")}


@pytest.mark.parametrize("keep_flow", [True, False])
def test_every_stage_target_dry_runs(tmp_path, keep_flow):
    config = write_plan(tmp_path, VIDEOS, videos_per_job=3, keep_flow=keep_flow)
    stages = ["decode", "features", "pack", "train", "infer", "evaluate", "report", "all"]
    for target in ["flow", *stages] if keep_flow else stages:
        jobs = dry_run_jobs(config, target)
        assert (jobs and jobs[-1]["rule"] == target) or target in {j["rule"] for j in jobs}
    # what each stage target runs: its chunks and those of the stages before, nothing after
    ran = {rule for rule in STAGE_RULES if chunk_jobs(dry_run_jobs(config, "decode"), rule)}
    assert ran == {"decode_chunk"}
    ran = {job["rule"] for job in dry_run_jobs(config, "features")}
    assert "pack" not in ran and "features_chunk" in ran


def test_the_flow_target_without_a_flow_stage_says_why(tmp_path):
    result = snakemake("-n", "flow", config=write_plan(tmp_path, VIDEOS, keep_flow=False))
    assert result.returncode != 0
    assert "extraction.keep_flow is false: there is no flow stage" in (
        result.stdout + result.stderr
    )


def test_one_video_s_files_are_targets_of_the_single_video_commands(tmp_path):
    config = write_plan(tmp_path, VIDEOS, short_side=128, flow_preset="fast")
    out = tmp_path / "results" / "plan"
    video = tmp_path / "videos" / "v_003.mp4"
    decoded = out / "decode" / "v_003.json"
    flow = out / "flow" / "fast-128" / "v_003.npy"
    (job,) = [j for j in dry_run_jobs(config, str(decoded)) if j["rule"] != "i3d_weights"]
    assert job["rule"] == "decode_video" and job["output"] == str(decoded)
    assert shlex.split(job["shell"])[:6] == ["wtal", "decode", str(video), "--output",
                                              str(decoded), "--record-failure"]  # fmt: skip
    jobs = {j["rule"]: j for j in dry_run_jobs(config, str(flow))}
    assert set(jobs) == {"decode_video", "flow_video"}
    assert shlex.split(jobs["flow_video"]["shell"])[:7] == [
        "wtal", "flow", str(video), "--output", str(flow), "--decoded", str(decoded)
    ]  # fmt: skip
    jobs = {j["rule"]: j for j in dry_run_jobs(config, str(out / "features" / "v_003" /
                                                               "meta.json"))}  # fmt: skip
    assert set(jobs) == {"decode_video", "flow_video", "features_video", "i3d_weights"}
    words = shlex.split(jobs["features_video"]["shell"])
    assert words[:5] == ["wtal", "extract", str(video), "--output", str(out / "features")]
    assert words[words.index("--decoded") + 1] == str(decoded)
    assert words[words.index("--flow") + 1] == str(flow)
    assert words[words.index("--short-side") + 1] == "128"


def test_a_video_target_outside_the_plan_names_the_plan(tmp_path):
    config = write_plan(tmp_path, VIDEOS)
    target = tmp_path / "results" / "plan" / "decode" / "v_999.json"
    result = snakemake("-n", str(target), config=config)
    assert result.returncode != 0
    assert "'v_999' is not a video of dataset.train_subset or dataset.test_subset" in (
        result.stdout + result.stderr
    )


#: Python that parses the workflow with the config file named by its first argument and
#: holds it as ``workflow`` (its API handle as ``api_workflow``; inside the API's context:
#: append code at that indentation).
LOAD_WORKFLOW = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import (ConfigSettings, OutputSettings, ResourceSettings,
                                      StorageSettings)
with SnakemakeApi(OutputSettings()) as api:
    api_workflow = api.workflow(
        resource_settings=ResourceSettings(cores=1),
        config_settings=ConfigSettings(configfiles=[Path(sys.argv[1])],
                                       replace_workflow_config=True),
        storage_settings=StorageSettings(),
        snakefile=Path("Snakefile"),
        workdir=Path.cwd(),
    )
    workflow = api_workflow._workflow
"""
PROBE = (
    LOAD_WORKFLOW
    + """
    print("LOCAL", json.dumps(sorted(rule.name for rule in workflow.rules
                                     if rule.name in workflow._localrules)))
"""
)


def test_small_rules_are_local_and_the_work_is_not(tmp_path):
    config = write_plan(tmp_path, VIDEOS)
    result = subprocess.run([sys.executable, "-c", PROBE, str(config)], cwd=ROOT,
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("LOCAL ")]
    assert json.loads(line.removeprefix("LOCAL ")) == [
        "all",
        "decode",
        "evaluate",
        "features",
        "flow",
        "ground_truth",
        "i3d_weights",
        "inventory",
        "pack",
        "report",
        "stage_config",
    ]  # fmt: skip  (the others: the chunk and per-video extraction rules, dataset_summary,
    #                  train, infer, infer_untrained)


@pytest.mark.parametrize("keep_flow", [True, False])
def test_lint_finds_no_rule_problems_when_starting_from_videos(tmp_path, keep_flow):
    # the extraction rules exist only when dataset.videos is set
    config = write_plan(tmp_path, VIDEOS, videos_per_job=3, keep_flow=keep_flow)
    result = snakemake("--lint", config=config)
    output = result.stdout + result.stderr
    assert "Lints for" not in output, output
    assert result.returncode == 0, output


def test_a_chunk_that_does_not_exist_is_a_clear_error(tmp_path):
    config = write_plan(tmp_path, VIDEOS, videos_per_job=3)
    target = tmp_path / "results" / "plan" / "extract" / "flow" / "3-per-job" / "3.json"
    result = snakemake("-n", str(target), config=config)
    assert result.returncode != 0
    assert "extraction chunk 3 does not exist: 7 videos at extraction.videos_per_job 3 make " \
        "chunks 0 to 2" in result.stdout + result.stderr  # fmt: skip


def clips(root: Path, names: list[str]) -> None:
    """Small real videos of ``names`` in root/videos (a name starting with "bad" is not a
    video)."""
    folder = root / "videos"
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        if name.startswith("bad"):
            (folder / f"{name}.mp4").write_bytes(b"not a video" * 100)
        else:
            size = (80, 64) if i % 2 else (64, 80)
            moving_square(folder / f"{name}.mp4", frames=40, fps=25.0, size=size, step=2 + i)


def small_settings(cache: Path) -> dict:
    return {"short_side": 64, "crop": 56, "flow_preset": "fast", "weights_cache": str(cache),
            "device": "cpu"}  # fmt: skip


def outputs(out: Path, videos: list[str]) -> dict[str, bytes]:
    """Every per-video file of the extraction, by path below ``out``."""
    files = {}
    for video in videos:
        for path in [out / "decode" / f"{video}.json", *out.glob(f"flow/*/{video}.npy"),
                     *(out / "features" / video).glob("*")]:  # fmt: skip
            if path.name not in {"timings.json", ".lock"}:  # timings: wall-clock seconds
                files[str(path.relative_to(out))] = path.read_bytes()
    return files


@pytest.mark.slow
def test_chunk_jobs_make_the_files_of_the_single_video_commands_byte_for_byte(
    tmp_path, kinetics_cache
):
    """The same three videos through the stage targets (one process per chunk and stage) and
    through the per-video targets (`wtal decode` / `wtal flow` / `wtal extract`)."""
    videos = ["a", "b", "c"]
    clips(tmp_path, videos)
    config = write_plan(tmp_path, videos, videos_per_job=2, **small_settings(kinetics_cache))
    staged = snakemake("features", config=config, cores=2)
    assert staged.returncode == 0, staged.stdout[-3000:] + staged.stderr[-3000:]
    out = tmp_path / "results" / "plan"
    by_chunks = outputs(out, videos)
    assert len(by_chunks) == 3 * 5  # decode record, flow file, rgb, flow, meta per video
    shutil.move(out, tmp_path / "by_chunks")

    targets = [str(out / "features" / video / "meta.json") for video in videos]
    single = snakemake(*targets, config=config, cores=2)
    assert single.returncode == 0, single.stdout[-3000:] + single.stderr[-3000:]
    assert "rule features_video" in single.stdout + single.stderr
    assert not (out / "extract").exists()  # no chunk job ran
    assert outputs(out, videos) == by_chunks


@pytest.mark.slow
def test_a_stage_rerun_redoes_that_stage_and_what_was_made_from_it(tmp_path, kinetics_cache):
    videos = ["a", "b", "c"]
    clips(tmp_path, videos)
    config = write_plan(tmp_path, videos, videos_per_job=2, **small_settings(kinetics_cache))
    first = snakemake("features", config=config, cores=2)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    out = tmp_path / "results" / "plan"
    files = {
        "decode": [out / "decode" / f"{v}.json" for v in videos],
        "flow": [out / "flow" / "fast-64" / f"{v}.npy" for v in videos],
        "features": [
            out / "features" / v / name
            for v in videos
            for name in ("rgb.npy", "flow.npy", "meta.json")
        ],
    }

    def made_at() -> dict[str, list[int]]:
        return {stage: [os.stat(f).st_mtime_ns for f in found] for stage, found in files.items()}

    before = made_at()
    contents = outputs(out, videos)
    again = snakemake("-n", "features", config=config)
    assert "Nothing to be done" in again.stdout + again.stderr

    flow = snakemake("features", "--forcerun", "flow", config=config, cores=2)
    assert flow.returncode == 0, flow.stdout[-3000:] + flow.stderr[-3000:]
    after = made_at()
    # the decode records were kept; every flow file was made again, then every feature
    assert after["decode"] == before["decode"]
    assert all(a > b for a, b in zip(after["flow"], before["flow"], strict=True))
    assert all(a > b for a, b in zip(after["features"], before["features"], strict=True))
    assert outputs(out, videos) == contents  # made again, the same bytes
    log = (out / "logs" / "extract" / "flow" / "2-per-job" / "0.log").read_text()
    assert "is stale (asked to make it again)" in log
    assert "  [1/2] a: done (" in log  # a line as each video ends
    log = (out / "logs" / "extract" / "features" / "2-per-job" / "0.log").read_text()
    assert "  [1/2] a: done (" in log

    # the first stage made again: everything after it follows
    decode = snakemake("features", "--forcerun", "decode", config=config, cores=2)
    assert decode.returncode == 0, decode.stdout[-3000:] + decode.stderr[-3000:]
    before, after = after, made_at()
    assert all(a > b for stage in files for a, b in zip(after[stage], before[stage], strict=True))
    assert outputs(out, videos) == contents


@pytest.mark.slow
def test_a_chunk_job_records_what_cannot_be_decoded_finishes_the_others_and_reuses_them(
    tmp_path, kinetics_cache
):
    """Three videos in one chunk: one not a video, one fine, one whose features cannot be
    written (its feature folder is a file). Then the blockage is removed and the job rerun."""
    bad, good, other = "bad_a", "b_good", "c_other"
    clips(tmp_path, [bad, good, other])
    out = tmp_path / "results" / "plan"
    record = out / "extract" / "features" / "3-per-job" / "0.json"
    (out / "features").mkdir(parents=True)
    (out / "features" / other).write_text("in the way")

    settings = {"videos_per_job": 3, **small_settings(kinetics_cache)}
    dropped = write_plan(tmp_path, [bad, good, other], keep_flow=False, **settings)
    first = snakemake(str(record), "--retries", "1", config=dropped, cores=2)
    output = first.stdout + first.stderr
    assert first.returncode != 0 and not record.exists(), output
    log = (out / "logs" / "extract" / "features" / "3-per-job" / "0.log").read_text()
    # the failure is named, after the other videos were done
    assert f"[3/3] {other}: FAILED" in log and f"[2/3] {good}: done" in log
    assert f"[1/3] {bad}: cannot be decoded" in log
    # and as each video ended, a line (the log is written as the job goes); this log is the
    # retry's, which kept the finished video and tried the other again
    assert f"[2/3] {good}: done (current, kept)" in log
    assert f"  [3/3] {other}: FAILED: FileExistsError" in log
    decode_log = (out / "logs" / "extract" / "decode" / "3-per-job" / "0.log").read_text()
    assert f"  [2/3] {good}: done (" in decode_log
    assert f"  [1/3] {bad}: cannot be decoded" in decode_log
    assert "1 of 3 videos of this chunk failed at features" in log
    # retried once, with twice the memory and the time (features: 120 + 600 min per video)
    assert "mem_mb=4000" in output and "mem_mb=8000" in output
    assert "runtime=2160" in output and "runtime=4320" in output
    decoded = json.loads((out / "extract" / "decode" / "3-per-job" / "0.json").read_text())
    assert decoded["done"] == [good, other] and list(decoded["undecodable"]) == [bad]
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
    # the flow is a stage of its own now: it made both videos' flow files, so the finished
    # video's features, older than its new flow file, were made again (as a build tool
    # would); the same bytes, since the flow is the same
    assert os.stat(made / "rgb.npy").st_mtime_ns > made_at
    assert chunk["kept"] == []
    flows = out / "flow" / "fast-64"
    assert (flows / f"{good}.npy").is_file() and (flows / f"{other}.npy").is_file()
    assert (out / "features" / other / "meta.json").is_file()
