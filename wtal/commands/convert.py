"""``wtal convert-annotations``: any supported annotation source -> ActivityNet JSON."""

from __future__ import annotations

import argparse

from wtal.commands.common import add_dataset_arguments, dataset_from_arguments

HELP = "write W-TALC/CO2-Net (or ActivityNet) annotations as the project's ActivityNet JSON"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("convert-annotations", help=HELP, description=HELP)
    add_dataset_arguments(p)
    p.add_argument("--output", required=True, metavar="GT.json")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from wtal.data import write_activitynet

    dataset = dataset_from_arguments(args, with_features=False)
    write_activitynet(dataset, args.output)
    instances = sum(len(v.segments) for v in dataset.videos)
    print(
        f"wrote {args.output}: {len(dataset)} videos, {instances} instances, "
        f"{len(dataset.classes)} classes, {len(dataset.quirks)} data quirks recorded"
    )
    for quirk in dataset.quirks:
        if quirk.kind != "video-labels-differ":
            print(f"  quirk [{quirk.kind}] {quirk.video_id or ''} {quirk.message}")
    differ = sum(q.kind == "video-labels-differ" for q in dataset.quirks)
    if differ:
        print(f"  quirk [video-labels-differ] {differ} videos (listed in the output's 'quirks')")
    return 0
