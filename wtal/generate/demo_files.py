"""The demo dataset on disk: each video rendered and encoded as an ``mp4v`` ``.mp4`` at 25 fps,
then ``annotations.json`` (:func:`generate`); the annotations alone in memory
(:func:`make_dataset`)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wtal.data.dataset import Dataset, VideoRecord
from wtal.errors import WtalError
from wtal.generate.demo_plan import (
    CLASS_PHASES,
    CLASSES,
    DEFAULTS,
    FOURCC,
    FPS,
    GENERATOR_VERSION,
    SHARED_PHASE,
    VideoPlan,
    check_arguments,
    plan_videos,
)
from wtal.generate.demo_render import render_frames
from wtal.utils.files import UMASK, write_json

#: The generator's name in every dataset it writes (that of its first module: the same
#: arguments keep giving the same bytes).
GENERATOR_NAME = "wtal.data.demo_videos"


@contextlib.contextmanager
def _atomic_path(path: Path) -> Iterator[Path]:
    """A temporary name beside ``path`` (same suffix, for the muxer); renamed on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp's 0o600 -> what open() would give
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_video(
    path: str | os.PathLike[str], frames: Iterator[np.ndarray] | Sequence[np.ndarray]
) -> int:
    """Write RGB uint8 frames as an ``mp4v`` ``.mp4`` at 25 fps, atomically; returns the count."""
    import cv2

    target = Path(path)
    count = 0
    with _atomic_path(target) as tmp:
        writer: Any = None
        try:
            for frame in frames:
                if writer is None:
                    h, w = frame.shape[:2]
                    fourcc = cv2.VideoWriter_fourcc(*FOURCC)
                    writer = cv2.VideoWriter(str(tmp), fourcc, float(FPS), (w, h))
                    if not writer.isOpened():
                        raise WtalError(f"OpenCV cannot write {FOURCC} video to {target}")
                writer.write(np.ascontiguousarray(frame[..., ::-1]))
                count += 1
        finally:
            if writer is not None:
                writer.release()
        if count == 0:
            raise ValueError(f"{target}: no frames to write")
    return count


# ---------------------------------------------------------------------------------------------
# Annotations and the whole dataset.


def _record(plan: VideoPlan) -> VideoRecord:
    return VideoRecord(
        video_id=plan.video_id,
        subset=plan.subset,
        duration=plan.duration,
        labels=plan.labels,
        segments=np.array([x.segment for x in plan.instances], dtype=np.float64).reshape(-1, 2),
        segment_labels=tuple(x.label for x in plan.instances),
    )


def dataset_name(seed: int) -> str:
    return f"demo-videos-seed{seed}"


def make_dataset(
    videos: int = DEFAULTS.videos,
    test_videos: int = DEFAULTS.test_videos,
    seed: int = 0,
    seconds: tuple[float, float] = DEFAULTS.seconds,
) -> Dataset:
    """The annotations in memory (no features, nothing written)."""
    plans = plan_videos(videos, test_videos, seed, seconds)
    return Dataset(
        name=dataset_name(seed), classes=CLASSES, videos=tuple(_record(p) for p in plans)
    )


def generator_info(
    videos: int, test_videos: int, seed: int, width: int, height: int, seconds: tuple[float, float]
) -> dict[str, Any]:
    return {
        "name": GENERATOR_NAME,
        "version": GENERATOR_VERSION,
        "seed": int(seed),
        "videos": int(videos),
        "train_videos": int(videos - test_videos),
        "test_videos": int(test_videos),
        "width": int(width),
        "height": int(height),
        "seconds": [float(seconds[0]), float(seconds[1])],
        "fps": FPS,
        "codec": FOURCC,
        "phases": {c: list(p) for c, p in CLASS_PHASES.items()},
        "shared_phase": {SHARED_PHASE: [c for c, p in CLASS_PHASES.items() if SHARED_PHASE in p]},
    }


def annotations_json(plans: Sequence[VideoPlan], info: dict[str, Any]) -> dict[str, Any]:
    """The project's ActivityNet JSON, with ``phases`` per annotation, the video's
    ``distractors`` and its file (``video``) per entry, and ``generator`` at the top."""
    dataset = Dataset(
        name=dataset_name(info["seed"]), classes=CLASSES, videos=tuple(_record(p) for p in plans)
    )
    data = dataset.to_activitynet()
    for plan in plans:
        entry = data["database"][plan.video_id]
        for annotation, x in zip(entry["annotations"], plan.instances, strict=True):
            annotation["phases"] = [
                {"name": p.name, "segment": p.segment, "shared": p.shared} for p in x.phases
            ]
        entry["distractors"] = [{"kind": d.kind, "segment": d.segment} for d in plan.distractors]
        entry["video"] = {
            "file": f"videos/{plan.video_id}.mp4",
            "frames": plan.frames,
            "fps": FPS,
            "width": info["width"],
            "height": info["height"],
        }
    data["generator"] = info
    return data


def generate(
    output_dir: str | os.PathLike[str],
    videos: int = DEFAULTS.videos,
    test_videos: int = DEFAULTS.test_videos,
    seed: int = 0,
    width: int = DEFAULTS.width,
    height: int = DEFAULTS.height,
    seconds: tuple[float, float] = DEFAULTS.seconds,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write ``videos/<video_id>.mp4`` and then ``annotations.json``; returns the JSON's path.

    Videos are rendered and encoded one at a time, each written atomically; the annotation
    file is written last, so an interrupted run never leaves a complete-looking dataset.
    Demo videos of an earlier, larger run (``video_{validation,test}_*.mp4`` not in this
    plan) are deleted, so that ``wtal extract DIR/videos`` sees this dataset only.
    """
    check_arguments(videos, test_videos, seed, width, height, seconds)
    out = Path(output_dir)
    plans = plan_videos(videos, test_videos, seed, seconds)
    wanted = {f"{plan.video_id}.mp4" for plan in plans}
    for pattern in ("video_validation_*.mp4", "video_test_*.mp4"):
        for stale in sorted((out / "videos").glob(pattern)):
            if stale.name not in wanted:
                stale.unlink()
    for i, plan in enumerate(plans):
        path = out / "videos" / f"{plan.video_id}.mp4"
        written = write_video(path, render_frames(plan, seed, width, height))
        if written != plan.frames:
            raise RuntimeError(f"{path}: wrote {written} frames, planned {plan.frames}")
        if progress is not None:
            progress(i + 1, len(plans))
    path = out / "annotations.json"
    write_json(
        path,
        annotations_json(plans, generator_info(videos, test_videos, seed, width, height, seconds)),
    )
    return path
