"""``wtal make-demo-videos``: write the seeded demo dataset of small synthetic untrimmed videos."""

from __future__ import annotations

import argparse
import sys

from wtal.generate.demo_files import generate, make_dataset
from wtal.generate.demo_plan import CLASSES, DEFAULTS

HELP = "write the demo dataset: small synthetic untrimmed .mp4 videos + annotations.json"


def _seconds(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN:MAX seconds, got {text!r}") from None
    return lo, hi


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("make-demo-videos", help=HELP, description=HELP)
    p.add_argument(
        "--output",
        required=True,
        metavar="DIR",
        help="writes DIR/videos/*.mp4 and DIR/annotations.json",
    )
    p.add_argument(
        "--videos",
        type=int,
        default=DEFAULTS.videos,
        metavar="N",
        help=f"number of videos in all (default {DEFAULTS.videos})",
    )
    p.add_argument(
        "--test-videos",
        type=int,
        default=DEFAULTS.test_videos,
        metavar="M",
        help=f"how many of them form the 'test' subset; the rest are 'validation' "
        f"(training) (default {DEFAULTS.test_videos})",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--size",
        type=int,
        nargs=2,
        default=(DEFAULTS.width, DEFAULTS.height),
        metavar=("WIDTH", "HEIGHT"),
        help=f"frame size in pixels, even (default {DEFAULTS.width} {DEFAULTS.height})",
    )
    p.add_argument(
        "--seconds",
        type=_seconds,
        default=DEFAULTS.seconds,
        metavar="MIN:MAX",
        help="video lengths, rounded to whole 16-frame segments "
        f"(default {DEFAULTS.seconds[0]}:{DEFAULTS.seconds[1]})",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    width, height = args.size
    # Checks the arguments and gives the summary before the rendering.
    summary = make_dataset(args.videos, args.test_videos, args.seed, args.seconds).summary()

    def progress(done: int, total: int) -> None:
        if done == total or done % 10 == 0:
            print(f"  {done}/{total} videos", file=sys.stderr)

    path = generate(
        args.output,
        args.videos,
        args.test_videos,
        args.seed,
        width,
        height,
        args.seconds,
        progress=progress,
    )
    for name, stats in summary["subsets"].items():
        print(
            f"{name}: {stats['videos']} videos, {stats['instances']} instances, "
            f"{stats['multi_label_videos']} with two classes"
        )
    print(f"classes: {', '.join(CLASSES)}")
    print(f"wrote {path} and {path.parent / 'videos'} ({width}x{height}, 25 fps)")
    side = min(width, height)
    print(
        f"features: wtal extract {path.parent / 'videos'} --output {path.parent / 'features'} "
        f"--flow-preset fast --short-side {side} --crop {side} --workers 2"
    )
    return 0
