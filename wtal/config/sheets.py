"""Experiment sheets: named runs as config overrides x seeds, schema-checked
(``wtal/schemas/sheet.schema.yaml``), expanded by the workflow into one training job per
run and seed (workflow/rules/experiments.smk) and summed up by ``wtal compare --sheet``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wtal.config.load import load_config
from wtal.config.overrides import merge
from wtal.config.safe_yaml import read_yaml_file
from wtal.config.schema import validate_config
from wtal.errors import MAX_PROBLEMS, PATH_MAX, PROBLEM, ConfigError, excerpt, quoted


@dataclass(frozen=True)
class SheetRun:
    name: str
    label: str
    overrides: dict[str, Any]
    paper: dict[str, Any] | None


@dataclass(frozen=True)
class Sheet:
    path: Path
    name: str
    title: str
    notes: str
    config: Path  # the base wtal config, absolute
    seeds: tuple[int, ...]
    runs: tuple[SheetRun, ...]
    synthetic: dict[str, Any] | None
    published: str | None

    def run(self, name: str) -> SheetRun:
        for run in self.runs:
            if run.name == name:
                return run
        runs = excerpt(self.names(), PROBLEM)
        raise ConfigError(self.path, f"no run named {quoted(name)} (runs: {runs})")

    def names(self) -> str:
        return ", ".join(r.name for r in self.runs)


def load_sheet(path: str | os.PathLike[str]) -> Sheet:
    """Read and check a sheet; its config path is resolved beside it and must exist."""
    file = Path(path)
    data = read_yaml_file(file, "experiment sheet")
    sheet = validate_config(data, file, schema="sheet")
    names = [r["name"] for r in sheet["runs"]]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        shown = ", ".join(excerpt(name) for name in repeated[:MAX_PROBLEMS])
        more = f" and {len(repeated) - MAX_PROBLEMS:,} more" if len(repeated) > MAX_PROBLEMS else ""
        raise ConfigError(file, f"run names must be unique: {shown}{more} repeated")
    config = (file.parent / sheet["config"]).resolve()
    if not config.is_file():
        written = quoted(sheet["config"])
        raise ConfigError(file, f"config: {written}: {excerpt(str(config), PATH_MAX)} not found")
    runs = tuple(
        SheetRun(r["name"], r.get("label", r["name"]), r.get("set", {}), r.get("paper"))
        for r in sheet["runs"]
    )
    return Sheet(
        file,
        sheet["name"],
        sheet.get("title", sheet["name"]),
        sheet.get("notes", ""),
        config,
        tuple(sheet["seeds"]),
        runs,
        sheet["synthetic"] if "synthetic" in data else None,  # (defaults fill an empty one)
        sheet.get("published"),
    )


def run_config(sheet: Sheet, run: str, seed: int) -> dict[str, Any]:
    """The validated config of one run at one seed: the sheet's config, the run's
    overrides, then ``training.seed``. A bad override names the sheet and the run."""
    spec = sheet.run(run)
    overrides = merge(spec.overrides, {"training": {"seed": seed}})
    try:
        return load_config(sheet.config, overrides)
    except ConfigError as exc:
        # load_config names the overrides as the command line's --set; here the sheet set them.
        problem = str(exc).replace("--set ", "set: ")
        raise ConfigError(sheet.path, f"run {quoted(run)}: {problem}") from None
