"""The one in-memory dataset model every reader produces and every later stage consumes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from wtal.data.subsets import same_subset
from wtal.data.timing import I3D_25FPS, FeatureTiming

#: One segment of the published I3D features (16 frames at 25 fps, 0.64 s); a dataset's own
#: timing is ``Dataset.timing`` (and ``VideoRecord.timing`` where one video differs).
SEGMENT_SECONDS = I3D_25FPS.seconds_per_segment


@dataclass(frozen=True)
class DataQuirk:
    """Something odd in the source data, and what the reader did about it."""

    kind: str
    message: str
    video_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "video_id": self.video_id, "message": self.message}


@dataclass(frozen=True, eq=False)
class VideoRecord:
    """One video: identity, video-level labels, ground-truth instances (seconds), features.

    ``features`` is ``(T, D)`` float32 (``D = 2048``: RGB channels first, then flow) or
    ``None`` when the dataset was read without features. ``timing``: set only when this
    video's features were made at another timing than the dataset's (ActionFormer's per-video
    frame rates); ``Dataset.timing_of`` resolves it.
    """

    video_id: str
    subset: str
    duration: float | None
    labels: tuple[str, ...]
    segments: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    segment_labels: tuple[str, ...] = ()
    ambiguous: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    features: np.ndarray | None = None
    timing: FeatureTiming | None = None

    @property
    def num_segments(self) -> int | None:
        return None if self.features is None else int(self.features.shape[0])


@dataclass(frozen=True, eq=False)
class Dataset:
    """Videos with a fixed class list; ``quirks`` records what the reader found and did.

    ``timing``: which seconds each feature row stands for (``wtal.data.timing``), one for the
    whole dataset (the features of one release share it); a video whose ``timing`` is set
    overrides it.
    """

    name: str
    classes: tuple[str, ...]
    videos: tuple[VideoRecord, ...]
    quirks: tuple[DataQuirk, ...] = ()
    timing: FeatureTiming = I3D_25FPS

    def timing_of(self, record: VideoRecord) -> FeatureTiming:
        """The timing of one video's features."""
        return record.timing or self.timing

    def __len__(self) -> int:
        return len(self.videos)

    @property
    def subsets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v.subset for v in self.videos))

    def has_subset(self, name: str) -> bool:
        """Whether a video is in subset ``name`` (either spelling: ``wtal.data.subsets``)."""
        return any(same_subset(v.subset, name) for v in self.videos)

    def subset(self, name: str) -> Dataset:
        """The videos of subset ``name`` (either spelling: ``wtal.data.subsets``)."""
        if not self.has_subset(name):
            raise KeyError(f"dataset {self.name!r} has no subset {name!r} (has {self.subsets})")
        return replace(self, videos=tuple(v for v in self.videos if same_subset(v.subset, name)))

    def video(self, video_id: str) -> VideoRecord:
        for record in self.videos:
            if record.video_id == video_id:
                return record
        raise KeyError(f"dataset {self.name!r} has no video {video_id!r}")

    def label_matrix(self) -> np.ndarray:
        """Multi-hot video-level labels, videos x classes (float32)."""
        index = {name: i for i, name in enumerate(self.classes)}
        matrix = np.zeros((len(self.videos), len(self.classes)), dtype=np.float32)
        for row, record in enumerate(self.videos):
            for name in record.labels:
                matrix[row, index[name]] = 1.0
        return matrix

    @property
    def feature_dim(self) -> int | None:
        dims = {v.features.shape[1] for v in self.videos if v.features is not None}
        return dims.pop() if len(dims) == 1 else None

    def to_activitynet(self) -> dict[str, Any]:
        """ActivityNet-format annotation JSON (+ ``classes``, video ``labels``, ``ambiguous``)."""
        database = {}
        for record in self.videos:
            entry: dict[str, Any] = {
                "subset": record.subset,
                "duration": record.duration,
                "labels": list(record.labels),
                "annotations": [
                    {"segment": [float(s), float(e)], "label": label}
                    for (s, e), label in zip(record.segments, record.segment_labels, strict=True)
                ],
            }
            if len(record.ambiguous):
                entry["ambiguous"] = [[float(s), float(e)] for s, e in record.ambiguous]
            database[record.video_id] = entry
        return {
            "version": f"wtal {self.name}",
            "classes": list(self.classes),
            "taxonomy": [
                {"nodeId": i + 1, "nodeName": c, "parentId": 0, "parentName": "Root"}
                for i, c in enumerate(self.classes)
            ],
            "database": database,
            "quirks": [q.to_dict() for q in self.quirks],
        }

    def summary(self) -> dict[str, Any]:
        """Statistics a person checks before training: counts, lengths, label balance."""
        out: dict[str, Any] = {"name": self.name, "classes": len(self.classes), "subsets": {}}
        for name in self.subsets:
            videos = [v for v in self.videos if v.subset == name]
            lengths = np.concatenate(
                [v.segments[:, 1] - v.segments[:, 0] for v in videos] or [np.zeros(0)]
            )
            durations = [v.duration for v in videos if v.duration is not None]
            per_class = Counter(label for v in videos for label in v.segment_labels)
            with_features = [v for v in videos if v.features is not None]
            out["subsets"][name] = {
                "videos": len(videos),
                "videos_with_features": len(with_features),
                "instances": int(lengths.size),
                "multi_label_videos": sum(len(v.labels) > 1 for v in videos),
                "total_duration_s": float(np.sum(durations)) if durations else None,
                "instance_length_s": _quantiles(lengths),
                "instances_per_class": {c: per_class.get(c, 0) for c in self.classes},
                "feature_segments": _quantiles(
                    np.array([v.num_segments for v in with_features], dtype=float)
                ),
            }
        out["quirks"] = Counter(q.kind for q in self.quirks)
        return out


def _quantiles(values: np.ndarray) -> dict[str, float] | None:
    if values.size == 0:
        return None
    q = np.quantile(values, [0.0, 0.5, 0.95, 1.0])
    return {
        "min": float(q[0]),
        "median": float(q[1]),
        "p95": float(q[2]),
        "max": float(q[3]),
        "mean": float(values.mean()),
    }
