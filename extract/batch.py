"""Many videos through the extraction stage: completed outputs are reused, models load only
when some video needs them, and a broken video is reported without stopping the others."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from extract.errors import VideoError
from extract.features import ExtractionSettings, extract_video, load_models, output_folder

#: Settings that change the features; an output made with others is not reused.
FEATURE_KEYS = ("short_side", "crop", "flow_preset")


@dataclass
class BatchResult:
    folders: dict[Path, Path] = field(default_factory=dict)  # video -> its feature folder
    reused: list[Path] = field(default_factory=list)
    failed: dict[Path, str] = field(default_factory=dict)  # video -> why


def is_complete(folder: Path, settings: ExtractionSettings) -> bool:
    """Whether ``folder`` holds finished features made with the same feature settings
    (``meta.json`` is written last, so its presence marks completion)."""
    meta = folder / "meta.json"
    if not meta.is_file():
        return False
    try:
        recorded = json.loads(meta.read_text()).get("settings", {})
    except (OSError, ValueError):
        return False
    return all(recorded.get(k) == getattr(settings, k) for k in FEATURE_KEYS)


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
) -> BatchResult:
    """Features of every video under ``output/<stem>/``; see :class:`BatchResult`.
    ``flow_paths``: flow files made beforehand for some videos (the workflow's flow stage)."""
    result = BatchResult()
    todo = []
    for video in videos:
        folder = output_folder(output, video)
        if is_complete(folder, settings):
            result.folders[video] = folder
            result.reused.append(video)
        else:
            todo.append(video)
    if not todo:
        return result
    models = load_models(rgb_weights, flow_weights, weights_cache)
    for index, video in enumerate(todo, start=1):
        bars: dict[str, tqdm] = {}

        def report(stage: str, done: int, total: int, bars=bars, video=video, index=index) -> None:
            bar = bars.get(stage)
            if bar is None:
                bar = bars[stage] = tqdm(
                    total=total,
                    desc=f"[{index}/{len(todo)}] {video.name} {stage}",
                    unit="frame" if stage == "flow" else "seg",
                    leave=False,
                    file=sys.stderr,
                    disable=not progress,
                )
            bar.update(done - bar.n)

        try:
            flow = (flow_paths or {}).get(video)
            result.folders[video] = extract_video(video, output, models, settings, report, flow)
        except (VideoError, ValueError, RuntimeError, FileNotFoundError) as exc:
            result.failed[video] = str(exc)
        finally:
            for bar in bars.values():
                bar.close()
    return result
