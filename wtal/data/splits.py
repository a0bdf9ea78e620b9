"""A validation split held out from the training videos, stratified by class."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from wtal.data.dataset import Dataset, VideoRecord


def stratified_split(
    videos: Sequence[VideoRecord], fraction: float, seed: int
) -> tuple[list[str], list[str]]:
    """(train ids, validation ids): per class (a video counts for its first label), a
    ``fraction`` of its videos, at least one when the class has two or more, never all."""
    rng = np.random.default_rng(seed)
    by_class: dict[str, list[str]] = {}
    for video in videos:
        if video.labels:
            by_class.setdefault(video.labels[0], []).append(video.video_id)
    held: set[str] = set()
    for name in sorted(by_class):
        ids = sorted(by_class[name])
        if len(ids) < 2:
            continue
        count = min(len(ids) - 1, max(1, round(fraction * len(ids))))
        held.update(rng.choice(ids, size=count, replace=False).tolist())
    train = [v.video_id for v in videos if v.video_id not in held]
    return train, [v.video_id for v in videos if v.video_id in held]


def split_validation(train_set: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """(train, validation): a stratified ``fraction`` of the training videos
    (:func:`stratified_split`) held out to choose the checkpoint; the rest trains."""
    _, held = stratified_split(train_set.videos, fraction, seed)
    held_ids = set(held)

    def part(keep: bool) -> Dataset:
        videos = tuple(v for v in train_set.videos if (v.video_id in held_ids) == keep)
        return replace(train_set, videos=videos)

    return part(False), part(True)
