"""``wtal infer``: a trained checkpoint on a dataset split -> predictions JSON + CSV, metrics
JSON + Markdown table (through the evaluator), and figures."""

from __future__ import annotations

import argparse
import platform
from pathlib import Path
from typing import Any

from wtal.errors import UsageError

HELP = "run a checkpoint on a dataset split: predictions (JSON, CSV), metrics, figures"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("infer", help=HELP, description=HELP)
    p.add_argument("--checkpoint", required=True, metavar="CKPT.pt", help="a wtal train checkpoint")
    p.add_argument(
        "--config",
        metavar="CONFIG.yaml",
        help="dataset, inference and evaluation settings (default: the checkpoint's own config)",
    )
    p.add_argument("--subset", help="dataset subset to run on (default: dataset.test_subset)")
    p.add_argument("--output", metavar="DIR", help="default: <results_dir>/<dataset>/infer")
    p.add_argument("--device", help="auto (CUDA when present), cpu, cuda, ... (default: auto)")
    p.add_argument(
        "--timelines",
        type=int,
        default=8,
        metavar="N",
        help="timeline figures for the N videos with the most ground-truth instances (default 8)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from wtal.commands.common import check_at_least, check_output_folder
    from wtal.config.load import load_config
    from wtal.data.open import open_dataset
    from wtal.evaluation import format_markdown, format_table
    from wtal.evaluation.tables import ground_truth_from_dict, predictions_from_dict
    from wtal.inference.run import check_compatible, run_split, write_predictions_csv
    from wtal.models.checkpoint import load_model
    from wtal.report.inference import write_inference_figures
    from wtal.utils.devices import resolve_device
    from wtal.utils.files import sha256_file, write_json, write_text

    check_at_least(args.timelines, 0, "--timelines")
    device = resolve_device(args.device or "auto", "--device")
    if args.output:
        check_output_folder(args.output)
    loaded = load_model(args.checkpoint, device)
    config = load_config(args.config) if args.config else loaded.config
    spec = config["dataset"]
    out = check_output_folder(args.output or Path(config["results_dir"], spec["name"], "infer"))
    subset = args.subset or spec["test_subset"]
    dataset = open_dataset(spec)
    if not dataset.has_subset(subset):
        raise UsageError(f"dataset {dataset.name!r} has no subset {subset!r} ({dataset.subsets})")
    split = dataset.subset(subset)
    check_compatible(loaded, split)
    result = run_split(
        loaded.model,
        split,
        loaded.norm,
        config,
        device,
        keep_outputs=args.timelines > 0,
        progress=not args.no_progress,
    )
    write_json(out / "predictions.json", result.predictions)
    write_predictions_csv(out / "predictions.csv", result.predictions)
    write_json(out / "ground_truth.json", split.to_activitynet())
    metrics = result.metrics.to_dict()
    metrics["checkpoint"] = {"path": str(loaded.path), "iteration": loaded.iteration}
    write_json(out / "metrics.json", metrics)
    title = f"{dataset.name} / {subset}: {loaded.path.name}, iteration {loaded.iteration}"
    write_text(out / "metrics.md", format_markdown(result.metrics, title))
    provenance: dict[str, Any] = {
        "checkpoint": {
            "path": str(loaded.path),
            "sha256": sha256_file(loaded.path),
            "iteration": loaded.iteration,
        },
        "subset": subset,
        "videos": len(split.videos),
        "videos_without_features": sorted(
            v.video_id for v in split.videos if v.features is None or len(v.features) == 0
        ),
        "config": config,
        "device": str(device),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
        },
    }
    write_json(out / "infer.json", provenance)
    ground_truth = ground_truth_from_dict(split.to_activitynet(), subset)
    figures = write_inference_figures(
        out / "figures",
        ground_truth=ground_truth,
        predictions=predictions_from_dict(result.predictions),
        metrics=result.metrics,
        classes=split.classes,
        outputs=result.outputs,
        durations={v.video_id: v.duration for v in split.videos},
        timelines=args.timelines,
    )
    print(format_table(result.metrics))
    print(
        f"wrote {out}/predictions.json, predictions.csv, metrics.json, metrics.md and "
        f"{len(figures)} figures in {out}/figures"
    )
    return 0
