"""The table of an experiment sheet: every run's seeds summed up by :mod:`wtal.report.compare`
(mean ± std, paired differences against the sheet's first run), rows named as the sheet
names them, the paper's numbers beside them where the runs were on the dataset the paper
measured them on, and a figure of the same."""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any

from wtal.config.sheets import Sheet
from wtal.report.compare import (
    SettingSummary,
    compare_runs,
    comparison_json,
    format_comparison,
    read_run,
)
from wtal.utils.files import atomic_open, read_json


def run_folder(root: str | os.PathLike[str], run: str, seed: int) -> Path:
    """Where the workflow trains one run of a sheet at one seed."""
    return Path(root, run, f"seed{seed}")


def _dataset_name(folder: Path) -> str | None:
    config = read_json(folder / "training.json").get("config") or {}
    return (config.get("dataset") or {}).get("name")


def sheet_summaries(sheet: Sheet, root: str | os.PathLike[str]) -> list[SettingSummary]:
    """One summary per sheet run, in the sheet's order, labelled by the sheet."""
    runs = [read_run(run_folder(root, r.name, seed)) for r in sheet.runs for seed in sheet.seeds]
    summaries = compare_runs(runs)
    by_folder = {run_folder(root, r.name, s): r for r in sheet.runs for s in sheet.seeds}
    labelled = []
    for summary in summaries:
        spec = by_folder[summary.runs[0].path]
        detail = "reference" if summary.paired is None else summary.label
        labelled.append(dataclasses.replace(summary, label=f"{spec.label} ({detail})"))
    return labelled


def shows_published(sheet: Sheet, root: str | os.PathLike[str]) -> bool:
    """The paper's numbers are shown only beside runs on the dataset they were measured on."""
    if sheet.published is None:
        return False
    names = {_dataset_name(run_folder(root, sheet.runs[0].name, seed)) for seed in sheet.seeds}
    return names == {sheet.published}


def _paper_value(paper: dict[str, Any], tiou: float) -> float | None:
    for t, value in zip(paper.get("tiou", []), paper.get("mAP", []), strict=False):
        if abs(t - tiou) < 1e-9:
            return float(value)
    return None


def published_table(sheet: Sheet, summaries: list[SettingSummary]) -> list[str]:
    """Ours beside the paper's at the thresholds the paper gives, in %."""
    tious = sorted({t for r in sheet.runs if r.paper for t in r.paper.get("tiou", [])})
    first = summaries[0].runs[0]
    head = ["setting", *[f"mAP@{t:g} ours / paper" for t in tious], "avg ours / paper"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for spec, summary in zip(sheet.runs, summaries, strict=True):
        paper = spec.paper or {}
        cells = [spec.label]
        for t in tious:
            index = next((i for i, x in enumerate(first.tiou) if abs(x - t) < 1e-9), None)
            ours = "n/a" if index is None else f"{100 * summary.mAP[index][0]:.1f}"
            theirs = _paper_value(paper, t)
            cells.append(f"{ours} / {'—' if theirs is None else f'{theirs:.1f}'}")
        average = _average_over(summary, first.tiou, paper.get("average_range", "0.3:0.7"))
        theirs = paper.get("average")
        cells.append(f"{average} / {'—' if theirs is None else f'{theirs:.1f}'}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _average_over(summary: SettingSummary, tiou: tuple[float, ...], span: str) -> str:
    """Our mean mAP over the paper's tIoU range ``span`` (``lo:hi``), mean over seeds, %."""
    lo, hi = (float(x) for x in span.split(":"))
    index = [i for i, t in enumerate(tiou) if lo - 1e-9 <= t <= hi + 1e-9]
    if not index:
        return "n/a"
    per_seed = [sum(r.mAP[i] for i in index) / len(index) for r in summary.runs]
    return f"{100 * sum(per_seed) / len(per_seed):.1f}"


def sheet_markdown(sheet: Sheet, root: str | os.PathLike[str]) -> tuple[str, dict[str, Any]]:
    """The sheet's table (Markdown) and its JSON."""
    summaries = sheet_summaries(sheet, root)
    lines = [f"# {sheet.title}", ""]
    if sheet.notes:
        lines += [sheet.notes.strip(), ""]
    lines += [format_comparison(summaries), ""]
    published = shows_published(sheet, root)
    if published:
        lines += [
            f"## Beside the paper's numbers ({sheet.published}; the paper's checkpoints were "
            "selected on the test set, ours on a validation split of the training videos)",
            "",
            *published_table(sheet, summaries),
            "",
        ]
    elif sheet.published is not None:
        lines += [
            f"The paper's numbers ({sheet.published}) are not shown: these runs are on another "
            "dataset, where they mean nothing.",
            "",
        ]
    data = comparison_json(summaries)
    data["sheet"] = {"name": sheet.name, "path": str(sheet.path), "seeds": list(sheet.seeds)}
    for entry, spec in zip(data["settings"], sheet.runs, strict=True):
        entry["run"] = spec.name
        entry["paper"] = spec.paper if published else None
    return "\n".join(lines), data


def plot_sheet(sheet: Sheet, data: dict[str, Any], output: str | os.PathLike[str]) -> None:
    """Average mAP per setting, mean ± std over seeds with every seed as a dot, and the
    paper's average beside it where it is shown."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    settings = data["settings"]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(settings) + 1.5), 3.8))
    for x, entry in enumerate(settings):
        mean, std = entry["average_mAP"]["mean"], entry["average_mAP"]["std"]
        if mean is not None:
            ax.bar(x, 100 * mean, width=0.6, color="tab:blue", alpha=0.75)
            if std is not None and not math.isnan(std):
                ax.errorbar(x, 100 * mean, yerr=100 * std, color="black", capsize=4)
        seeds = [r["average_mAP"] for r in entry["runs"] if r["average_mAP"] is not None]
        ax.scatter([x] * len(seeds), [100 * v for v in seeds], s=10, color="black", zorder=3)
        paper = entry.get("paper") or {}
        if paper.get("average") is not None:
            ax.scatter(
                [x + 0.38],
                [paper["average"]],
                marker="D",
                color="tab:red",
                zorder=3,
                label="paper" if x == 0 else None,
            )
    ax.set_xticks(range(len(settings)), [e["run"] for e in settings], rotation=30, ha="right")
    low, high = data["tiou"][0], data["tiou"][-1]
    ax.set_ylabel(f"avg mAP {low:g}:{high:g} (%)")
    ax.set_title(sheet.title, fontsize=9)
    if any((e.get("paper") or {}).get("average") is not None for e in settings):
        ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_open(output, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)
