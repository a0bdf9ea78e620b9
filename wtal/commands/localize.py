"""``wtal localize``: a person's own videos -> features (cached) -> detections JSON, a
timeline PNG per video and a one-line summary per detection."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from extract.presets import PRESETS
from wtal.commands.extraction_args import (
    add_autocast_argument,
    add_backend_arguments,
    available_cores,
    check_counts,
)

HELP = "localize actions in your own videos with a trained checkpoint"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("localize", help=HELP, description=HELP)
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files or folders of videos")
    p.add_argument("--checkpoint", required=True, metavar="CKPT.pt", help="a wtal train checkpoint")
    p.add_argument(
        "--output",
        default="localized",
        metavar="DIR",
        help="detections.json, <video>.png, and features/ (reused by later runs); "
        "default: ./localized",
    )
    p.add_argument("--top", type=int, default=5, help="detections printed per video (default 5)")
    p.add_argument(
        "--device",
        help="auto (CUDA when present), cpu, cuda, ... for the model, I3D and the torch TV-L1 "
        "(default: auto)",
    )
    extraction = p.add_argument_group(
        "extraction (default: the settings the checkpoint's features were made with)"
    )
    extraction.add_argument("--flow-preset", choices=sorted(PRESETS))
    extraction.add_argument("--short-side", type=int)
    extraction.add_argument("--crop", type=int)
    extraction.add_argument("--weights-cache", metavar="DIR")
    run_where = p.add_argument_group("where extraction runs (not taken from the checkpoint)")
    run_where.add_argument(
        "--workers",
        type=int,
        default=available_cores(),
        help=f"OpenCV flow worker threads (default: the cores this process may use, "
        f"{available_cores()} here)",
    )
    add_backend_arguments(run_where, device=False)
    add_autocast_argument(run_where)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from extract.batch import unique_videos
    from extract.logs import show
    from wtal.commands.extract import find_videos
    from wtal.inference.localize import localize_videos
    from wtal.models.checkpoint import load_model
    from wtal.report.timeline import plot_timeline
    from wtal.utils.devices import resolve_device

    check_counts(args)
    show()  # stale features or flow made again: said on stderr
    videos = unique_videos(find_videos(args.videos), Path(args.output) / "features")
    device = resolve_device(args.device or "auto", "--device")
    loaded = load_model(args.checkpoint, device)
    overrides = {
        "flow_preset": args.flow_preset,
        "short_side": args.short_side,
        "crop": args.crop,
        "workers": args.workers,
        "weights_cache": args.weights_cache,
        "flow_backend": args.flow_backend,
        "flow_batch": args.flow_batch,
        "autocast": args.autocast,
        "device": str(device),
    }
    report = localize_videos(
        loaded,
        videos,
        Path(args.output),
        {k: v for k, v in overrides.items() if v is not None},
        device,
        progress=not args.no_progress,
        plot_timeline=plot_timeline,
    )
    for video in report.videos:
        print(f"{video.path}: {len(video.detections)} detections -> {video.timeline}")
        for line in video.summary(loaded.classes, args.top):
            print(f"  {line}")
    print(f"wrote {report.detections_file}")
    if report.failed:
        print(f"{len(report.failed)} video(s) failed:", file=sys.stderr)
        for path, reason in report.failed.items():
            print(f"  {path}: {reason}", file=sys.stderr)
        return 1
    return 0
