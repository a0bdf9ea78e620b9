"""``wtal train``: train TSM + VLC on a configured dataset; select on validation."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wtal.data.dataset import Dataset
    from wtal.training.selection import TrainingResult

HELP = (
    "train TSM + VLC (checkpoints, metrics log, loss curve; selection on held-out training videos)"
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help=HELP, description=HELP)
    p.add_argument("--config", required=True, metavar="CONFIG.yaml")
    p.add_argument("--output", metavar="DIR", help="default: <results_dir>/<dataset>/train")
    p.add_argument("--device", help="auto (default: CUDA when present), cpu, cuda, cuda:1, ...")
    p.add_argument("--iterations", type=int, help="override training.iterations")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config value, e.g. --set training.seed=1 --set model.mode=baseline "
        "(repeatable; values read as YAML; validated by the schema; recorded in training.json)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--restart-on-change",
        action="store_true",
        help="if the output folder holds a run with other settings, discard it and start "
        "afresh (default: stop with the differences); same settings always resume",
    )
    p.add_argument(
        "--test",
        action="store_true",
        help="after training, evaluate the selected checkpoint on the test subset",
    )
    p.add_argument(
        "--test-every-checkpoint",
        action="store_true",
        help="also evaluate every checkpoint on test and report the best one, "
        "labelled TEST-SELECTED (the authors' protocol; optimistic); keeps the snapshots "
        "(training.keep_snapshots)",
    )
    p.set_defaults(run=run)


@dataclass
class Inputs:
    """What ``wtal train`` works on, all checked before the first iteration."""

    config: dict[str, Any]
    output: Path
    train_set: Dataset
    validation: Dataset | None
    test_set: Dataset | None
    config_files: tuple[str, ...] = ()  # the files the config was merged from


def run(args: argparse.Namespace) -> int:
    from wtal.evaluation.metrics import percent
    from wtal.training.loop import train

    inputs = prepare(args)
    config, output = inputs.config, inputs.output
    result = train(
        config,
        inputs.train_set,
        output,
        validation=inputs.validation,
        progress=not args.no_progress,
        on_config_change="restart" if args.restart_on_change else "error",
        config_files=inputs.config_files,
    )
    summary = json.loads((output / "training.json").read_text())
    print(f"trained {result.iterations} iterations -> {result.selected} ({summary['selection']})")
    if summary["best"]:
        print(
            f"best validation average mAP {percent(summary['best']['average_mAP'])} "
            f"at iteration {summary['best']['iteration']}"
        )
    if inputs.test_set is not None:
        test(result, inputs.test_set, config, args.test_every_checkpoint)
    return 0


def prepare(args: argparse.Namespace) -> Inputs:
    """The config, the output folder and the train, validation and test parts of the
    dataset, every input the command will need checked before training starts."""
    from wtal.commands.common import check_at_least, check_output_folder
    from wtal.config.checks import check_annotated, check_subset
    from wtal.config.load import load_layered_config
    from wtal.config.overrides import merge, parse_assignments
    from wtal.config.sections import TrainingSettings, read_section
    from wtal.data.open import open_dataset
    from wtal.training.selection import SPLIT, validation_part
    from wtal.utils.devices import resolve_device

    check_at_least(args.iterations, 1, "--iterations")
    overrides = parse_assignments(args.set)
    if args.device:
        resolve_device(args.device, "--device")
        overrides = merge(overrides, {"training": {"device": args.device}})
    if args.iterations is not None:
        overrides = merge(overrides, {"training": {"iterations": args.iterations}})
    if args.test_every_checkpoint:  # it needs the snapshots
        overrides = merge(overrides, {"training": {"keep_snapshots": True}})
    loaded = load_layered_config(args.config, overrides)
    config = loaded.config
    if not args.device:
        from_set = "device" in overrides.get("training", {})
        where = "--set training.device" if from_set else f"{args.config}: training.device"
        resolve_device(read_section(config, TrainingSettings).device, where)
    spec = config["dataset"]
    output = check_output_folder(args.output or Path(config["results_dir"], spec["name"], "train"))
    dataset = open_dataset(spec)
    train_set = check_subset(
        dataset, spec["train_subset"], "dataset.train_subset", args.config, "training"
    )
    test_set = None
    if args.test or args.test_every_checkpoint:
        flag = "--test-every-checkpoint" if args.test_every_checkpoint else "--test"
        test_set = check_subset(
            dataset, spec["test_subset"], "dataset.test_subset", args.config, flag
        )
        check_annotated(test_set, spec["test_subset"], "dataset.test_subset", args.config, flag)
    train_set, validation = validation_part(config, train_set, SPLIT)
    if validation is not None:
        check_annotated(
            validation,
            f"{spec['train_subset']}, the held-out part",
            "training.selection: validation",
            args.config,
            "choosing the checkpoint (or use training.selection: last)",
        )
    return Inputs(config, output, train_set, validation, test_set, loaded.files)


def test(result: TrainingResult, test_set: Dataset, config: dict[str, Any], every: bool) -> None:
    """Evaluate the selected checkpoint (and with ``every``, all snapshots) on the test set."""
    from wtal.errors import Interrupted
    from wtal.evaluation.metrics import percent
    from wtal.training.selection import report_on_test

    try:
        report = report_on_test(result, test_set, config, every)
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted while testing; training is complete ({result.selected}); rerun the "
            "same command to test"
        ) from None
    selected = report["selected"]
    print(
        f"test ({selected['selection']}): average mAP {percent(selected['average_mAP'])}, "
        "mAP@"
        + " ".join(
            f"{t:g}:{percent(m, 1)}" for t, m in zip(selected["tiou"], selected["mAP"], strict=True)
        )
    )
    best = report.get("test_selected", {}).get("best")
    if best is not None:
        print(
            f"TEST-SELECTED (optimistic, authors' protocol): average mAP "
            f"{percent(best['average_mAP'])} at iteration {best['iteration']}"
        )
