"""The Snakemake internals the Snakefile and workflow/rules/common.smk read, checked on the
pinned Snakemake through its API: an upgrade that renames or retypes one of them fails here,
loudly, rather than silently changing what the workflow does (the config merge, the forced
extraction stages). The Snakefile asks for the pinned version (min_version)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from tests.workflow.test_extraction_jobs import LOAD_WORKFLOW, VIDEOS, write_plan
from tests.workflow.test_workflow import ROOT

#: Python that parses the workflow with the config file named by its first argument, checks
#: what the workflow reads and the type it expects (then again after a dry run with
#: --forcerun flow, the moment common.smk reads the DAG's forced rules and files) and prints
#: the findings.
PROBE = (
    LOAD_WORKFLOW
    + """
    import os
    from collections.abc import Mapping
    from snakemake.settings.types import DAGSettings
    settings = workflow.config_settings
    facts = {
        "basedir": isinstance(workflow.basedir, str) and workflow.basedir,
        "configfiles": isinstance(workflow.configfiles, list),
        "config_settings.configfiles": all(isinstance(f, Path) for f in settings.configfiles)
        and len(settings.configfiles) == 1,
        "config_settings.replace_workflow_config": settings.replace_workflow_config is True,
        "config_settings.config": isinstance(settings.config, Mapping),
        "remote_exec": workflow.remote_exec is False,
        "subprocess_exec": workflow.subprocess_exec is False,
        "get_rule": workflow.get_rule("flow_chunk").name,
    }
    dag = api_workflow.dag(DAGSettings(targets={"flow"}, forcerun={"flow"}))
    dag.execute_workflow(pseudo_executor="dryrun")
    facts["dag.forcerules"] = isinstance(workflow.dag.forcerules, set) and sorted(
        rule.name for rule in workflow.dag.forcerules)
    facts["dag.forcefiles"] = isinstance(workflow.dag.forcefiles, set)
    facts["redo"] = json.loads(os.environ["WTAL_REDO"])
    print("FACTS", json.dumps(facts))
"""
)


def test_the_internals_the_workflow_reads_are_there_with_their_types(tmp_path):
    config = write_plan(tmp_path, VIDEOS, videos_per_job=7)
    result = subprocess.run([sys.executable, "-c", PROBE, str(config)], cwd=ROOT,
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("FACTS ")]
    facts = json.loads(line.removeprefix("FACTS "))
    assert facts == {
        "basedir": str(ROOT),
        "configfiles": True,
        "config_settings.configfiles": True,
        "config_settings.replace_workflow_config": True,
        "config_settings.config": True,
        "remote_exec": True,
        "subprocess_exec": True,
        "get_rule": "flow_chunk",
        # --forcerun flow names the stage target; common.smk adds its chunk rule and tells
        # the jobs (WTAL_REDO)
        "dag.forcerules": ["flow", "flow_chunk"],
        "dag.forcefiles": True,
        "redo": {"stages": ["flow"], "records": []},
    }


def test_the_snakefile_asks_for_the_pinned_snakemake():
    pins = (ROOT / "pyproject.toml").read_text()
    (pinned,) = re.findall(r'"snakemake==([^"]+)"', pins)
    asked = re.findall(r'^min_version\("([^"]+)"\)', (ROOT / "Snakefile").read_text(), re.M)
    assert asked == [pinned]
