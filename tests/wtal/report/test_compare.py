"""`wtal compare`: runs grouped by setting over seeds, paired differences, clear errors."""

from __future__ import annotations

import json
import math

import pytest
import torch

from wtal.cli import main
from wtal.config.schema import validate_config
from wtal.errors import InputFileError
from wtal.report.compare import compare_runs, format_comparison, read_run

TIOU = [0.1, 0.3, 0.5, 0.7]
PROTOCOL = {"units": "seconds", "ambiguous_filter": False, "subset": "test", "dataset": "toy"}


def config(seed: int, **model) -> dict:
    spec = {
        "dataset": {"name": "toy", "format": "activitynet", "annotations": "gt.json"},
        "training": {"seed": seed, "iterations": 40},
        "model": model,
    }
    return validate_config(spec)


def write_run(folder, seed, average, fpr=0.2, protocol=PROTOCOL, with_config=True, **model):
    folder.mkdir(parents=True)
    cfg = config(seed, **model)
    summary = {"seed": seed, "selected_checkpoint": "best.pt"}
    if with_config:
        summary["config"] = cfg
    else:
        (folder / "checkpoints").mkdir()
        torch.save({"config": cfg}, folder / "checkpoints" / "best.pt")
    (folder / "training.json").write_text(json.dumps(summary))
    selected = {
        "tiou": TIOU,
        "mAP": [average + 0.1, average + 0.05, average - 0.05, average - 0.1],
        "average_mAP": average,
        "protocol": protocol,
        "foreground_classification": {"false_positive_rate": fpr, "false_negative_rate": 0.1},
        "checkpoint": {"iteration": 40},
    }
    (folder / "test_metrics.json").write_text(json.dumps({"selected": selected}))
    return folder


@pytest.fixture
def runs(tmp_path):
    made = []
    for seed, average in zip((0, 1, 2), (0.50, 0.52, 0.48), strict=True):
        made.append(write_run(tmp_path / f"text{seed}", seed, average))
    for seed, average in zip((2, 0, 1), (0.52, 0.55, 0.53), strict=True):
        made.append(write_run(tmp_path / f"base{seed}", seed, average, fpr=0.4, mode="baseline"))
    return made


def test_settings_are_grouped_over_seeds_and_paired_against_the_reference(runs):
    summaries = compare_runs([read_run(r) for r in runs])
    assert [s.label for s in summaries] == ["reference", 'model.mode="baseline"']
    reference, baseline = summaries
    assert [r.seed for r in baseline.runs] == [0, 1, 2]
    assert reference.average == pytest.approx((0.50, 0.02))
    assert baseline.fpr == pytest.approx((0.4, 0.0))
    assert reference.mAP[0] == pytest.approx((0.60, 0.02))
    # Paired differences by seed: 0.05, 0.01, 0.04 (mean 1/30); sample std by hand.
    diffs = [0.05, 0.01, 0.04]
    mean = sum(diffs) / 3
    std = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 2)
    paired = baseline.paired
    assert (paired.seeds, paired.wins) == (3, 3)
    assert paired.mean == pytest.approx(mean) and paired.std == pytest.approx(std)
    # Student t with 2 degrees of freedom: two-sided p = 1 - t / sqrt(2 + t^2).
    t = mean / (std / math.sqrt(3))
    assert paired.p_value == pytest.approx(1 - t / math.sqrt(2 + t * t))
    assert reference.paired is None


def test_the_table_shows_mean_and_spread_with_its_protocol(runs):
    table = format_comparison(compare_runs([read_run(r) for r in runs]))
    lines = table.splitlines()
    assert lines[0].startswith("| setting | seeds | avg mAP | mAP@0.1 | mAP@0.3 |")
    assert "| reference | 0,1,2 | 50.0 ± 2.0 | 60.0 ± 2.0 |" in lines[2]
    assert '| model.mode="baseline" | 0,1,2 | 53.3 ± 1.5 |' in lines[3]
    assert "| 3.3 ± 2.1 | 3/3 | 0.11 |" in lines[3]
    assert "units: seconds" in table and "selected on validation" in table


def test_labels_name_the_preset_not_what_follows_from_it(runs, tmp_path):
    paper = write_run(tmp_path / "paper", 0, 0.5, preset="paper")
    summaries = compare_runs([read_run(runs[0]), read_run(paper)])
    assert summaries[1].label == 'model.preset="paper"'
    explicit = write_run(tmp_path / "gamma", 0, 0.5, preset="paper")
    summary = json.loads((explicit / "training.json").read_text())
    summary["config"]["losses"]["gamma2"] = 0.3  # not the paper preset's 0.2: listed
    (explicit / "training.json").write_text(json.dumps(summary))
    summaries = compare_runs([read_run(runs[0]), read_run(explicit)])
    assert summaries[1].label == 'losses.gamma2=0.3, model.preset="paper"'


def test_runs_without_a_recorded_config_read_it_from_their_checkpoint(tmp_path):
    old = read_run(write_run(tmp_path / "old", 4, 0.5, with_config=False, mode="baseline"))
    new = read_run(write_run(tmp_path / "new", 5, 0.5, mode="baseline"))
    assert old.setting == new.setting and old.seed == 4


def test_a_damaged_fallback_checkpoint_is_one_clear_error(tmp_path):
    folder = write_run(tmp_path / "old", 4, 0.5, with_config=False)
    checkpoint = folder / "checkpoints" / "best.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:40])  # truncated
    with pytest.raises(InputFileError, match=r"training\.json: has no 'config'.*not a wtal ch"):
        read_run(folder)
    torch.save(["not", "a", "dict"], checkpoint)
    with pytest.raises(InputFileError, match=r"has no 'config'.*holds a list"):
        read_run(folder)


def test_errors_name_the_run(runs, tmp_path):
    other = write_run(tmp_path / "other", 7, 0.5, protocol={**PROTOCOL, "units": "segments"})
    with pytest.raises(InputFileError, match=r"other/test_metrics\.json.*another protocol"):
        compare_runs([read_run(runs[0]), read_run(other)])
    twin = write_run(tmp_path / "twin", 0, 0.5)
    with pytest.raises(InputFileError, match=r"twin.*same settings and seed 0"):
        compare_runs([read_run(runs[0]), read_run(twin)])
    (twin / "test_metrics.json").unlink()
    with pytest.raises(InputFileError, match=r"test_metrics\.json.*--test"):
        read_run(twin)
    with pytest.raises(InputFileError, match=r"missing/training\.json"):
        read_run(tmp_path / "missing")


def test_compare_command_writes_the_table_and_json(runs, tmp_path, capsys):
    output = tmp_path / "cmp" / "seeds.md"
    assert main(["compare", *map(str, runs), "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    assert output.read_text().strip() == printed.strip()
    data = json.loads(output.with_suffix(".json").read_text())
    assert [s["label"] for s in data["settings"]] == ["reference", 'model.mode="baseline"']
    assert data["settings"][1]["paired_vs_reference"]["wins"] == 3
    assert main(["compare", str(tmp_path / "nowhere")]) == 1
    assert "nowhere/training.json" in capsys.readouterr().err
