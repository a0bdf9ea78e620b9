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
# The project's DAG on the tiny embedded demo (tests/workflow/test_pipeline.py): six small
# generated videos through decode, flow, features, pack, train, infer, evaluate and report.
TARGETS: list[str] = ["all"]
OUTPUTS: list[str] = ["report.md", "metrics.json", "train/training.json"]
# On top of the profile: the test cluster has no GPU (the profile asks one for `train`;
# this replaces the profile's whole set-resources), and job states are polled every second
# instead of 40 s after submission and then every 10 to 180 s.
EXTRA_ARGS: list[str] = [
    "--set-resources",
    "train:gpu=0",
    "--slurm-init-seconds-before-status-checks",
    "1",
    "--seconds-between-status-checks",
    "1",
]
TIMEOUT_S = 900

SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+)")

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

    # Every job went through sbatch, and SLURM ran them to completion.
    submitted = dict(SUBMITTED.findall(output))
    assert len(submitted) >= 20, f"expected SLURM submissions in the log\n{context()}"
    for slurm_id in submitted.values():
        job = slurm_cluster.run("scontrol", "show", "job", slurm_id).stdout
        assert "JobState=COMPLETED" in job, f"SLURM job {slurm_id}: {job}\n{context()}"
    # The train job got the rule's threads and memory; its GPU request was overridden away.
    train = [slurm_cluster.run("scontrol", "show", "job", i).stdout for i in submitted.values()]
    train = next(job for job in train if "rule_train" in job)
    assert "NumCPUs=2" in train and "gpu" not in train.lower(), train
