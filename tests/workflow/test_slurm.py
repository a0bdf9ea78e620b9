"""Snakemake through profiles/slurm on a real one-node SLURM cluster (tests/workflow/slurm.py).

Needs root on Linux (the fixture installs slurmctld/slurmd/munge with apt-get when missing,
else skips) and the executor plugin snakemake-executor-plugin-slurm (else skips).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.workflow.test_pipeline import tiny_demo

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "profiles" / "slurm"
SNAKEMAKE = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or shutil.which(
    "snakemake"
)

# ---- What the test runs ------------------------------------------------------------------
# The project's DAG on the tiny embedded demo (tests/workflow/test_pipeline.py): seven small
# generated videos in three chunks (a job per chunk and extraction stage), then pack, train,
# infer, evaluate and report.
TARGETS: list[str] = ["all"]
OUTPUTS: list[str] = ["report.md", "metrics.json", "train/training.json"]
# The jobs SLURM gets (the weights are in the test's cache already, so i3d_weights does not
# run; it and the other rules of the Snakefile's `localrules` run inside Snakemake).
SUBMITTED_RULES: dict[str, int] = {"demo_videos": 1, "dataset_summary": 1, "decode_chunk": 3,
                                   "flow_chunk": 3, "features_chunk": 3, "train": 1, "infer": 1,
                                   "infer_untrained": 1}  # fmt: skip
# On top of the profile: job states are polled every second instead of 40 s after
# submission and then every 10 to 180 s. (No GPU is asked for: the demo's devices are cpu.)
EXTRA_ARGS: list[str] = [
    "--slurm-init-seconds-before-status-checks",
    "1",
    "--seconds-between-status-checks",
    "1",
]
TIMEOUT_S = 900

SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+)")
COMMENT = re.compile(r"Comment=rule_(\S+)")  # rule_<rule>, or rule_<rule>_wildcards_<values>

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("snakemake_executor_plugin_slurm") is None,
        reason="snakemake-executor-plugin-slurm is not installed",
    ),
    pytest.mark.skipif(SNAKEMAKE is None, reason="snakemake is not installed"),
]


def run_snakemake(
    args: list[str], *, cwd: Path, env: dict[str, str], out: Path
) -> tuple[int | None, str, float]:
    """Snakemake in its own session, output to files: (exit code or None on timeout, its
    stdout + stderr, seconds)."""
    stdout, stderr = out / "snakemake.stdout", out / "snakemake.stderr"
    start = time.monotonic()
    with stdout.open("wb") as o, stderr.open("wb") as e:
        process = subprocess.Popen(
            [SNAKEMAKE, *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=o,
            stderr=e,
            start_new_session=True,
        )
        try:
            code = process.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            # Ctrl-C: Snakemake scancels its jobs (SIGTERM would wait for them to finish).
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            code = None
    text = f"--- snakemake stdout\n{stdout.read_text(errors='replace')}"
    text += f"\n--- snakemake stderr\n{stderr.read_text(errors='replace')}"
    return code, text, time.monotonic() - start


def test_profile_runs_the_tiny_pipeline_as_slurm_jobs(slurm_cluster, kinetics_cache, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(tiny_demo(tmp_path, kinetics_cache)))
    env = {**slurm_cluster.env}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    args = [*TARGETS, "--profile", str(PROFILE), *EXTRA_ARGS, "--configfile", str(config)]
    code, output, seconds = run_snakemake(args, cwd=ROOT, env=env, out=tmp_path)
    slurm_cluster.timings["run_s"] = seconds
    print("timings (s):", {k: round(v, 1) for k, v in slurm_cluster.timings.items()})

    def context() -> str:
        """Snakemake's output, the SLURM logs of the jobs that were kept, the daemons' logs."""
        jobs = sorted((ROOT / ".snakemake" / "slurm_logs").rglob("*.log"))
        kept = "".join(f"\n--- {p}\n{p.read_text(errors='replace')[-3000:]}" for p in jobs[-5:])
        return f"{output}{kept}\n--- SLURM daemons\n{slurm_cluster.logs()}"

    assert code is not None, f"snakemake still running after {TIMEOUT_S} s\n{context()}"
    assert code == 0, f"snakemake exited with {code}\n{context()}"
    out = tmp_path / "results" / "tiny"
    for name in OUTPUTS:
        assert (out / name).is_file(), f"missing output {name}\n{context()}"

    # Every job went through sbatch, and SLURM ran them to completion: the cluster's jobs
    # and none of the local rules.
    submitted = dict(SUBMITTED.findall(output))
    jobs = {i: slurm_cluster.run("scontrol", "show", "job", i).stdout for i in submitted.values()}
    for slurm_id, job in jobs.items():
        assert "JobState=COMPLETED" in job, f"SLURM job {slurm_id}: {job}\n{context()}"
    rules = [m.split("_wildcards_")[0] for job in jobs.values() for m in COMMENT.findall(job)]
    assert len(rules) == len(jobs), f"a job without its rule in the comment\n{context()}"
    assert {rule: rules.count(rule) for rule in set(rules)} == SUBMITTED_RULES, context()
    # The train job got the rule's threads and memory, and no GPU (training.device cpu).
    train = next(job for job in jobs.values() if "Comment=rule_train" in job)
    assert "NumCPUs=2" in train and "gpu" not in train.lower(), train
