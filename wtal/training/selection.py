"""Choosing the checkpoint a run reports, and testing it: selection on a stratified split
held out from the training videos (never the test set) or the last checkpoint, validation
through the inference library (so its numbers equal ``wtal infer``'s), and the test report
of the selected checkpoint (with ``every_checkpoint``, also the best of all of them on the
test set, labelled as test-selected: the authors' protocol, optimistic)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from wtal.config.sections import TrainingSettings, read_section
from wtal.data.dataset import Dataset
from wtal.data.normalize import FeatureNorm
from wtal.data.splits import split_validation
from wtal.errors import TrainingError
from wtal.inference.run import run_split
from wtal.models.checkpoint import load_model, save_checkpoint
from wtal.training.state import Run
from wtal.utils.devices import resolve_device
from wtal.utils.files import link_or_copy, write_json

#: ``train(validation=SPLIT)``: hold out a stratified part of the training videos, as
#: ``wtal train`` does (with ``training.selection: validation``; none otherwise).
SPLIT = "split"


@dataclass
class TrainingResult:
    output: Path
    selected: Path
    selection: str
    iterations: int
    validation: list[dict[str, Any]] = field(default_factory=list)
    collapsed: bool = False


def validation_part(
    config: dict[str, Any], train_set: Dataset, validation: Dataset | str | None
) -> tuple[Dataset, Dataset | None]:
    """(videos to train on, videos to select on) for ``train``'s ``validation`` argument."""
    training = read_section(config, TrainingSettings)
    if isinstance(validation, str):
        if validation != SPLIT:
            raise ValueError(f"validation must be a Dataset, None or {SPLIT!r}, not {validation!r}")
        if training.selection != "validation":
            return train_set, None
        return split_validation(train_set, training.validation_fraction, training.seed)
    return train_set, validation


def evaluate_split(
    model: torch.nn.Module,
    dataset: Dataset,
    norm: FeatureNorm,
    config: dict[str, Any],
    device: torch.device,
) -> dict[str, Any]:
    """Detection mAP of the model on ``dataset`` (all its videos), standard protocol."""
    result = run_split(model, dataset, norm, config, device)
    return {"metrics": result.metrics, "predictions": result.predictions}


def validation_record(run: Run, validation_set: Dataset, iteration: int) -> dict[str, Any]:
    """The validation record of the model at ``iteration`` (detection mAP, standard
    protocol, through the inference library so the numbers equal ``wtal infer``'s)."""
    result = evaluate_split(run.model, validation_set, run.norm, run.config, run.device)
    metrics = result["metrics"].to_dict()  # undefined mAP: None
    return {
        "iteration": iteration,
        "validation": {
            "average_mAP": metrics["average_mAP"],
            "mAP": metrics["mAP"],
            "classification_mAP": metrics.get("classification_mAP"),
        },
    }


def select_checkpoint(
    run: Run, best: dict[str, Any] | None, checkpoints: Path, end: int
) -> tuple[Path, str]:
    """``selected.pt`` (the best on validation, else the model at ``end``) and how it was
    chosen: ``validation``, or ``last`` (asked for, or no validation mAP was defined)."""
    selection = run.training.selection
    selected = checkpoints / "selected.pt"
    if selection == "validation" and best is not None:
        path = checkpoints / "best.pt"
        if not path.is_file():
            raise TrainingError(
                f"{path}: missing, but the run chose it (iteration {best['iteration']}); "
                f"delete {checkpoints / 'last.pt'} to train again"
            )
        link_or_copy(path, selected)  # best.pt is not a workflow output: a rerun finds it
    else:
        save_checkpoint(selected, run.payload(end))
    return selected, selection if best is not None or selection == "last" else "last"


def evaluate_checkpoint(path: Path, dataset: Dataset, config: dict[str, Any]) -> dict[str, Any]:
    """Metrics (dict) and predictions of a saved checkpoint on ``dataset``."""
    device = resolve_device(read_section(config, TrainingSettings).device, "training.device")
    loaded = load_model(path, device)
    result = evaluate_split(loaded.model, dataset, loaded.norm, config, device)
    metrics = result["metrics"].to_dict()
    metrics["checkpoint"] = {"path": str(path), "iteration": loaded.iteration}
    return {"metrics": metrics, "predictions": result["predictions"]}


def _test_selected(
    result: TrainingResult, test_set: Dataset, config: dict[str, Any]
) -> dict[str, Any]:
    """The best of every snapshot on the test set itself, and all of them."""
    snapshots = sorted((result.output / "checkpoints").glob("iter_*.pt"))
    if not snapshots:
        raise TrainingError(
            f"{result.output / 'checkpoints'}: no iter_*.pt snapshots to test; train with "
            "training.keep_snapshots: true"
        )
    rows = []
    for path in snapshots:
        metrics = evaluate_checkpoint(path, test_set, config)["metrics"]
        rows.append(
            {
                "iteration": metrics["checkpoint"]["iteration"],
                "average_mAP": metrics["average_mAP"],
                "mAP": metrics["mAP"],
            }
        )
    defined = [r for r in rows if r["average_mAP"] is not None]
    best = max(defined, key=lambda r: r["average_mAP"]) if defined else None
    return {
        "selection": "TEST-SELECTED: the best of every checkpoint on the test set itself "
        "(the authors' code did this; optimistic, not a clean result)",
        "best": best,
        "all": rows,
    }


def report_on_test(
    result: TrainingResult, test_set: Dataset, config: dict[str, Any], every_checkpoint: bool
) -> dict[str, Any]:
    """Test metrics of the selected checkpoint; optionally of every checkpoint, where the best
    is reported separately and labelled as test-selected (the authors' protocol)."""
    selected = evaluate_checkpoint(result.selected, test_set, config)
    report: dict[str, Any] = {
        "selected": {
            **selected["metrics"],
            "selection": f"checkpoint chosen by {result.selection} (never by test data)",
        }
    }
    write_json(result.output / "test_predictions.json", selected["predictions"])
    if every_checkpoint:
        report["test_selected"] = _test_selected(result, test_set, config)
    write_json(result.output / "test_metrics.json", report)
    return report
