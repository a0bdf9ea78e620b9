"""The run report (results/<dataset>/report.md): config, data statistics, the metrics table
beside the untrained model and the paper's published numbers, the protocol of every number,
figures, and the videos that failed."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from wtal.evaluation.metrics import percent
from wtal.utils.files import read_json

#: docs/method.md §7: THUMOS14 test, mAP@0.1..0.7, the authors' test-selected checkpoint.
PAPER_THUMOS14 = {
    "tiou": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
    "mAP": [71.1, 65.0, 56.2, 47.8, 39.3, 27.5, 15.2],
    "averages": {"0.3:0.7": 37.2, "0.1:0.7": 46.0},
}
#: docs/method.md §7: ActivityNet1.3 validation, mAP@0.5/0.75/0.95 and the 0.5:0.95 mean.
PAPER_ACTIVITYNET = {"tiou": [0.5, 0.75, 0.95], "mAP": [41.8, 26.0, 6.0], "average": 26.0}


def _read(path: str | os.PathLike[str] | None) -> dict[str, Any] | None:
    """An optional input: None when not given or absent; errors name the file."""
    if path is None or not Path(path).is_file():
        return None
    return read_json(path)


def _metrics_rows(metrics: dict[str, Any]) -> tuple[list[str], list[str]]:
    head = [f"mAP@{t:g}" for t in metrics["tiou"]]
    row = [percent(m) for m in metrics["mAP"]]
    averages = metrics.get("average_mAP_ranges") or {"all": metrics["average_mAP"]}
    head += [f"avg {k}" for k in averages]
    row += [percent(v) for v in averages.values()]
    return head, row


def _paper_row(head: list[str], dataset_name: str) -> list[str] | None:
    paper = PAPER_THUMOS14 if "thumos" in dataset_name.lower() else None
    if paper is None and "activitynet" in dataset_name.lower():
        paper = {"tiou": PAPER_ACTIVITYNET["tiou"], "mAP": PAPER_ACTIVITYNET["mAP"],
                 "averages": {"all": PAPER_ACTIVITYNET["average"]}}  # fmt: skip
    if paper is None:
        return None
    values = {f"mAP@{t:g}": f"{m:.1f}" for t, m in zip(paper["tiou"], paper["mAP"], strict=True)}
    values.update({f"avg {k}": f"{v:.1f}" for k, v in paper["averages"].items()})
    return [values.get(h, "") for h in head]


def _table(head: list[str], rows: list[tuple[str, list[str]]]) -> list[str]:
    lines = ["| model | " + " | ".join(head) + " |", "|---|" + "---:|" * len(head)]
    lines += [f"| {name} | " + " | ".join(row) + " |" for name, row in rows]
    return lines


def build_report(
    *,
    config: dict[str, Any],
    metrics_path: str | os.PathLike[str],
    untrained_path: str | os.PathLike[str] | None = None,
    training_path: str | os.PathLike[str] | None = None,
    summary_path: str | os.PathLike[str] | None = None,
    inventory_path: str | os.PathLike[str] | None = None,
    output: str | os.PathLike[str],
) -> str:
    """The Markdown text of the report; figure links are relative to ``output``'s folder."""
    out_dir = Path(output).parent
    metrics = read_json(metrics_path)  # required: a missing file is an error naming it
    untrained = _read(untrained_path)
    training = _read(training_path) or {}
    summary = _read(summary_path) or {}
    inventory = _read(inventory_path)
    dataset = config["dataset"]
    name = dataset["name"]
    lines = [f"# Report: {name}", ""]

    lines += ["## Results", ""]
    head, ours = _metrics_rows(metrics)
    selection = training.get("selection", "?")
    iteration = (training.get("best") or {}).get("iteration", training.get("iterations_done"))
    rows = [(f"TSM + VLC (checkpoint chosen by {selection}, iteration {iteration})", ours)]
    if untrained is not None:
        rows.append(("untrained model (same seed, iteration 0)", _metrics_rows(untrained)[1]))
    paper = _paper_row(head, name)
    if paper is not None:
        rows.append(("paper (published; checkpoint chosen on the test set)", paper))
    lines += [*_table(head, rows), ""]
    protocol = metrics.get("protocol", {})
    counts = metrics.get("counts", {})
    lines += [
        f"Protocol: test subset `{protocol.get('subset', dataset.get('test_subset'))}`, "
        f"{protocol.get('matching', 'ActivityNet matching')}, units {protocol.get('units')}, "
        f"ambiguous filtering {'on' if protocol.get('ambiguous_filter') else 'off'}; "
        f"{counts.get('ground_truth_instances', '?')} instances in "
        f"{counts.get('ground_truth_videos', '?')} videos, {counts.get('predictions', '?')} "
        "predictions. mAP in %. The checkpoint was never chosen with test data.",
        "",
    ]
    if metrics.get("classification_mAP") is not None:
        lines.append(f"- Video classification mAP: {percent(metrics['classification_mAP'])}%")
    rates = metrics.get("foreground_classification")
    if rates:
        lines.append(
            f"- Segment-level foreground (attention >= 0.5): false positive rate "
            f"{percent(rates['false_positive_rate'])}%, false negative rate "
            f"{percent(rates['false_negative_rate'])}% (paper §4.4 diagnostic)"
        )
    lines.append("")

    lines += ["## Data", ""]
    source = (
        f"raw videos in `{dataset['videos']}` (decode -> TV-L1 flow -> I3D features)"
        if dataset.get("videos")
        else f"released features `{dataset.get('features')}`"
    )
    lines.append(f"Dataset `{name}` from {source}; annotations `{dataset['annotations']}`.")
    lines.append("")
    subsets = summary.get("subsets", {})
    if subsets:
        lines += ["| subset | videos | instances | total duration (h) | median instance (s) |",
                  "|---|---:|---:|---:|---:|"]  # fmt: skip
        for subset, stats in subsets.items():
            lengths = stats.get("instance_length_s") or {}
            lines.append(
                f"| {subset} | {stats.get('videos')} | {stats.get('instances')} | "
                f"{(stats.get('total_duration_s') or 0) / 3600:.2f} | "
                f"{lengths.get('median', float('nan')):.2f} |"
            )
        lines.append("")
    if inventory is not None:
        failed = inventory.get("failed", {})
        lines.append(f"Videos decoded: {len(inventory.get('ok', []))}; failed: {len(failed)}.")
        if failed:
            lines += ["", "### Failed videos", ""]
            lines += [f"- `{video}`: {reason}" for video, reason in sorted(failed.items())]
        lines.append("")

    lines += ["## Configuration", ""]
    extraction = config.get("extraction", {})
    if dataset.get("videos"):
        lines.append(
            f"- Extraction: short side {extraction.get('short_side')}, crop "
            f"{extraction.get('crop')}, TV-L1 preset `{extraction.get('flow_preset')}`; "
            "flow I3D cross-modality initialised from the RGB Kinetics weights unless "
            "flow weights were given (see each features/<video>/meta.json)."
        )
    model, train = config.get("model", {}), config.get("training", {})
    lines += [
        f"- Model: preset `{model.get('preset')}`, mode `{model.get('mode')}`, VLC "
        f"{'on' if model.get('vlc', {}).get('enabled') else 'off'}.",
        f"- Training: {training.get('iterations_done', train.get('iterations'))} iterations, "
        f"max_seqlen {train.get('max_seqlen')}, seed {training.get('seed', train.get('seed'))}, "
        f"device {training.get('device', train.get('device'))}, selection `{selection}` "
        f"({training.get('train_videos', '?')} training / "
        f"{training.get('validation_videos', '?')} validation videos).",
        f"- Software: {json.dumps(training.get('versions', {}))}; word vectors "
        f"{training.get('word_vectors', '?')}.",
        "",
    ]

    figures = [
        ("Training losses", Path(config["results_dir"], name, "train", "losses.png")),
        ("Per-class AP at tIoU 0.5", Path(config["results_dir"], name, "infer", "figures",
                                          "class_ap.png")),
        ("Precision-recall at tIoU 0.5", Path(config["results_dir"], name, "infer", "figures",
                                              "precision_recall.png")),
    ]  # fmt: skip
    timelines = sorted(
        Path(config["results_dir"], name, "infer", "figures", "timelines").glob("*.png")
    )
    figures += [(f"Timeline {p.stem}", p) for p in timelines[:4]]
    present = [(title, path) for title, path in figures if path.is_file()]
    if present:
        lines += ["## Figures", ""]
        for title, path in present:
            lines += [f"### {title}", "", f"![{title}]({os.path.relpath(path, out_dir)})", ""]
    return "\n".join(lines)
