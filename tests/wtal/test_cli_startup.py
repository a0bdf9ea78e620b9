"""What starting costs: `wtal --help`, every command's help and the workflow's DAG build load
none of the heavy libraries (torch, OpenCV, SciPy, ...); a command loads them when it runs, a
job when it needs them. Each check runs in a fresh interpreter, so nothing else is loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.workflow.test_extraction_jobs import LOAD_WORKFLOW

ROOT = Path(__file__).resolve().parents[2]

#: Loaded by a command's run or a workflow job, never by a help text or the DAG build.
HEAVY = ("torch", "cv2", "scipy", "matplotlib", "decord", "pandas")

HELP_PROBE = """
import argparse, contextlib, io, json, sys
import wtal.cli
parser = wtal.cli.build_parser()
(commands,) = (a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction))
shown = io.StringIO()
with contextlib.redirect_stdout(shown):
    for argv in [["--help"], *([name, "--help"] for name in commands)]:
        try:
            wtal.cli.main(argv)
        except SystemExit:
            pass
usages = shown.getvalue().count("usage:")
loaded = sorted(set(sys.argv[1:]) & set(sys.modules))
print("RESULT", json.dumps({"commands": sorted(commands), "usages": usages, "loaded": loaded}))
"""

WORKFLOW_PROBE = (
    LOAD_WORKFLOW
    + """
    rules = sorted(rule.name for rule in workflow.rules)
loaded = sorted(set(sys.argv[2:]) & set(sys.modules))
print("RESULT", json.dumps({"rules": rules, "loaded": loaded}))
"""
)


def probe(code: str, *args: str) -> dict:
    """Run ``code`` in a fresh interpreter at the project root; its ``RESULT`` line, read."""
    result = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT,
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    return json.loads(line.removeprefix("RESULT "))


def test_the_help_of_wtal_and_of_every_command_loads_no_heavy_library():
    found = probe(HELP_PROBE, *HEAVY)
    assert {"extract", "flow", "train", "make-synthetic", "make-demo-videos"} <= set(
        found["commands"]
    )
    assert found["usages"] == 1 + len(found["commands"])  # every help was printed
    assert found["loaded"] == []


def test_building_the_workflow_loads_no_torch_nor_opencv():
    # The default config (the demo) plans its videos and includes the extraction rules, whose
    # weights rule names the cached Kinetics weights; pandas is Snakemake's own import.
    found = probe(WORKFLOW_PROBE, "config/config.yaml", *(m for m in HEAVY if m != "pandas"))
    assert "i3d_weights" in found["rules"]
    assert found["loaded"] == []
