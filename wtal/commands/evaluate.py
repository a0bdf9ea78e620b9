"""``wtal evaluate``: ActivityNet detection mAP of a predictions file."""

from __future__ import annotations

import argparse
import sys
import warnings

from wtal.errors import UsageError

HELP = "detection mAP of an ActivityNet predictions file (official ActivityNet semantics)"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("evaluate", help=HELP, description=HELP)
    p.add_argument("--ground-truth", required=True, metavar="GT.json", help="annotations JSON")
    p.add_argument("--predictions", required=True, metavar="PRED.json", help="results JSON")
    p.add_argument("--subset", default="test", help="ground-truth subset (default: test)")
    p.add_argument(
        "--tiou",
        default="0.1:0.7:0.1",
        help="thresholds: start:stop:step or a comma list, at most 1,000 "
        "(default: 0.1:0.7:0.1, THUMOS14)",
    )
    p.add_argument(
        "--units",
        choices=["seconds", "segments"],
        default="seconds",
        help="seconds (standard) or segments (the authors' 16-frame protocol)",
    )
    p.add_argument(
        "--filter-ambiguous",
        action="store_true",
        help="drop predictions overlapping the ground truth's 'ambiguous' intervals",
    )
    p.add_argument(
        "--ambiguous",
        metavar="FILE",
        help="ambiguous intervals file (THUMOS14 Ambiguous_test.txt); implies --filter-ambiguous",
    )
    p.add_argument("--output", metavar="METRICS.json", help="write the metrics here")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from wtal.evaluation import evaluate_files, format_table, parse_tiou_thresholds
    from wtal.utils.files import write_json

    try:
        thresholds = parse_tiou_thresholds(args.tiou)
    except ValueError as exc:
        raise UsageError(f"--tiou: {exc}") from None
    with warnings.catch_warnings():
        # Every warning is also one of the metrics' notes: printed below, one line each.
        warnings.simplefilter("ignore")
        metrics = evaluate_files(
            args.ground_truth,
            args.predictions,
            args.subset,
            thresholds,
            units=args.units,
            filter_ambiguous_intervals=args.filter_ambiguous,
            ambiguous_file=args.ambiguous,
        )
    for note in metrics.notes:
        print(f"wtal evaluate: warning: {note}", file=sys.stderr)
    print(format_table(metrics))
    counts = metrics.counts
    print(
        f"{counts['predictions']} predictions, {counts['ground_truth_instances']} instances "
        f"of {counts['classes']} classes in {counts['ground_truth_videos']} videos "
        f"(units: {args.units}; ambiguous dropped: {counts['predictions_dropped_ambiguous']})"
    )
    if args.output:
        write_json(args.output, metrics.to_dict())
    return 0
