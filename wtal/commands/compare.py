"""``wtal compare``: training runs over seeds, grouped by setting, against a reference; or
the runs of an experiment sheet (``--sheet``), named as the sheet names them."""

from __future__ import annotations

import argparse

HELP = (
    "compare `wtal train --test` runs: settings grouped over seeds (mean ± std), paired "
    "differences against the first run's settings; --sheet: an experiment sheet's runs"
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("compare", help=HELP, description=HELP)
    p.add_argument(
        "runs",
        nargs="*",
        metavar="RUN_DIR",
        help="wtal train --output folders (training.json + test_metrics.json); the first "
        "run's settings are the reference (not with --sheet)",
    )
    p.add_argument(
        "--sheet",
        metavar="SHEET.yaml",
        help="an experiment sheet: compare its runs, found under --root as RUN/seedN",
    )
    p.add_argument(
        "--root",
        metavar="DIR",
        help="with --sheet: the folder holding its runs (default: results/experiments/NAME)",
    )
    p.add_argument("--output", metavar="TABLE.md", help="also write the table here (and .json)")
    p.add_argument("--figure", metavar="FIGURE.png", help="with --sheet: also plot the table")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from wtal.errors import WtalError
    from wtal.utils.files import write_json, write_text

    if args.sheet:
        if args.runs:
            raise WtalError("give either RUN_DIR folders or --sheet, not both")
        from wtal.config.sheets import load_sheet
        from wtal.report.sheet import plot_sheet, sheet_markdown

        sheet = load_sheet(args.sheet)
        root = Path(args.root) if args.root else Path("results", "experiments", sheet.name)
        table, data = sheet_markdown(sheet, root)
        if args.figure:
            plot_sheet(sheet, data, args.figure)
    else:
        if not args.runs:
            raise WtalError("no runs to compare: give RUN_DIR folders or --sheet")
        if args.figure:
            raise WtalError("--figure needs --sheet")
        from wtal.report.compare import (
            compare_runs,
            comparison_json,
            format_comparison,
            read_run,
        )

        summaries = compare_runs([read_run(path) for path in args.runs])
        table, data = format_comparison(summaries), comparison_json(summaries)
    if args.output:
        output = Path(args.output)
        write_text(output, table + "\n")
        write_json(output.with_suffix(".json"), data)
    print(table)
    return 0
