"""Undefined metrics (a subset without ground-truth instances: null in metrics.json) read as
"n/a" in the report, in `wtal compare` and in the per-class figure, never as 0.00."""

from __future__ import annotations

import json

import numpy as np

from tests.wtal.report.test_compare import write_run
from wtal.cli import main
from wtal.evaluation import evaluate_detection
from wtal.evaluation.tables import ground_truth_from_dict, predictions_from_dict
from wtal.report.class_ap import class_ap
from wtal.report.compare import compare_runs, comparison_json, format_comparison, read_run
from wtal.report.markdown import build_report

TIOU = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]


def undefined_metrics() -> dict:
    gt = ground_truth_from_dict(
        {"database": {"w": {"subset": "test", "duration": 9.0, "annotations": []}}}, "test"
    )
    pred = predictions_from_dict({"results": {}})
    return evaluate_detection(gt, pred, np.array(TIOU)).to_dict()


def test_the_report_shows_n_a_for_undefined_map(tmp_path):
    metrics = undefined_metrics()
    (tmp_path / "metrics.json").write_text(json.dumps(metrics, allow_nan=False))
    config = {
        "dataset": {"name": "toy", "annotations": "gt.json", "features": "f"},
        "results_dir": str(tmp_path / "results"),
    }
    text = build_report(
        config=config, metrics_path=tmp_path / "metrics.json", output=tmp_path / "report.md"
    )
    (row,) = [line for line in text.splitlines() if line.startswith("| TSM + VLC")]
    cells = [c.strip() for c in row.strip("|").split("|")][1:]
    assert cells == ["n/a"] * 10  # seven thresholds and three range averages
    assert "0.00" not in row


def test_compare_shows_n_a_and_writes_null(tmp_path, capsys):
    runs = [write_run(tmp_path / f"run{seed}", seed, 0.5) for seed in (0, 1)]
    for folder in runs[1:]:
        path = folder / "test_metrics.json"
        data = json.loads(path.read_text())
        data["selected"]["average_mAP"] = None
        data["selected"]["mAP"] = [None] * 4
        path.write_text(json.dumps(data))
    undefined = write_run(tmp_path / "other0", 0, 0.5, mode="baseline")
    data = json.loads((undefined / "test_metrics.json").read_text())
    data["selected"].update(average_mAP=None, mAP=[None] * 4)
    (undefined / "test_metrics.json").write_text(json.dumps(data))
    summaries = compare_runs([read_run(r) for r in [*runs, undefined]])
    table = format_comparison(summaries)
    reference, other = table.splitlines()[2:4]
    assert "| reference | 0,1 | n/a | n/a |" in reference
    assert '| model.mode="baseline" | 0 | n/a | n/a |' in other
    assert other.endswith("| — | — | — |")  # no seed has a defined pair: no paired difference
    out = comparison_json(summaries)
    json.dumps(out, allow_nan=False)
    assert out["settings"][0]["average_mAP"] == {"mean": None, "std": None}
    assert out["settings"][0]["runs"][1]["average_mAP"] is None
    assert main(["compare", *map(str, [*runs, undefined])]) == 0
    assert "n/a" in capsys.readouterr().out


def test_class_ap_leaves_out_classes_without_ground_truth():
    metrics = {
        "tiou": [0.5],
        "per_class_AP": {"A": [0.75], "B": [None], "C": [0.0]},
    }
    names, values = class_ap(metrics, 0.5)
    assert names == ("A", "C") and values.tolist() == [0.75, 0.0]
    names, values = class_ap(undefined_metrics())
    assert names == () and values.size == 0
