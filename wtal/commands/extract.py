"""``wtal extract``: videos -> 25 fps -> TV-L1 flow -> I3D RGB and flow features."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from extract.settings import add_options
from wtal.commands.extraction_args import add_workers_argument, check_counts
from wtal.errors import InputFileError, UsageError

HELP = "extract I3D RGB + TV-L1 flow features (T x 1024 each) from videos or folders of videos"
VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v", ".wmv", ".flv"}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("extract", help=HELP, description=HELP)
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files or folders of videos")
    p.add_argument("--output", required=True, metavar="DIR", help="writes DIR/<video stem>/")
    add_workers_argument(p)
    add_options(p, "features")
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

    from extract.batch import Sources, extract_videos
    from extract.decode import read_decoded
    from extract.logs import show
    from extract.settings import ExtractionSettings
    from extract.video import Video
    from wtal.utils.devices import resolve_device
    from wtal.utils.files import read_json

    show()  # stale outputs made again: said on stderr
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = ExtractionSettings.from_args(args)
    resolve_device(args.device, "--device")  # an unusable device is refused before any work
    sources: dict[Path, Sources] = {}
    if args.flow or args.decoded:
        if len(videos) != 1:
            raise UsageError("--flow and --decoded describe one video: give exactly one")
        if args.decoded:
            read_decoded(args.decoded, Video(videos[0]))
        made_from = (Path(args.decoded),) if args.decoded else ()
        flow = Path(args.flow) if args.flow else None
        sources[videos[0]] = Sources(made_from, flow)
    result = extract_videos(
        videos, args.output, settings, sources=sources, progress=not args.no_progress
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
