"""One extraction job: one stage (decode, flow or features) of each video of a chunk, in this
one process (the I3D networks load once), each video as `wtal decode` / `wtal flow` /
`wtal extract` would make it alone, byte for byte (:func:`extract.run.run_videos`).

A video that cannot be decoded is recorded and skipped; a video whose stage fails does not
stop the others, and the job fails at the end naming it and why (a retry redoes only what is
not current). The chunk record (--output) lists the videos done (made, or kept as current),
those that cannot be decoded, with why, and the seconds each took; it is written only when
no video failed otherwise. The log (stdout) has a line as each video ends, and one per video
at the end.

Run by the workflow's chunk rules (workflow/rules/extract.smk, through
workflow/scripts/extract_chunk.py), which pass --settings as JSON: the paths the stage reads
and writes ("{video}" stands for the video id: video, decoded; from the flow stage on, flow
(null when the flow is not kept); for features, the features' folder) and what
:meth:`extract.settings.ExtractionSettings.for_stage` gives the stage (its workers are
--threads). The environment variable WTAL_REDO (JSON: "stages", "records") says which
stages, or which chunk records, to make again whatever is current."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from extract.errors import Undecodable, VideoError
from extract.logs import show
from extract.run import Outcome, run_videos
from extract.settings import COMMANDS, ExtractionSettings
from extract.stage import Stage, Task
from wtal.errors import InputFileError, Interrupted, UsageError, WtalError
from wtal.utils.files import write_json

log = logging.getLogger(__name__)

REDO_ENV = "WTAL_REDO"


@dataclass(frozen=True)
class ChunkPaths:
    """Where a chunk's videos and their files are: templates of the video id (``{video}``)."""

    video: str
    decoded: str
    flow: str | None = None  # from the flow stage on; None when the flow is not kept
    features: str | None = None  # the features' folder

    def of(self, key: str, video: str) -> Path:
        template = getattr(self, key)
        assert template is not None, key
        return Path(template.format(video=video))


@dataclass(frozen=True)
class Chunk:
    """What the rule passes for every chunk (see the module)."""

    paths: ChunkPaths
    data: Mapping[str, Any]  # ExtractionSettings.for_stage's

    @classmethod
    def from_json(cls, text: str) -> Chunk:
        data = json.loads(text)
        return cls(ChunkPaths(**data["paths"]), data)

    def settings(self, threads: int) -> ExtractionSettings:
        return ExtractionSettings.from_chunk(self.data, workers=threads)


def redo_asked(stage: str, record: str, environment: Mapping[str, str]) -> bool:
    """Whether the workflow asked for ``stage`` (or this chunk record) to be made again."""
    text = environment.get(REDO_ENV) or "{}"
    try:
        asked = json.loads(text)
    except ValueError:
        raise UsageError(f"{REDO_ENV}={text!r} is not JSON") from None
    return stage in asked.get("stages", ()) or os.path.abspath(record) in asked.get("records", ())


def stage_of(name: str, settings: ExtractionSettings, redo: bool) -> Stage:
    """The stage a job runs, set up once for all its videos (torch's threads: the job's)."""
    if name == "decode":
        from extract.decode import DecodeStage

        return DecodeStage(settings, redo=redo, record_failure=True)
    if name == "flow":
        from extract.flow import FlowStage

        flow = FlowStage(settings, redo=redo, source="extraction.device")
        if flow.backend == "opencv":  # no torch: a process saves 1-2 s
            return flow
    import torch

    torch.set_num_threads(settings.workers)
    if name == "flow":
        return flow
    from extract.features import FeatureStage

    return FeatureStage(settings, redo=redo)


def tasks(name: str, chunk: Chunk, settings: ExtractionSettings) -> Callable[[str], Task]:
    """A video id -> its task at stage ``name``; after decoding, a video whose decode record
    says it cannot be decoded is :class:`extract.errors.Undecodable`."""
    from extract.decode import read_decoded
    from extract.video import Video

    paths = chunk.paths

    def task(video: str) -> Task:
        source = Video(paths.of("video", video), settings.on_variable_frame_rate)
        decoded = paths.of("decoded", video)
        if name == "decode":
            return Task(source, decoded)
        try:
            read_decoded(decoded, source)
        except Undecodable:
            raise
        except VideoError as exc:  # the video is gone or unreadable since it was decoded
            raise Undecodable(exc.path, exc.problem) from None
        except InputFileError as exc:
            raise InputFileError(exc.path, f"decode record unusable: {exc.problem}") from None
        if name == "flow":
            return Task(source, paths.of("flow", video), (decoded,))
        from extract.features import output_folder  # torch: the features jobs only

        flow = paths.of("flow", video) if paths.flow is not None else None
        folder = output_folder(paths.of("features", video), source.path)
        made_from = (decoded,) if flow is None else (decoded, flow)
        return Task(source, folder, made_from, flow)

    return task


def report(stage: str, videos: list[str], outcome: Outcome[str], seconds: float) -> None:
    """The end of the log: one line per video, then the counts."""
    for number, video in enumerate(videos, start=1):
        log.info("[%d/%d] %s: %s", number, len(videos), video, outcome.state(video))
    log.info(
        "%s: %d done (%d current, kept), %d cannot be decoded, %d failed, %.1f s", stage,
        len(outcome.done), len(outcome.kept), len(outcome.undecodable), len(outcome.failed),
        seconds,
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """The job; its exit status (1: some video failed, named on stderr)."""
    videos: list[str] = args.videos
    redo = redo_asked(args.stage, args.output, os.environ)
    started = time.monotonic()
    if redo:
        log.info("%s: asked to make every video's files again", args.stage)
    settings = args.settings.settings(args.threads)
    stage = stage_of(args.stage, settings, redo)
    outcome = run_videos(stage, videos, tasks(args.stage, args.settings, settings), isolate=True)
    report(args.stage, videos, outcome, time.monotonic() - started)
    if outcome.failed:
        print(
            f"{len(outcome.failed)} of {len(videos)} videos of this chunk failed at {args.stage} "
            "(the others are done and kept; a rerun redoes only what is not current):",
            file=sys.stderr,
        )
        for video, why in outcome.failed.items():
            print(f"  {video}: {why}", file=sys.stderr)
        return 1
    record = {"stage": args.stage, "videos": videos, "done": outcome.done, "kept": outcome.kept,
              "undecodable": outcome.undecodable, "seconds": outcome.seconds}  # fmt: skip
    write_json(args.output, record)
    return 0


def video_ids(text: str) -> list[str]:
    """--videos: a JSON list of video ids (an id may start with '-', as YouTube's do)."""
    data = json.loads(text)
    if not isinstance(data, list) or not data:
        raise argparse.ArgumentTypeError("expected a non-empty JSON list of video ids")
    return [str(video) for video in data]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="extract_chunk", description=__doc__.splitlines()[0])
    p.add_argument("stage", choices=tuple(COMMANDS))
    p.add_argument("--output", required=True, metavar="CHUNK.json", help="the chunk record")
    p.add_argument("--settings", required=True, type=Chunk.from_json, metavar="JSON")
    p.add_argument("--threads", type=int, default=1, help="flow workers and torch threads")
    p.add_argument("--videos", required=True, type=video_ids, metavar="JSON")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """The job's command line (workflow/scripts/extract_chunk.py)."""
    show("stdout", logging.INFO)  # the job's log, a line as each video ends
    args = parse_args(argv)
    try:
        return run(args)
    except (Interrupted, KeyboardInterrupt):  # Ctrl-C: Snakemake echoes every job's log
        print(
            f"extract_chunk {args.stage}: interrupted; the videos finished are complete and "
            "kept (a rerun redoes only what is not current)",
            file=sys.stderr,
        )
        return 130  # 128 + SIGINT, as shells and Snakemake expect
    except WtalError as exc:  # not one video's problem: the settings, the weights, the device
        print(f"extract_chunk {args.stage}: error: {exc}", file=sys.stderr)
        return 1
