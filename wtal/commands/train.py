"""``wtal train``: train TSM + VLC on a configured dataset; select on validation."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

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


def run(args: argparse.Namespace) -> int:
    from wtal.config import load_config, merge, parse_assignments
    from wtal.data.open import open_dataset
    from wtal.data.splits import stratified_split
    from wtal.training.presets import resolve_preset
    from wtal.training.trainer import report_on_test, train

    overrides = parse_assignments(args.set)
    if args.device:
        overrides = merge(overrides, {"training": {"device": args.device}})
    if args.iterations:
        overrides = merge(overrides, {"training": {"iterations": args.iterations}})
    if args.test_every_checkpoint:  # it needs the snapshots
        overrides = merge(overrides, {"training": {"keep_snapshots": True}})
    config = resolve_preset(load_config(args.config, overrides))
    spec = config["dataset"]
    dataset = open_dataset(spec)
    train_set = dataset.subset(spec["train_subset"])
    validation = None
    if config["training"]["selection"] == "validation":
        _, held = stratified_split(
            train_set.videos, config["training"]["validation_fraction"], config["training"]["seed"]
        )
        held_set = set(held)
        validation = type(train_set)(
            train_set.name,
            train_set.classes,
            tuple(v for v in train_set.videos if v.video_id in held_set),
            train_set.quirks,
        )
        train_set = type(train_set)(
            train_set.name,
            train_set.classes,
            tuple(v for v in train_set.videos if v.video_id not in held_set),
            train_set.quirks,
        )
    output = Path(args.output or Path(config["results_dir"], spec["name"], "train"))
    result = train(
        config,
        train_set,
        validation,
        output,
        progress=not args.no_progress,
        on_config_change="restart" if args.restart_on_change else "error",
    )
    summary = json.loads((output / "training.json").read_text())
    print(f"trained {result.iterations} iterations -> {result.selected} ({summary['selection']})")
    if summary["best"]:
        print(
            f"best validation average mAP {100 * summary['best']['average_mAP']:.2f} "
            f"at iteration {summary['best']['iteration']}"
        )
    if args.test or args.test_every_checkpoint:
        report = report_on_test(
            result, dataset.subset(spec["test_subset"]), config, args.test_every_checkpoint
        )
        selected = report["selected"]
        print(
            f"test ({selected['selection']}): average mAP {100 * selected['average_mAP']:.2f}, "
            "mAP@"
            + " ".join(
                f"{t:g}:{100 * m:.1f}"
                for t, m in zip(selected["tiou"], selected["mAP"], strict=True)
            )
        )
        if "test_selected" in report:
            best = report["test_selected"]["best"]
            print(
                f"TEST-SELECTED (optimistic, authors' protocol): average mAP "
                f"{100 * best['average_mAP']:.2f} at iteration {best['iteration']}"
            )
    return 0
