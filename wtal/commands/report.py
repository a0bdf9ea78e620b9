"""``wtal report``: the Markdown report of a workflow run (results/<dataset>/report.md)."""

from __future__ import annotations

import argparse

HELP = "write the run report (metrics beside the untrained model and the paper, data, figures)"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("report", help=HELP, description=HELP)
    p.add_argument("--config", required=True, metavar="CONFIG.yaml", help="the run's config")
    p.add_argument("--metrics", required=True, metavar="METRICS.json", help="wtal evaluate output")
    p.add_argument("--untrained", metavar="METRICS.json", help="metrics of the untrained model")
    p.add_argument("--training", metavar="TRAINING.json", help="wtal train's summary")
    p.add_argument("--summary", metavar="SUMMARY.json", help="wtal dataset-info output")
    p.add_argument("--inventory", metavar="INVENTORY.json", help="decoded and failed videos")
    p.add_argument("--output", required=True, metavar="REPORT.md")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from wtal.config.load import load_config
    from wtal.report.markdown import build_report
    from wtal.utils.files import write_text

    text = build_report(
        config=load_config(args.config),
        metrics_path=args.metrics,
        untrained_path=args.untrained,
        training_path=args.training,
        summary_path=args.summary,
        inventory_path=args.inventory,
        output=args.output,
    )
    write_text(args.output, text + "\n")
    print(f"wrote {args.output}")
    return 0
