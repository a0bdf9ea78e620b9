"""One extraction job: one stage (decode, flow or features) of each video of a chunk, in this
one process (the I3D networks load once), each video as `wtal decode` / `wtal flow` /
`wtal extract` would make it alone, byte for byte.

A video that cannot be decoded is recorded and skipped; a video whose stage fails does not
stop the others, and the job fails at the end naming it and why (a retry redoes only what is
not current). The chunk record (--output) lists the videos done (made, or kept as current),
those that cannot be decoded, with why, and the seconds each took; it is written only when
no video failed otherwise.

Run by the workflow's chunk rules (workflow/rules/extract.smk), which pass --settings as
JSON: the paths the stage reads and writes ("{video}" stands for the video id: video, decoded;
from the flow stage on, flow (null when the flow is not kept); for features, the features'
folder), the extraction settings the stage reads (for features: the fields of
extract.features.ExtractionSettings but workers, which are --threads) and, for features, the
weights (rgb, flow, cache). The environment variable WTAL_REDO (JSON: "stages", "records") says
which stages, or which chunk records, to make again whatever is current."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from extract.errors import VideoError
from extract.stages import decode_video, make_flow, read_decoded
from wtal.errors import InputFileError, WtalError
from wtal.utils.files import write_json

STAGES = ("decode", "flow", "features")
REDO_ENV = "WTAL_REDO"


@dataclass(frozen=True)
class Settings:
    """What the rule passes for every chunk (see the module)."""

    paths: dict[str, str | None]
    extraction: dict[str, Any]
    weights: dict[str, str | None]

    @classmethod
    def from_json(cls, text: str) -> Settings:
        data = json.loads(text)
        return cls(data["paths"], data["settings"], data.get("weights", {}))

    def path(self, key: str, video: str) -> Path:
        template = self.paths[key]
        assert template is not None, key
        return Path(template.format(video=video))


@dataclass
class Outcome:
    """What happened to the chunk's videos."""

    done: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # done, and current already: not made again
    undecodable: dict[str, str] = field(default_factory=dict)  # video -> why
    failed: dict[str, str] = field(default_factory=dict)  # video -> why
    seconds: dict[str, float] = field(default_factory=dict)

    def tell(self, video: str, videos: list[str]) -> None:
        """A line in the log as a video ends: how far the job is."""
        print(f"  {videos.index(video) + 1}/{len(videos)} {video}: {self.state(video)}")

    def state(self, video: str) -> str:
        if video in self.kept:
            return "done (current, kept)"
        if video in self.done:
            return "done"
        if video in self.undecodable:
            return f"cannot be decoded: {self.undecodable[video]}"
        return f"FAILED: {self.failed[video]}"


def redo_asked(stage: str, record: str, environment: dict[str, str]) -> bool:
    """Whether the workflow asked for ``stage`` (or this chunk record) to be made again."""
    text = environment.get(REDO_ENV) or "{}"
    try:
        asked = json.loads(text)
    except ValueError:
        raise ValueError(f"{REDO_ENV}={text!r} is not JSON") from None
    return stage in asked.get("stages", ()) or os.path.abspath(record) in asked.get("records", ())


def failure(exc: BaseException) -> str:
    """One line for the record and the summary; the traceback goes to the log."""
    traceback.print_exception(exc, file=sys.stdout)
    return f"{type(exc).__name__}: {exc}" if not isinstance(exc, WtalError) else str(exc)


def decodable(video: str, settings: Settings, outcome: Outcome) -> bool:
    """Whether the decode record of ``video`` says it decodes (else recorded as such)."""
    try:
        read_decoded(settings.path("decoded", video), settings.path("video", video))
    except VideoError as exc:
        outcome.undecodable[video] = str(exc)
        return False
    except InputFileError as exc:
        outcome.failed[video] = f"decode record unusable: {exc}"
        return False
    return True


def run_decode(videos: list[str], settings: Settings, redo: bool, outcome: Outcome) -> None:
    options = settings.extraction
    for video in videos:
        start = time.monotonic()
        try:
            record = decode_video(
                settings.path("video", video),
                settings.path("decoded", video),
                options["short_side"],
                options["on_variable_frame_rate"],
                record_failure=True,
                reuse=not redo,
            )
        except Exception as exc:  # this video's problem, whatever it is: the others go on
            outcome.failed[video] = failure(exc)
            outcome.tell(video, videos)
            continue
        outcome.seconds[video] = round(time.monotonic() - start, 3)
        if record is None:
            outcome.kept.append(video)
        if record is not None and not record["ok"]:
            outcome.undecodable[video] = record["error"]
        else:
            outcome.done.append(video)
        outcome.tell(video, videos)


def run_flow(
    videos: list[str], settings: Settings, threads: int, redo: bool, outcome: Outcome
) -> None:
    from extract.flow import backend_and_device

    options = settings.extraction
    backend, device = backend_and_device(
        options["flow_backend"], options["device"], "extraction.device"
    )
    if backend == "torch":
        import torch

        torch.set_num_threads(threads)
    for video in videos:
        if not decodable(video, settings, outcome):
            continue
        start = time.monotonic()
        try:
            made = make_flow(
                settings.path("video", video),
                settings.path("flow", video),
                options["flow_preset"],
                options["short_side"],
                options["on_variable_frame_rate"],
                workers=threads,
                backend=backend,
                device=device,
                flow_batch=options["flow_batch"],
                made_from=[settings.path("decoded", video)],
                redo=redo,
                notify=print,
            )
        except Exception as exc:
            outcome.failed[video] = failure(exc)
            outcome.tell(video, videos)
            continue
        outcome.seconds[video] = round(time.monotonic() - start, 3)
        outcome.done.append(video)
        if not made:
            outcome.kept.append(video)
        outcome.tell(video, videos)


def run_features(
    videos: list[str], settings: Settings, threads: int, redo: bool, outcome: Outcome
) -> None:
    import torch

    from extract.batch import extract_videos
    from extract.features import ExtractionSettings
    from wtal.utils.files import read_json

    torch.set_num_threads(threads)

    paths = {
        video: settings.path("video", video)
        for video in videos
        if decodable(video, settings, outcome)
    }
    keep_flow = settings.paths.get("flow") is not None
    result = extract_videos(
        list(paths.values()),
        settings.paths["features"],  # type: ignore[arg-type]
        ExtractionSettings(**settings.extraction, workers=threads),
        rgb_weights=settings.weights["rgb"],
        flow_weights=settings.weights["flow"],
        weights_cache=settings.weights["cache"],
        progress=False,
        flow_paths={path: settings.path("flow", v) for v, path in paths.items()}
        if keep_flow
        else None,
        made_from={path: [settings.path("decoded", v)] for v, path in paths.items()},
        redo=redo,
        isolate=True,
        notify=print,
        ended=lambda line: print(f"  {line}"),
    )
    reused = set(result.reused)
    for video, path in paths.items():
        if path in result.failed:
            outcome.failed[video] = result.failed[path]
            continue
        outcome.done.append(video)
        if path in reused:
            outcome.kept.append(video)
        else:
            timings = read_json(result.folders[path] / "timings.json")
            outcome.seconds[video] = round(timings["total_s"], 3)


def video_ids(text: str) -> list[str]:
    """--videos: a JSON list of video ids (an id may start with '-', as YouTube's do)."""
    data = json.loads(text)
    if not isinstance(data, list) or not data:
        raise argparse.ArgumentTypeError("expected a non-empty JSON list of video ids")
    return [str(video) for video in data]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("stage", choices=STAGES)
    p.add_argument("--output", required=True, metavar="CHUNK.json", help="the chunk record")
    p.add_argument("--settings", required=True, type=Settings.from_json, metavar="JSON")
    p.add_argument("--threads", type=int, default=1, help="flow workers and torch threads")
    p.add_argument("--videos", required=True, type=video_ids, metavar="JSON")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    videos: list[str] = args.videos
    redo = redo_asked(args.stage, args.output, dict(os.environ))
    outcome = Outcome()
    started = time.monotonic()
    if redo:
        print(f"{args.stage}: asked to make every video's files again")
    if args.stage == "decode":
        run_decode(videos, args.settings, redo, outcome)
    elif args.stage == "flow":
        run_flow(videos, args.settings, args.threads, redo, outcome)
    else:
        run_features(videos, args.settings, args.threads, redo, outcome)
    for number, video in enumerate(videos, start=1):
        print(f"[{number}/{len(videos)}] {video}: {outcome.state(video)}", flush=True)
    print(
        f"{args.stage}: {len(outcome.done)} done ({len(outcome.kept)} current, kept), "
        f"{len(outcome.undecodable)} cannot be decoded, {len(outcome.failed)} failed, "
        f"{time.monotonic() - started:.1f} s"
    )
    if outcome.failed:
        print(
            f"{len(outcome.failed)} of {len(videos)} videos of this chunk failed at {args.stage} "
            "(the others are done and kept; a rerun redoes only what is not current):",
            file=sys.stderr,
        )
        for video, why in outcome.failed.items():
            print(f"  {video}: {why}", file=sys.stderr)
        return 1
    record = {
        "stage": args.stage,
        "videos": videos,
        "done": outcome.done,
        "kept": outcome.kept,
        "undecodable": outcome.undecodable,
        "seconds": outcome.seconds,
    }
    write_json(args.output, record)
    return 0


def main(argv: list[str] | None = None) -> int:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # the log, live
    args = parse_args(argv)
    try:
        return run(args)
    except WtalError as exc:  # not one video's problem: the settings, the weights, the device
        print(f"extract_chunk {args.stage}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C: Snakemake echoes every job's log
        print(
            f"extract_chunk {args.stage}: interrupted; the videos finished are complete and "
            "kept (a rerun redoes only what is not current)",
            file=sys.stderr,
        )
        return 130  # 128 + SIGINT, as shells and Snakemake expect


if __name__ == "__main__":
    sys.exit(main())
