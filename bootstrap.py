#!/usr/bin/env python3
"""The README's two commands, with nothing but Python 3.11 and pip on the machine.

    python3 bootstrap.py run    [snakemake arguments]   # the main job: snakemake --cores 2 all
    python3 bootstrap.py test   [pytest arguments]      # lint + the test suite

Both create ``.venv`` at the repository root when it is missing and (re)install the project
into it when ``pyproject.toml`` changed since the last install; both are safe to rerun.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".wtal-installed"


def _run(*command: str | os.PathLike[str]) -> None:
    print("+", " ".join(str(c) for c in command), flush=True)
    subprocess.run([str(c) for c in command], cwd=ROOT, check=True)


def ensure_environment() -> None:
    """Create .venv if missing; install the project (editable) with its test extras."""
    if sys.version_info[:2] != (3, 11):
        print(f"note: the project is pinned and tested on Python 3.11; this is {sys.version}")
    if not (BIN / "python").exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    _run(
        BIN / "python",
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "-q",
        "-e",
        f"{ROOT}[test]",
    )
    STAMP.write_text(wanted + "\n")


# Snakemake reads --configfile files itself, with a YAML reader that expands aliases, before
# the workflow's own bounded reader sees them: they are read here first (an alias bomb would
# otherwise take Snakemake's memory; wtal.config.safe_yaml.read_yaml_file refuses it in one line).
CHECK_CONFIGFILES = """
import sys
from wtal.config.safe_yaml import read_yaml_file
from wtal.errors import WtalError
for path in sys.argv[1:]:
    try:
        read_yaml_file(path)
    except WtalError as exc:
        sys.exit(f"error: {exc}")
"""


def configfiles(arguments: list[str]) -> list[str]:
    """The files named by ``--configfile``/``--configfiles`` among Snakemake's arguments."""
    files, taking = [], False
    for argument in arguments:
        if argument.startswith("-"):
            name, equals, value = argument.partition("=")
            taking = name in ("--configfile", "--configfiles") and not equals
            if name in ("--configfile", "--configfiles") and equals:
                files.append(value)  # argparse takes one value after "="
        elif taking:
            files.append(argument)
    return files


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test"}:
        print(__doc__)
        return 2
    ensure_environment()
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    if argv[0] == "run":
        files = configfiles(argv[1:])
        if (
            files
            and subprocess.run([str(BIN / "python"), "-c", CHECK_CONFIGFILES, *files]).returncode
        ):
            return 1
        command = [BIN / "snakemake", "--cores", "2", *(argv[1:] or ["all"])]
        return subprocess.run([str(c) for c in command], cwd=ROOT, env=env).returncode
    for lint in (["ruff", "check", "."], ["ruff", "format", "--check", "."]):
        print("+", " ".join(lint), flush=True)
        if subprocess.run([str(BIN / lint[0]), *lint[1:]], cwd=ROOT, env=env).returncode:
            return 1
    command = [BIN / "python", "-m", "pytest", *argv[1:]]
    print("+", " ".join(str(c) for c in command), flush=True)
    return subprocess.run([str(c) for c in command], cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
