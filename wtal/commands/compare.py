"""``wtal compare``: training runs over seeds, grouped by setting, against a reference."""

from __future__ import annotations

import argparse

HELP = (
    "compare `wtal train --test` runs: settings grouped over seeds (mean ± std), paired "
    "differences against the first run's settings"
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("compare", help=HELP, description=HELP)
    p.add_argument(
        "runs",
        nargs="+",
        metavar="RUN_DIR",
        help="wtal train --output folders (training.json + test_metrics.json); the first "
        "run's settings are the reference",
    )
    p.add_argument("--output", metavar="TABLE.md", help="also write the table here (and .json)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from wtal.report.compare import compare_runs, comparison_json, format_comparison, read_run
    from wtal.utils.files import write_json, write_text

    summaries = compare_runs([read_run(path) for path in args.runs])
    table = format_comparison(summaries)
    if args.output:
        output = Path(args.output)
        write_text(output, table + "\n")
        write_json(output.with_suffix(".json"), comparison_json(summaries))
    print(table)
    return 0
