"""The synthetic dataset on disk: ``features/<video_id>.npy`` one video at a time, then
``annotations.json`` (:func:`generate`); in memory (:func:`make_dataset`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from wtal.data.dataset import SEGMENT_SECONDS, Dataset, VideoRecord
from wtal.generate.synthetic_features import VideoTruth, make_world, render_video
from wtal.generate.synthetic_plan import (
    CLASS_PHASES,
    GENERATOR_VERSION,
    SHARED_PHASES,
    VideoPlan,
    check_arguments,
    plan_videos,
)
from wtal.utils.files import write_json, write_npy

#: The generator's name in every dataset it writes (that of its first module: the same
#: arguments keep giving the same bytes).
GENERATOR_NAME = "wtal.data.synthetic"


def _record(plan: VideoPlan, features: np.ndarray | None) -> VideoRecord:
    return VideoRecord(
        video_id=plan.video_id,
        subset=plan.subset,
        duration=plan.duration,
        labels=plan.labels,
        segments=np.array([[x.start, x.end] for x in plan.instances], dtype=np.float64).reshape(
            -1, 2
        ),
        segment_labels=tuple(x.label for x in plan.instances),
        features=features,
    )


def iter_videos(
    size: str = "tiny", seed: int = 0, feature_dim: int = 2048
) -> Iterator[tuple[VideoRecord, VideoTruth]]:
    """Each video's record (with features) and its truth, one at a time (train first)."""
    check_arguments(size, seed, feature_dim)
    world = make_world(seed, feature_dim)
    for plan in plan_videos(size, seed):
        features, truth = render_video(plan, world, seed)
        yield _record(plan, features), truth


def dataset_name(size: str, seed: int) -> str:
    return f"synthetic-{size}-seed{seed}"


def make_dataset(
    size: str = "tiny", seed: int = 0, feature_dim: int = 2048, with_features: bool = True
) -> Dataset:
    """The synthetic dataset in memory (nothing written); the same as ``generate`` reads back."""
    spec = check_arguments(size, seed, feature_dim)
    if with_features:
        records = [record for record, _ in iter_videos(size, seed, feature_dim)]
    else:
        records = [_record(plan, None) for plan in plan_videos(size, seed)]
    return Dataset(name=dataset_name(size, seed), classes=spec.classes, videos=tuple(records))


def generator_info(size: str, seed: int, feature_dim: int) -> dict[str, Any]:
    spec = check_arguments(size, seed, feature_dim)
    return {
        "name": GENERATOR_NAME,
        "version": GENERATOR_VERSION,
        "size": size,
        "seed": int(seed),
        "feature_dim": int(feature_dim),
        "segment_seconds": SEGMENT_SECONDS,
        "train_videos": spec.train_videos,
        "test_videos": spec.test_videos,
        "shared_phases": {
            p: [c for c, spec_ in CLASS_PHASES.items() if p in spec_[:2]] for p in SHARED_PHASES
        },
    }


def annotations_json(plans: list[VideoPlan], size: str, seed: int, dim: int) -> dict[str, Any]:
    """The project's ActivityNet JSON; each annotation also lists its ``phases``."""
    spec = check_arguments(size, seed, dim)
    dataset = Dataset(
        name=dataset_name(size, seed),
        classes=spec.classes,
        videos=tuple(_record(p, None) for p in plans),
    )
    data = dataset.to_activitynet()
    for plan in plans:
        entry = data["database"][plan.video_id]
        for annotation, instance in zip(entry["annotations"], plan.instances, strict=True):
            annotation["phases"] = [
                {"name": p.name, "segment": [p.start, p.end], "shared": p.shared}
                for p in instance.phases
            ]
    data["generator"] = generator_info(size, seed, dim)
    return data


def generate(
    output_dir: str | os.PathLike[str],
    size: str = "tiny",
    seed: int = 0,
    feature_dim: int = 2048,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write ``annotations.json`` and ``features/<video_id>.npy``; returns the JSON's path.

    Videos are rendered and written one at a time (memory stays one video); the annotation
    file is written last, so an interrupted run never leaves a complete-looking dataset. Read
    it back with ``read_activitynet(path, path.parent / "features")``.
    """
    check_arguments(size, seed, feature_dim)
    out = Path(output_dir)
    features_dir = out / "features"
    features_dir.mkdir(parents=True, exist_ok=True)
    world = make_world(seed, feature_dim)
    plans = plan_videos(size, seed)
    for i, plan in enumerate(plans):
        features, _ = render_video(plan, world, seed)
        write_npy(features_dir / f"{plan.video_id}.npy", features)
        if progress is not None:
            progress(i + 1, len(plans))
    path = out / "annotations.json"
    write_json(path, annotations_json(plans, size, seed, feature_dim))
    return path
