"""The project's own dataset format: ActivityNet annotation JSON + one feature file per video.

Annotation JSON: ``{"database": {vid: {"subset", "duration", "annotations": [{"segment":
[s, e], "label"}], "labels"?: [...], "ambiguous"?: [[s, e], ...]}}, "classes"?: [...]}``.
``labels`` (video-level) defaults to the instance labels; ``classes`` fixes the class order
(default: sorted labels). Features: ``<dir>/<vid>.npy`` ``(T, D)``, or the extraction stage's
``<dir>/<vid>/rgb.npy`` and ``flow.npy`` ``(T, 1024)`` each, joined RGB first.

Feature timing (``wtal.data.timing``): the ``timing`` recorded in ``<dir>/<vid>/meta.json``
(written by ``wtal extract``) where present, else the config's ``dataset.timing``, else the
published I3D timing (16 frames at 25 fps). A ``meta.json`` that contradicts a configured
timing is refused (the features are what they are); videos whose recorded timing differs
from the dataset's carry their own.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from wtal.data.checks import (
    check_feature_length,
    clean_segments,
    first_non_finite_row,
    json_instances,
    json_number,
    nested_classes,
    non_finite_message,
    width_problem,
)
from wtal.data.dataset import DataQuirk, Dataset, VideoRecord
from wtal.data.timing import I3D_25FPS, FeatureTiming
from wtal.errors import InputFileError, quoted
from wtal.utils.files import read_json, write_json
from wtal.utils.ids import check_video_id


def load_video_features(features_dir: str | os.PathLike[str], video_id: str) -> np.ndarray | None:
    """Features of one video, or None when the folder has none for it.

    Refused, naming the file: a width that is not RGB + flow halves, RGB and flow of different
    lengths or widths, and NaN or inf anywhere (the first bad segment is named).
    """
    folder = Path(features_dir)
    single = folder / f"{video_id}.npy"
    if single.is_file():
        array = _load_checked(single, video_id)
        problem = width_problem(video_id, array.shape[1])
        if problem:
            raise InputFileError(single, problem)
        return array
    if not (folder / video_id / "rgb.npy").is_file():
        return None
    rgb = _load_checked(folder / video_id / "rgb.npy", video_id)
    flow_path = folder / video_id / "flow.npy"
    if not flow_path.is_file():
        raise InputFileError(flow_path, "missing (rgb.npy is there)")
    flow = _load_checked(flow_path, video_id)
    if rgb.shape[0] != flow.shape[0]:
        raise InputFileError(flow_path, f"{flow.shape[0]} segments but rgb.npy has {rgb.shape[0]}")
    if rgb.shape[1] != flow.shape[1]:
        raise InputFileError(flow_path, f"{flow.shape[1]} channels but rgb.npy has {rgb.shape[1]}")
    return np.concatenate([rgb, flow], axis=1)


def recorded_timing(
    features_dir: str | os.PathLike[str], video_id: str
) -> tuple[FeatureTiming, Path] | None:
    """The timing ``wtal extract`` recorded in ``<dir>/<vid>/meta.json`` (and that file), or
    None when there is no such file or it predates the ``timing`` record."""
    path = Path(features_dir) / video_id / "meta.json"
    if not path.is_file():
        return None
    meta = read_json(path)
    if not isinstance(meta, dict):
        raise InputFileError(path, "meta.json is not a JSON object")
    if meta.get("timing") is None:
        return None
    return FeatureTiming.from_meta(meta["timing"], path, "timing"), path


def _load_checked(path: Path, video_id: str) -> np.ndarray:
    array = _load_array(path)
    row = first_non_finite_row(array)
    if row is not None:
        raise InputFileError(path, non_finite_message(video_id, row))
    return array


def _load_array(path: Path) -> np.ndarray:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise InputFileError(path, f"not a readable feature array ({exc})") from None
    if array.ndim != 2:
        raise InputFileError(path, f"features must be (segments, channels), got {array.shape}")
    if array.dtype != np.float32:
        array = array.astype(np.float32)
    return array


def dataset_from_activitynet(
    data: dict[str, Any],
    path: str | os.PathLike[str] = "<annotations>",
    features_dir: str | os.PathLike[str] | None = None,
    name: str | None = None,
    *,
    timing: FeatureTiming | None = None,
) -> Dataset:
    """Build a dataset from parsed annotation JSON (see the module docstring); ``timing``:
    the configured feature timing (None: recorded in the features, or the I3D default)."""
    if not isinstance(data, dict) or not isinstance(data.get("database"), dict):
        raise InputFileError(path, "missing the top-level 'database' object")
    quirks = [
        DataQuirk(str(q.get("kind")), str(q.get("message")), q.get("video_id"))
        for q in data.get("quirks", [])
        if isinstance(q, dict)
    ]
    records = []
    recorded: dict[str, FeatureTiming] = {}
    seen_labels: set[str] = set()
    for vid, entry in data["database"].items():
        where = f"database/{vid}"
        check_video_id(path, vid, where)
        if not isinstance(entry, dict) or "subset" not in entry:
            raise InputFileError(path, f"{where}: needs at least 'subset'")
        segments, instance_labels = json_instances(path, where, entry.get("annotations"))
        duration = entry.get("duration")
        duration = None if duration is None else json_number(path, f"{where}/duration", duration)
        seg, instance_labels, found = clean_segments(vid, segments, instance_labels, duration)
        quirks.extend(found)
        video_labels = entry.get("labels")
        if video_labels is None:
            video_labels = list(dict.fromkeys(instance_labels))
        elif not isinstance(video_labels, list) or not all(
            isinstance(label, str) for label in video_labels
        ):
            raise InputFileError(
                path, f"{where}/labels: {quoted(video_labels)} is not a list of strings"
            )
        seen_labels.update(instance_labels, video_labels)
        ambiguous = np.asarray(entry.get("ambiguous", []), dtype=np.float64).reshape(-1, 2)
        features = None
        if features_dir is not None:
            features = load_video_features(features_dir, vid)
            if features is None:
                quirks.append(DataQuirk("missing-features", f"no features in {features_dir}", vid))
            found_timing = recorded_timing(features_dir, vid)
            if found_timing is not None:
                if timing is not None and found_timing[0] != timing:
                    raise InputFileError(
                        found_timing[1],
                        f"records features of {found_timing[0].describe()}, but the "
                        f"configured dataset.timing says {timing.describe()}",
                    )
                recorded[vid] = found_timing[0]
        record = VideoRecord(
            video_id=vid,
            subset=str(entry["subset"]),
            duration=duration,
            labels=tuple(video_labels),
            segments=seg,
            segment_labels=tuple(instance_labels),
            ambiguous=ambiguous,
            features=features,
        )
        records.append(record)
    dataset_timing = timing or (
        Counter(recorded.values()).most_common(1)[0][0] if recorded else I3D_25FPS
    )
    for i, record in enumerate(records):
        own = recorded.get(record.video_id, dataset_timing)
        if own != dataset_timing:
            records[i] = record = replace(record, timing=own)
        quirks.extend(check_feature_length(record, dataset_timing))
    classes = data.get("classes")
    if classes is None:
        classes = sorted(seen_labels)
    else:
        missing = sorted(seen_labels - set(classes))
        if missing:
            raise InputFileError(path, f"labels {missing} are not in 'classes'")
    dims = {r.features.shape[1] for r in records if r.features is not None}
    if len(dims) > 1:
        raise InputFileError(
            features_dir or path, f"videos have different feature sizes {sorted(dims)}"
        )
    if not any(q.kind == "nested-class" for q in quirks):
        quirks.extend(nested_classes(records))
    return Dataset(
        name=name or Path(path).stem,
        classes=tuple(classes),
        videos=tuple(records),
        quirks=tuple(quirks),
        timing=dataset_timing,
    )


def read_activitynet(
    annotations: str | os.PathLike[str],
    features_dir: str | os.PathLike[str] | None = None,
    name: str | None = None,
    *,
    timing: FeatureTiming | None = None,
) -> Dataset:
    """Read an annotation JSON file and, optionally, per-video features."""
    if features_dir is not None and not Path(features_dir).is_dir():
        raise InputFileError(features_dir, "features folder not found")
    return dataset_from_activitynet(
        read_json(annotations), annotations, features_dir, name, timing=timing
    )


def write_activitynet(dataset: Dataset, path: str | os.PathLike[str]) -> None:
    """Write the dataset's annotations as ActivityNet JSON (atomically)."""
    write_json(path, dataset.to_activitynet())
