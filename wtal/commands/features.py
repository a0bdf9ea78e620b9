"""``wtal pack-features`` / ``wtal split-features``: per-video files <-> W-TALC joint layout."""

from __future__ import annotations

import argparse

PACK_HELP = "pack per-video features + annotation JSON into W-TALC joint features and folder"
SPLIT_HELP = "split released W-TALC joint features into per-video rgb/flow files + JSON"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("pack-features", help=PACK_HELP, description=PACK_HELP)
    p.add_argument("annotations", metavar="GT.json")
    p.add_argument("--features", required=True, metavar="DIR", help="per-video features folder")
    p.add_argument("--output", required=True, metavar="DIR")
    p.add_argument("--name", required=True, help="e.g. Thumos14reduced")
    p.set_defaults(run=run_pack)
    s = subparsers.add_parser("split-features", help=SPLIT_HELP, description=SPLIT_HELP)
    s.add_argument("annotations", metavar="FOLDER", help="W-TALC annotation folder")
    s.add_argument("--features", required=True, metavar="JOINT.npy")
    s.add_argument("--output", required=True, metavar="DIR")
    s.add_argument("--name", help="dataset name (default: folder name)")
    s.set_defaults(run=run_split)


def run_pack(args: argparse.Namespace) -> int:
    from extract.pack import pack_wtalc

    features, folder = pack_wtalc(args.annotations, args.features, args.output, args.name)
    print(f"wrote {features} and {folder}/")
    return 0


def run_split(args: argparse.Namespace) -> int:
    from extract.pack import split_wtalc

    dataset = split_wtalc(args.annotations, args.features, args.output, args.name)
    with_features = sum(v.features is not None for v in dataset.videos)
    print(f"wrote {with_features} videos to {args.output}/features/ and {dataset.name}.json")
    return 0
