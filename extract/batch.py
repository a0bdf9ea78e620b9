"""Many videos through the extraction stage: completed outputs are reused when they were made
from the same video file with the same settings and weights, models load only when some video
needs them, a broken video is reported without stopping the others, and two videos that would
share an output folder are refused before any work."""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from extract.errors import VideoError
from extract.features import (
    ExtractionSettings,
    Models,
    expected_identity,
    extract_video,
    load_models,
    output_folder,
)
from extract.identity import differences, video_fingerprint
from extract.prefetch import prefetched
from extract.stages import tell, why_made_again
from extract.video import VideoInfo, probe
from extract.weights import weights_digests
from wtal.errors import InputFileError, Interrupted
from wtal.utils.files import BusyError, read_json


@dataclass
class BatchResult:
    folders: dict[Path, Path] = field(default_factory=dict)  # video -> its feature folder
    reused: list[Path] = field(default_factory=list)
    failed: dict[Path, str] = field(default_factory=dict)  # video -> why


def unique_videos(videos: Sequence[Path], output: str | os.PathLike[str]) -> list[Path]:
    """``videos`` without repeats of one file; two files of the same stem (``a/clip.mp4`` and
    ``b/clip.mp4``, ``clip.mp4`` and ``clip.avi``) would share one output folder: refused."""
    seen: dict[str, Path] = {}
    kept = []
    for video in videos:
        other = seen.get(video.stem)
        if other is None:
            seen[video.stem] = video
            kept.append(video)
        elif os.path.realpath(other) != os.path.realpath(video):
            raise ValueError(
                f"{other} and {video} have the same name {video.stem!r} and would both be "
                f"written to {output_folder(output, video)}: rename one, or run them with "
                "different --output folders"
            )
    return kept


def stale_folder(folder: Path, identity: dict[str, Any]) -> str | None:
    """Why ``folder`` cannot be reused as the finished features of ``identity``; ``None``
    when it can, ``""`` when it holds no finished features at all (nothing to say)."""
    meta = folder / "meta.json"
    if not meta.is_file():
        return ""
    for name in ("rgb.npy", "flow.npy"):
        if not (folder / name).is_file():
            return f"{name} is missing"
    try:
        recorded = read_json(meta)
    except InputFileError as exc:
        return exc.problem
    if not isinstance(recorded, dict):
        return "meta.json is not a JSON object"
    return differences(recorded.get("identity"), identity)


PathLike = str | os.PathLike[str]


class _Digests:
    """The weights' sha256, taken once, on first need (an all-new run never waits on it)."""

    def __init__(self, rgb: PathLike | None, flow: PathLike | None, cache: PathLike | None):
        self.sources = (rgb, flow, cache)
        self.value: dict[str, str] | None = None

    def __call__(self) -> dict[str, str]:
        if self.value is None:
            self.value = weights_digests(*self.sources)
        return self.value


def _plan(
    videos: Sequence[Path],
    output: str | os.PathLike[str],
    settings: ExtractionSettings,
    digests: _Digests,
    result: BatchResult,
    notify: Callable[[str], None],
    made_from: Mapping[Path, Sequence[Path]],
    redo: bool,
) -> list[tuple[Path, dict[str, Any]]]:
    """Reuse the folders that are finished and current (not older than the files they were
    made from, and not asked to be made again); record the videos that cannot be read as
    failed; return the others, each with its fingerprint."""
    todo: list[tuple[Path, dict[str, Any]]] = []
    for video in videos:
        folder = output_folder(output, video)
        try:
            fingerprint = video_fingerprint(video)
        except VideoError as exc:  # missing or unreadable: that video fails, alone
            result.failed[video] = str(exc)
            continue
        if not (folder / "meta.json").is_file():
            todo.append((video, fingerprint))
            continue
        _, identity = expected_identity(video, settings, digests(), fingerprint)
        why = stale_folder(folder, identity)
        if why is None:
            why = why_made_again(folder / "meta.json", made_from.get(video, ()), redo)
        if why is None:
            result.folders[video] = folder
            result.reused.append(video)
            continue
        if why:
            notify(f"{video}: the features in {folder} are stale ({why}): extracting again")
        todo.append((video, fingerprint))
    return todo


def extract_videos(
    videos: Sequence[Path],
    output: str | os.PathLike[str],
    settings: ExtractionSettings,
    *,
    rgb_weights: str | os.PathLike[str] | None = None,
    flow_weights: str | os.PathLike[str] | None = None,
    weights_cache: str | os.PathLike[str] | None = None,
    progress: bool = True,
    flow_paths: dict[Path, Path] | None = None,
    made_from: Mapping[Path, Sequence[Path]] | None = None,
    redo: bool = False,
    isolate: bool = False,
    notify: Callable[[str], None] = tell,
    ended: Callable[[str], None] | None = None,
) -> BatchResult:
    """Features of every video under ``output/<stem>/``; see :class:`BatchResult`.
    ``flow_paths``: flow files made beforehand for some videos (the workflow's flow stage).
    A finished folder is reused only when made from the same video file with the same
    settings and weights (:mod:`extract.identity`) and not older than its flow file or a
    file of ``made_from`` (per video: its decode record); stale ones are made again and
    ``notify`` says why; ``redo`` makes every one again. The networks load once, when the
    first video needs them; while one video runs, the next is probed on a background
    thread. A problem of one video is recorded in the result; errors of the output (a full
    disk) propagate, unless ``isolate``: then any error of a video is that video's failure
    and the others go on, as if each ran in a process of its own (the workflow's jobs).
    ``ended`` gets a line as each video ends (a log's progress). Ctrl-C raises
    :class:`Interrupted` saying how far it got."""
    videos = unique_videos(videos, output)
    sources = {video: [*(made_from or {}).get(video, ())] for video in videos}
    for video, flow in (flow_paths or {}).items():
        sources.setdefault(video, []).append(flow)
    result = BatchResult()
    stage = "while checking the finished outputs"
    try:
        todo = _plan(
            videos,
            output,
            settings,
            _Digests(rgb_weights, flow_weights, weights_cache),
            result,
            notify,
            sources,
            redo,
        )
        if not todo:
            return result
        stage = "while loading the I3D networks"
        models = load_models(rgb_weights, flow_weights, weights_cache, settings.torch_device())
        probes = prefetched((_probe(video, settings) for video, _ in todo), depth=1)
        ahead = zip(todo, probes, strict=True)
        for index, ((video, fingerprint), info) in enumerate(ahead, start=1):
            stage = f"during {video}"
            if isinstance(info, VideoError):
                result.failed[video] = str(info)
                continue
            _extract_one(
                video,
                fingerprint,
                info,
                output,
                models,
                settings,
                result,
                progress,
                flow_paths,
                (index, len(todo)),
                sources.get(video, ()),
                redo,
                isolate,
                notify,
                ended,
            )
    except KeyboardInterrupt:
        done = len(result.folders) + len(result.failed)
        raise Interrupted(
            f"interrupted {stage} ({done} of {len(videos)} videos done); finished videos are "
            "kept; rerun the same command to resume"
        ) from None
    return result


def _probe(video: Path, settings: ExtractionSettings) -> VideoInfo | VideoError:
    """What :func:`extract.video.probe` finds, or why it cannot (handed on, not raised: the
    probes run ahead of the videos, on another thread)."""
    try:
        return probe(video, settings.on_variable_frame_rate)  # type: ignore[arg-type]
    except VideoError as exc:
        return exc


def _extract_one(
    video: Path,
    fingerprint: dict[str, Any],
    info: VideoInfo,
    output: str | os.PathLike[str],
    models: Models,
    settings: ExtractionSettings,
    result: BatchResult,
    progress: bool,
    flow_paths: dict[Path, Path] | None,
    position: tuple[int, int],
    made_from: Sequence[Path],
    redo: bool,
    isolate: bool,
    notify: Callable[[str], None],
    ended: Callable[[str], None] | None,
) -> None:
    """One video; a problem of that video (unreadable, corrupt, a flow file that does not
    fit, another process writing its folder) is recorded in ``result``. Errors of the output
    (a full disk, a read-only folder) propagate, since they would fail every other video
    too; with ``isolate`` they are recorded as well."""
    bars: dict[str, tqdm] = {}

    def report(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(
                total=total,
                desc=f"[{position[0]}/{position[1]}] {video.name} {stage}",
                unit="frame" if stage == "flow" else "seg",
                leave=False,
                file=sys.stderr,
                disable=not progress,
            )
        bar.update(done - bar.n)

    started = time.monotonic()
    try:
        flow = (flow_paths or {}).get(video)
        result.folders[video] = extract_video(
            video, output, models, settings, report, flow, fingerprint=fingerprint, info=info,
            made_from=made_from, redo=redo, notify=notify,
        )  # fmt: skip
    except (VideoError, ValueError, RuntimeError, BusyError) as exc:
        result.failed[video] = str(exc)
    except Exception as exc:
        if not isolate:
            raise
        notify("".join(traceback.format_exception(exc)).rstrip())
        result.failed[video] = f"{type(exc).__name__}: {exc}"
    finally:
        for bar in bars.values():
            bar.close()
    if ended is not None:
        state = f"FAILED: {result.failed[video]}" if video in result.failed else "done"
        ended(f"[{position[0]}/{position[1]}] {video}: {state} "
              f"({time.monotonic() - started:.1f} s)")  # fmt: skip
