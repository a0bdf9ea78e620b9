"""Workflow-test fixtures: the throw-away SLURM cluster (tests/workflow/slurm.py)."""

from __future__ import annotations

import pytest

from tests.workflow.slurm import slurm_cluster  # noqa: F401 - a fixture, found by pytest here


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "slurm: runs Snakemake on a real one-node SLURM cluster started by the test "
        "(root on Linux; installs slurmctld/slurmd/munge with apt-get when missing). "
        "Deselect with -m 'not slurm'.",
    )
