"""``wtal make-synthetic``: write a seeded, THUMOS14-shaped synthetic feature dataset."""

from __future__ import annotations

import argparse
import sys

from wtal.generate.synthetic_files import generate, make_dataset
from wtal.generate.synthetic_plan import SIZES

HELP = "write a seeded synthetic THUMOS14-shaped feature dataset (annotations.json + features/)"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("make-synthetic", help=HELP, description=HELP)
    p.add_argument("--output", required=True, metavar="DIR", help="folder to write into")
    p.add_argument(
        "--size",
        choices=list(SIZES),
        default="tiny",
        help="tiny: 8 classes, 40+40 short videos; small: 20 classes, 100+100; "
        "thumos: 20 classes, 200+212 videos as long as THUMOS14's (~1.2 GB at 2048-d)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--feature-dim",
        type=int,
        default=2048,
        metavar="D",
        help="feature size, even: first half RGB, second half flow (default 2048)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Checks the arguments and gives the summary before the (possibly long) rendering.
    summary = make_dataset(args.size, args.seed, args.feature_dim, with_features=False).summary()

    def progress(done: int, total: int) -> None:
        if done == total or done % 50 == 0:
            print(f"  {done}/{total} videos", file=sys.stderr)

    path = generate(args.output, args.size, args.seed, args.feature_dim, progress=progress)
    for name, stats in summary["subsets"].items():
        print(
            f"{name}: {stats['videos']} videos, {stats['instances']} instances, "
            f"{stats['multi_label_videos']} with two classes"
        )
    print(f"wrote {path} and {path.parent / 'features'} ({args.feature_dim}-d features)")
    return 0
