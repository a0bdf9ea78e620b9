"""One extraction job: decode, flow and features of each video of a chunk, one after the other,
each by the same `wtal` command as when run alone (its output in the video's own log).

A video that cannot be decoded is recorded and skipped; a video whose flow or features fail
does not stop the others, and the job fails at the end naming it (a retry redoes only what is
not current). The chunk record (--output) lists the videos done and those that cannot be
decoded, with why; it is written only when no video failed otherwise.

Run by the workflow's extract_chunk rule (workflow/rules/extract.smk), which passes --settings
as JSON: the per-video paths ("{video}" stands for the video id: decoded, flow or null when
the flow is not kept, features, video, decode_log, flow_log, features_log) and the arguments of
`wtal decode`, `wtal flow` and `wtal extract` (decode, flow, extract)."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from extract.errors import VideoError
from extract.identity import video_fingerprint
from wtal.errors import InputFileError
from wtal.utils.files import read_json, write_json


@dataclass(frozen=True)
class Settings:
    """What the rule passes for every chunk (see the module)."""

    paths: dict[str, str | None]
    decode: list[str]
    flow: list[str]
    extract: list[str]

    @classmethod
    def from_json(cls, text: str) -> Settings:
        data = json.loads(text)
        return cls(data["paths"], data["decode"], data["flow"], data["extract"])


@dataclass
class Outcome:
    """What happened to the chunk's videos."""

    done: list[str] = field(default_factory=list)
    undecodable: dict[str, str] = field(default_factory=dict)  # video -> why
    failed: dict[str, str] = field(default_factory=dict)  # video -> which step, which log
    seconds: dict[str, dict[str, float]] = field(default_factory=dict)  # video -> step -> s

    def state(self, video: str) -> str:
        if video in self.done:
            return "done"
        if video in self.undecodable:
            return f"cannot be decoded: {self.undecodable[video]}"
        return f"FAILED: {self.failed[video]}"


def wtal_command() -> str:
    """The `wtal` the shell rules run (on PATH), else the one beside this Python."""
    found = shutil.which("wtal") or shutil.which("wtal", path=str(Path(sys.executable).parent))
    if found is None:
        raise RuntimeError(
            "the `wtal` command is not on PATH: install the project (pip install -e .)"
        )
    return found


def run_logged(argv: list[str], log: Path) -> int:
    """Run ``argv`` with stdout and stderr into ``log``; its exit status."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        return subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False).returncode


def last_line(log: Path) -> str:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(empty log)"


def decode_is_current(record: Path, video: str, on_variable_frame_rate: str) -> bool:
    """Whether ``record`` says ``video`` decodes, for this very file (size + sha256 of its
    first and last MiB) and this frame-rate policy. The short side does not change whether
    a video decodes, nor what the record holds. A failure record is never reused: decoding
    again costs little and sees a replaced file."""
    if not record.is_file():
        return False
    try:
        data = read_json(record)
        fingerprint = video_fingerprint(video)
    except (InputFileError, VideoError):
        return False
    if not isinstance(data, dict) or not data.get("ok") or data.get("file") != fingerprint:
        return False
    return not (data.get("variable_frame_rate") and on_variable_frame_rate == "error")


def read_decoded(record: Path) -> tuple[bool, str]:
    """(decodes, why not) from a decode record; a damaged record is a failure of its own."""
    data = read_json(record)  # InputFileError names the file
    if not isinstance(data, dict):
        raise InputFileError(record, "not a decode record (a JSON object)")
    return bool(data.get("ok")), str(data.get("error", "unknown decoding error"))


@dataclass(frozen=True)
class Commands:
    """The commands that make one video's files, each with its log: decode (None when its
    record is current), flow (None when the flow is not kept: `wtal extract` makes it) and
    features."""

    decoded: Path
    decode: tuple[list[str], Path] | None
    flow: tuple[list[str], Path] | None
    features: tuple[list[str], Path]
    features_folder: Path


def video_commands(
    video_id: str, video: str, settings: Settings, wtal: str, threads: int
) -> Commands:
    paths = {key: value.format(video=video_id) for key, value in settings.paths.items() if value}
    decoded = Path(paths["decoded"])
    frame_rate = settings.decode[settings.decode.index("--on-variable-frame-rate") + 1]
    decode = None
    if not decode_is_current(decoded, video, frame_rate):
        argv = [wtal, "decode", video, "--output", str(decoded), "--record-failure"]
        decode = ([*argv, *settings.decode], Path(paths["decode_log"]))
    flow, flow_option = None, []
    if "flow" in paths:  # keep_flow: the flow cache is a file of its own, made by `wtal flow`
        argv = [wtal, "flow", video, "--output", paths["flow"], "--decoded", str(decoded)]
        flow = ([*argv, "--workers", str(threads), *settings.flow], Path(paths["flow_log"]))
        flow_option = ["--flow", paths["flow"]]
    argv = [wtal, "extract", video, "--output", paths["features"], "--decoded", str(decoded)]
    argv += [*flow_option, "--workers", str(threads), "--threads", str(threads)]
    features = ([*argv, *settings.extract], Path(paths["features_log"]))
    # where `wtal extract` writes this video's features (<output>/<video file stem>)
    return Commands(decoded, decode, flow, features, Path(paths["features"]) / Path(video).stem)


def extract_one(
    video_id: str, video: str, settings: Settings, wtal: str, threads: int, outcome: Outcome
) -> None:
    """Decode, flow and features of one video; what happened goes to ``outcome``.

    With a kept flow, finished-looking features are offered to `wtal extract` first: when they
    are current (or the flow file is), no flow is computed, even where the flow cache was
    deleted since; otherwise (the flow is missing or stale) the flow is made and the features
    after it."""
    commands = video_commands(video_id, video, settings, wtal, threads)
    times = outcome.seconds.setdefault(video_id, {})

    def run(step: str, command: tuple[list[str], Path]) -> bool:
        start = time.monotonic()
        status = run_logged(*command)
        times[step] = round(times.get(step, 0.0) + time.monotonic() - start, 3)
        if status != 0:
            why = f"exit status {status}; {command[1]}): {last_line(command[1])}"
            outcome.failed[video_id] = f"{step} failed ({why}"
        return status == 0

    if commands.decode is not None and not run("decode", commands.decode):
        return
    try:
        decodes, why = read_decoded(commands.decoded)
    except InputFileError as exc:
        outcome.failed[video_id] = f"decode record unreadable: {exc}"
        return
    if not decodes:
        outcome.undecodable[video_id] = why
        return
    if commands.flow is not None and (commands.features_folder / "meta.json").is_file():
        if run("features", commands.features):
            outcome.done.append(video_id)
            return
        del outcome.failed[video_id]  # the flow is missing or stale: made below, then again
    if commands.flow is not None and not run("flow", commands.flow):
        return
    if run("features", commands.features):
        outcome.done.append(video_id)


def video_ids(text: str) -> list[str]:
    """--videos: a JSON list of video ids (an id may start with '-', as YouTube's do)."""
    data = json.loads(text)
    if not isinstance(data, list) or not data:
        raise argparse.ArgumentTypeError("expected a non-empty JSON list of video ids")
    return [str(video) for video in data]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--output", required=True, metavar="CHUNK.json", help="the chunk record")
    p.add_argument("--settings", required=True, type=Settings.from_json, metavar="JSON")
    p.add_argument("--threads", type=int, default=1, help="flow workers and torch threads")
    p.add_argument("--videos", required=True, type=video_ids, metavar="JSON")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    videos = {video: args.settings.paths["video"].format(video=video) for video in args.videos}
    wtal = wtal_command()
    outcome = Outcome()
    for number, (video_id, video) in enumerate(videos.items(), start=1):
        extract_one(video_id, video, args.settings, wtal, args.threads, outcome)
        print(f"[{number}/{len(videos)}] {video_id}: {outcome.state(video_id)}", flush=True)
    print(
        f"{len(outcome.done)} done, {len(outcome.undecodable)} cannot be decoded, "
        f"{len(outcome.failed)} failed"
    )
    if outcome.failed:
        print(
            f"{len(outcome.failed)} of {len(videos)} videos of this chunk failed (the others "
            "are done and kept; a rerun redoes only what is not current):",
            file=sys.stderr,
        )
        for video, why in outcome.failed.items():
            print(f"  {video}: {why}", file=sys.stderr)
        return 1
    record = {
        "videos": list(videos),
        "done": outcome.done,
        "undecodable": outcome.undecodable,
        "seconds": outcome.seconds,
    }
    write_json(args.output, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
