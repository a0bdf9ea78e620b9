"""Many videos into features (``wtal extract``, ``wtal localize``): the features stage over
each video (:mod:`extract.run`), the outputs of one name refused before any work."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from extract.features import FeatureStage, output_folder
from extract.run import run_videos
from extract.settings import ExtractionSettings
from extract.stage import Task
from extract.video import Video
from wtal.errors import UsageError


@dataclass
class BatchResult:
    folders: dict[Path, Path] = field(default_factory=dict)  # video -> its feature folder
    reused: list[Path] = field(default_factory=list)
    failed: dict[Path, str] = field(default_factory=dict)  # video -> why


@dataclass(frozen=True)
class Sources:
    """What a video's features are made from besides the video: files they must not be older
    than (its decode record) and a flow file made beforehand (the workflow's flow stage)."""

    made_from: tuple[Path, ...] = ()
    flow: Path | None = None


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
            raise UsageError(
                f"{other} and {video} have the same name {video.stem!r} and would both be "
                f"written to {output_folder(output, video)}: rename one, or run them with "
                "different --output folders"
            )
    return kept


def extract_videos(
    videos: Sequence[Path],
    output: str | os.PathLike[str],
    settings: ExtractionSettings,
    *,
    sources: Mapping[Path, Sources] | None = None,
    progress: bool = True,
    redo: bool = False,
    isolate: bool = False,
) -> BatchResult:
    """Features of every video under ``output/<stem>/`` (:class:`FeatureStage`, the weights
    of ``settings``); see :class:`BatchResult` and :func:`extract.run.run_videos` (failures,
    ``isolate``, Ctrl-C). ``sources``: per video, what else it is made from."""
    videos = unique_videos(videos, output)
    stage = FeatureStage(settings, redo=redo)

    def task(video: Path) -> Task:
        given = (sources or {}).get(video, Sources())
        made_from = given.made_from + ((given.flow,) if given.flow is not None else ())
        folder = output_folder(output, video)
        return Task(Video(video, settings.on_variable_frame_rate), folder, made_from, given.flow)

    outcome = run_videos(stage, videos, task, isolate=isolate, progress=progress)
    result = BatchResult(reused=list(outcome.kept))
    for video in videos:
        if video in outcome.done:
            result.folders[video] = output_folder(output, video)
        elif video in outcome.undecodable or video in outcome.failed:
            result.failed[video] = {**outcome.undecodable, **outcome.failed}[video]
    return result
