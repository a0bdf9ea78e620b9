"""``wtal dataset-info``: statistics and data quirks of a dataset."""

from __future__ import annotations

import argparse
import json

from wtal.commands.common import add_dataset_arguments, dataset_from_arguments

HELP = "summarise a dataset: videos, instances, lengths, feature checks, data quirks"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("dataset-info", help=HELP, description=HELP)
    add_dataset_arguments(p)
    p.add_argument("--output", metavar="SUMMARY.json", help="write the summary and quirks here")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from wtal.utils.files import write_json

    dataset = dataset_from_arguments(args, with_features=True)
    summary = dataset.summary()
    summary["quirk_list"] = [q.to_dict() for q in dataset.quirks]
    for name, stats in summary["subsets"].items():
        print(
            f"{dataset.name}/{name}: {stats['videos']} videos "
            f"({stats['videos_with_features']} with features), {stats['instances']} instances"
        )
    print("quirks: " + (json.dumps(dict(summary["quirks"])) if dataset.quirks else "none"))
    if args.output:
        write_json(args.output, summary)
    return 0
