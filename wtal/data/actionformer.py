"""Reader for ActionFormer's THUMOS14 I3D release (``thumos.tar.gz`` of
happyharrycn/actionformer_release).

What the release and its loader (``configs/thumos_i3d.yaml``, ``libs/datasets/thumos14.py``,
``libs/modeling/meta_archs.py``) say, as checked against the published code:

- Features: ``i3d_features/<video_id>.npy``, one float32 ``(T, 2048)`` array per video (the
  two I3D streams side by side: RGB 1024 then flow 1024; the config's ``input_dim: 2048``),
  from 16-frame clips (``num_frames: 16``) taken every 4 frames (``feat_stride: 4``) at the
  video's own frame rate (about 30 fps): one feature per 4/30 s, windows overlapping by 12
  frames.
- Annotations: ``annotations/thumos14.json``, ActivityNet style: ``{"database": {vid:
  {"subset": "Validation" | "Test", "duration": s, "fps": f, "annotations": [{"label",
  "segment": [s, e], "segment(frames)": [..], "label_id": n}]}}}``. The loader lowercases the
  subset (the config's splits are ``validation`` for training and ``test`` for testing) and,
  with no ``default_fps`` in the THUMOS config, takes each video's ``fps`` from the JSON.
- Time: grid point ``x`` is ``(x x feat_stride + 0.5 x num_frames) / fps`` seconds, i.e. a
  feature sits at its window's centre; ground truth goes the other way. ``wtal.data.timing``
  follows this convention (see there for what a run of features spans).

Here: subsets are lowercased as ActionFormer does ("Validation" -> ``validation``, "Test" ->
``test``), so ``dataset.train_subset: validation`` and ``test_subset: test`` select them just
as for the other THUMOS14 readers. Classes are ordered by ``label_id``. All instances are kept
(ActionFormer drops CliffDiving, label 4, from its own training because every CliffDiving
instance is also a Diving one; here that shows as a ``nested-class`` quirk, and the evaluation
scores all 20 classes as the official protocol does). The timing is ``FeatureTiming(fps, 16,
4)`` with each video's JSON ``fps`` (30 when a video has none, with a quirk); the dataset's
timing is 30 fps and a video at another rate carries its own. A configured ``dataset.timing``
replaces all of that, as ActionFormer's ``default_fps`` would.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from wtal.data.activitynet import load_video_features
from wtal.data.checks import (
    check_feature_length,
    clean_segments,
    json_instances,
    json_number,
    nested_classes,
)
from wtal.data.dataset import DataQuirk, Dataset, VideoRecord
from wtal.data.timing import ACTIONFORMER_THUMOS, FeatureTiming
from wtal.errors import InputFileError
from wtal.utils.files import read_json
from wtal.utils.ids import check_video_id


def _classes(path: str | os.PathLike[str], database: dict[str, Any]) -> tuple[str, ...]:
    """Class names ordered by ``label_id`` (by name where a label has none); one id per
    label, one label per id."""
    ids: dict[str, int | None] = {}
    for vid, entry in database.items():
        for a in entry.get("annotations") or []:
            label, label_id = str(a["label"]), a.get("label_id")
            if label_id is not None and (
                isinstance(label_id, bool) or not isinstance(label_id, int)
            ):
                raise InputFileError(
                    path, f"database/{vid}: label_id {label_id!r} is not an integer"
                )
            known = ids.get(label)
            if known is not None and label_id is not None and known != label_id:
                raise InputFileError(
                    path, f"database/{vid}: label {label!r} has label_id {label_id} and {known}"
                )
            if known is None:
                ids[label] = label_id
    by_id: dict[int, str] = {}
    for label, label_id in ids.items():
        if label_id is not None and by_id.setdefault(label_id, label) != label:
            raise InputFileError(
                path, f"label_id {label_id} names both {by_id[label_id]!r} and {label!r}"
            )
    return tuple(sorted(ids, key=lambda c: (ids[c] is None, ids[c] or 0, c)))


def read_actionformer(
    annotations: str | os.PathLike[str],
    features_dir: str | os.PathLike[str] | None = None,
    name: str | None = None,
    *,
    timing: FeatureTiming | None = None,
) -> Dataset:
    """Read ``thumos14.json`` and, optionally, the ``<video_id>.npy`` features folder."""
    if features_dir is not None and not Path(features_dir).is_dir():
        raise InputFileError(features_dir, "features folder not found")
    data = read_json(annotations)
    if not isinstance(data, dict) or not isinstance(data.get("database"), dict):
        raise InputFileError(annotations, "missing the top-level 'database' object")
    database: dict[str, Any] = data["database"]
    instances = {}
    for vid, entry in database.items():
        check_video_id(annotations, vid, f"database/{vid}")
        if not isinstance(entry, dict) or not isinstance(entry.get("subset"), str):
            raise InputFileError(annotations, f"database/{vid}: needs at least 'subset'")
        instances[vid] = json_instances(annotations, f"database/{vid}", entry.get("annotations"))
    classes = _classes(annotations, database)
    base = timing or ACTIONFORMER_THUMOS
    quirks: list[DataQuirk] = []
    records: list[VideoRecord] = []
    for vid, entry in database.items():
        where = f"database/{vid}"
        segments, labels = instances[vid]
        duration = entry.get("duration")
        if duration is not None:
            duration = json_number(annotations, f"{where}/duration", duration)
        seg, labels_kept, found = clean_segments(vid, segments, labels, duration)
        quirks.extend(found)
        own = base
        if timing is None:
            if entry.get("fps") is None:
                quirks.append(DataQuirk("missing-fps", f"no 'fps': {base.fps:g} fps assumed", vid))
            else:
                own = FeatureTiming.from_meta(
                    {**base.to_meta(), "fps": entry["fps"]}, annotations, where
                )
        features = None
        if features_dir is not None:
            features = load_video_features(features_dir, vid)
            if features is None:
                quirks.append(DataQuirk("missing-features", f"no features in {features_dir}", vid))
        record = VideoRecord(
            video_id=vid,
            subset=entry["subset"].lower(),
            duration=duration,
            labels=tuple(dict.fromkeys(labels_kept)),
            segments=seg,
            segment_labels=labels_kept,
            features=features,
            timing=None if own == base else own,
        )
        quirks.extend(check_feature_length(record, base))
        records.append(record)
    dims = {r.features.shape[1] for r in records if r.features is not None}
    if len(dims) > 1:
        raise InputFileError(
            features_dir or annotations, f"videos have different feature sizes {sorted(dims)}"
        )
    quirks.extend(nested_classes(records))
    return Dataset(
        name=name or Path(annotations).stem,
        classes=classes,
        videos=tuple(records),
        quirks=tuple(quirks),
        timing=base,
    )
