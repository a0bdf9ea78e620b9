"""Comparing training runs over seeds: which settings are better, and by more than the noise?

Each run is a ``wtal train --test`` output folder (``training.json`` with the config it used,
``test_metrics.json`` with the test metrics of the checkpoint selected on validation). Runs
whose configs differ only in ``training.seed`` are one *setting*; every setting is summarised
by the mean and sample standard deviation over its seeds, and compared with the reference
setting (the first run's) on the seeds both have: the mean paired difference, how many seeds
it wins, and a two-sided paired t-test.
"""

from __future__ import annotations

import copy
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from wtal.config.overrides import differences
from wtal.config.presets import PRESETS
from wtal.errors import InputFileError
from wtal.utils.files import read_json

#: Thresholds shown when the protocol has more than seven (ActivityNet: 0.5:0.05:0.95).
MANY_THRESHOLDS_SHOWN = (0.5, 0.75, 0.95)


@dataclass(frozen=True)
class Run:
    path: Path
    seed: int
    setting: str  # canonical JSON of the config without training.seed
    protocol: dict[str, Any]
    tiou: tuple[float, ...]
    average: float
    mAP: tuple[float, ...]
    fpr: float | None
    fnr: float | None
    iteration: int | None


def _without_seed(config: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(config)
    out.get("training", {}).pop("seed", None)
    return out


def _checkpoint_config(folder: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """Runs from before training.json recorded the config: read it from the checkpoint."""
    from wtal.models.checkpoint import read_checkpoint

    path = folder / "checkpoints" / str(summary.get("selected_checkpoint", "last.pt"))
    try:
        return read_checkpoint(path, "cpu", {"config": dict})["config"]
    except (OSError, InputFileError) as exc:
        raise InputFileError(
            folder / "training.json", f"has no 'config' and {path.name} gives none ({exc})"
        ) from None


def _metric(value: float | None) -> float:
    """A metric from JSON; null (undefined: no ground truth) becomes NaN, shown as n/a."""
    return math.nan if value is None else float(value)


def read_run(folder: str | os.PathLike[str]) -> Run:
    """One ``wtal train --test`` folder; errors name the file that is missing or wrong."""
    folder = Path(folder)
    summary = read_json(folder / "training.json")
    config = summary.get("config") or _checkpoint_config(folder, summary)
    metrics_path = folder / "test_metrics.json"
    if not metrics_path.is_file():
        raise InputFileError(metrics_path, "not found: train with --test to evaluate on test")
    selected = read_json(metrics_path).get("selected")
    if not isinstance(selected, dict) or "mAP" not in selected:
        raise InputFileError(metrics_path, "has no 'selected' metrics")
    foreground = selected.get("foreground_classification") or {}
    return Run(
        path=folder,
        seed=int(summary.get("seed", config["training"]["seed"])),
        setting=json.dumps(_without_seed(config), sort_keys=True),
        protocol=dict(selected["protocol"]),
        tiou=tuple(float(t) for t in selected["tiou"]),
        average=_metric(selected["average_mAP"]),
        mAP=tuple(_metric(m) for m in selected["mAP"]),
        fpr=foreground.get("false_positive_rate"),
        fnr=foreground.get("false_negative_rate"),
        iteration=(selected.get("checkpoint") or {}).get("iteration"),
    )


def setting_label(setting: str, reference: str) -> str:
    """The keys where ``setting`` differs from ``reference``, as ``key=value`` pairs."""
    if setting == reference:
        return "reference"
    changed = {
        key: value for key, _, value in differences(json.loads(reference), json.loads(setting))
    }
    preset = changed.get("model.preset")
    if preset in PRESETS:
        # Values that only follow from the other preset are implied by it: not listed.
        implied = {".".join(path): value for path, value in PRESETS[preset].items()}
        changed = {k: v for k, v in changed.items() if k not in implied or v != implied[k]}
    return ", ".join(f"{key}={json.dumps(value)}" for key, value in changed.items())


@dataclass(frozen=True)
class Paired:
    seeds: int
    mean: float
    std: float
    wins: int
    p_value: float | None  # two-sided paired t-test; None with fewer than 2 pairs or no spread


@dataclass(frozen=True)
class SettingSummary:
    label: str
    runs: tuple[Run, ...]
    average: tuple[float, float]  # mean, sample std (nan for one seed)
    mAP: tuple[tuple[float, float], ...]
    fpr: tuple[float, float] | None
    fnr: tuple[float, float] | None
    paired: Paired | None  # against the reference; None for the reference itself


def _mean_std(values: list[float]) -> tuple[float, float]:
    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else math.nan


def paired_difference(mine: dict[int, float], reference: dict[int, float]) -> Paired | None:
    """``mine - reference`` on the seeds both have."""
    seeds = sorted(
        s
        for s in set(mine) & set(reference)
        if not (math.isnan(mine[s]) or math.isnan(reference[s]))
    )
    if not seeds:
        return None
    diff = np.array([mine[s] - reference[s] for s in seeds])
    p_value = None
    if len(diff) > 1 and np.ptp(diff) > 0:
        p_value = float(stats.ttest_1samp(diff, 0.0).pvalue)  # = the paired t-test
    mean, std = _mean_std(list(diff))
    return Paired(len(seeds), mean, std, int((diff > 0).sum()), p_value)


def compare_runs(runs: list[Run]) -> list[SettingSummary]:
    """Group by setting (first run's setting is the reference) and summarise each group."""
    if not runs:
        raise ValueError("no runs to compare")
    first = runs[0]
    for run in runs[1:]:
        if run.protocol != first.protocol or run.tiou != first.tiou:
            raise InputFileError(
                run.path / "test_metrics.json",
                f"evaluated under another protocol than {first.path} "
                f"({run.protocol}, tIoU {run.tiou} vs {first.protocol}, tIoU {first.tiou})",
            )
    groups: dict[str, list[Run]] = {}
    for run in runs:
        group = groups.setdefault(run.setting, [])
        other = next((r for r in group if r.seed == run.seed), None)
        if other is not None:
            raise InputFileError(run.path, f"same settings and seed {run.seed} as {other.path}")
        group.append(run)
    reference = {r.seed: r.average for r in groups[first.setting]}
    out = []
    for setting, group in groups.items():
        group = sorted(group, key=lambda r: r.seed)
        fprs = [r.fpr for r in group if r.fpr is not None]
        fnrs = [r.fnr for r in group if r.fnr is not None]
        out.append(
            SettingSummary(
                label=setting_label(setting, first.setting),
                runs=tuple(group),
                average=_mean_std([r.average for r in group]),
                mAP=tuple(_mean_std([r.mAP[i] for r in group]) for i in range(len(first.tiou))),
                fpr=_mean_std(fprs) if len(fprs) == len(group) else None,
                fnr=_mean_std(fnrs) if len(fnrs) == len(group) else None,
                paired=None
                if setting == first.setting
                else paired_difference({r.seed: r.average for r in group}, reference),
            )
        )
    return out


def _shown_thresholds(tiou: tuple[float, ...]) -> list[int]:
    if len(tiou) <= 7:
        return list(range(len(tiou)))
    return [i for i, t in enumerate(tiou) if any(abs(t - s) < 1e-9 for s in MANY_THRESHOLDS_SHOWN)]


def _pm(value: tuple[float, float] | None) -> str:
    if value is None:
        return "n/a"
    mean, std = value
    if math.isnan(mean):
        return "n/a"
    return f"{100 * mean:.1f}" if math.isnan(std) else f"{100 * mean:.1f} ± {100 * std:.1f}"


def format_comparison(summaries: list[SettingSummary]) -> str:
    """A Markdown table (mean ± sample std over seeds, in %) with its protocol."""
    first = summaries[0].runs[0]
    shown = _shown_thresholds(first.tiou)
    head = (
        ["setting", "seeds", "avg mAP"]
        + [f"mAP@{first.tiou[i]:g}" for i in shown]
        + ["FPR", "FNR", "avg − reference (paired)", "wins", "p (paired t)"]
    )
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for s in summaries:
        paired = s.paired
        row = [
            s.label,
            ",".join(str(r.seed) for r in s.runs),
            _pm(s.average),
            *[_pm(s.mAP[i]) for i in shown],
            _pm(s.fpr),
            _pm(s.fnr),
            "—" if paired is None else _pm((paired.mean, paired.std)),
            "—" if paired is None else f"{paired.wins}/{paired.seeds}",
            "—" if paired is None or paired.p_value is None else f"{paired.p_value:.2f}",
        ]
        lines.append("| " + " | ".join(row) + " |")
    protocol = ", ".join(f"{k}: {v}" for k, v in first.protocol.items())
    lines += [
        "",
        f"Test metrics of the checkpoint each run selected on validation, in %: mean ± sample "
        f"standard deviation over seeds; avg mAP over tIoU {first.tiou[0]:g}:{first.tiou[-1]:g}; "
        f"paired differences on the seeds both settings have. Protocol: {protocol}.",
        f"Reference: the settings of {first.path}.",
    ]
    return "\n".join(lines)


def comparison_json(summaries: list[SettingSummary]) -> dict[str, Any]:
    def pair(value: tuple[float, float] | None) -> dict[str, float | None] | None:
        if value is None:
            return None
        mean, std = (None if math.isnan(v) else v for v in value)
        return {"mean": mean, "std": std}

    first = summaries[0].runs[0]
    return {
        "protocol": first.protocol,
        "tiou": list(first.tiou),
        "reference": str(first.path),
        "settings": [
            {
                "label": s.label,
                "runs": [
                    {
                        "path": str(r.path),
                        "seed": r.seed,
                        "average_mAP": None if math.isnan(r.average) else r.average,
                        "iteration": r.iteration,
                    }
                    for r in s.runs
                ],
                "average_mAP": pair(s.average),
                "mAP": [pair(m) for m in s.mAP],
                "false_positive_rate": pair(s.fpr),
                "false_negative_rate": pair(s.fnr),
                "paired_vs_reference": None
                if s.paired is None
                else {
                    "seeds": s.paired.seeds,
                    **pair((s.paired.mean, s.paired.std)),
                    "wins": s.paired.wins,
                    "p_value": s.paired.p_value,
                },
            }
            for s in summaries
        ],
    }
