"""Reader for the W-TALC / CO2-Net layout: an annotation folder of ``.npy`` files and one
joint-features ``.npy`` object array (THUMOS14 ``Thumos14reduced-*``, ActivityNet1.3).

Annotation folder: ``videoname``, ``subset``, ``duration``, ``classlist``, ``labels_all``
(video-level labels, what the authors train on), ``segments`` (or ``segment`` in some
ActivityNet1.3 releases) and ``labels`` (one label per instance); THUMOS14 adds
``Ambiguous_test.txt``. Features: an object array aligned with ``videoname``, each ``(T, 2048)``,
at the authors' timing (non-overlapping 16-frame windows at 25 fps: ``I3D_25FPS``). Subsets
spelt as the authors' ActivityNet1.3 files (``train``, ``val``) are read as ``training`` and
``validation`` (``wtal.data.subsets``), with a ``subset-spelling`` quirk.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from wtal.data.checks import (
    check_feature_length,
    clean_segments,
    first_non_finite_row,
    nested_classes,
    non_finite_message,
    width_problem,
)
from wtal.data.dataset import DataQuirk, Dataset, VideoRecord
from wtal.data.safe_npy import load_npy
from wtal.data.subsets import canonical_subset
from wtal.data.timing import I3D_25FPS
from wtal.errors import InputFileError
from wtal.utils.ids import check_video_id
from wtal.utils.segments import load_ambiguous_file

SEGMENT_FILES = ("segments.npy", "segment.npy")


def _required(folder: Path, name: str) -> np.ndarray:
    path = folder / name
    if not path.is_file():
        raise InputFileError(path, "missing from the W-TALC annotation folder")
    return load_npy(path)


def _segments(path: Path, row: int, value: object, instances: int) -> np.ndarray:
    """Row ``row`` of the segments file: one [start, end] per instance of labels.npy."""
    try:
        segments = np.asarray(list(value), dtype=np.float64)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        raise InputFileError(path, f"row {row}: not a list of [start, end] numbers") from None
    if segments.size == 0 and instances == 0:
        return segments.reshape(0, 2)
    if segments.shape != (instances, 2):
        raise InputFileError(
            path,
            f"row {row}: segments of shape {segments.shape}, but labels.npy lists {instances} "
            "instances (one [start, end] each)",
        )
    return segments


def _refuse_duplicate_names(path: Path, names: list[str]) -> None:
    """Two rows with one name would be merged into one video downstream (by id)."""
    first: dict[str, int] = {}
    for row, name in enumerate(names):
        if name in first:
            raise InputFileError(
                path,
                f"video {name!r} is listed twice (rows {first[name]} and {row}): "
                "the two videos would be merged into one",
            )
        first[name] = row


def _subset_spellings(path: Path, subsets: list[str]) -> tuple[list[str], list[DataQuirk]]:
    """The subsets in the project's spelling (``wtal.data.subsets``), and a quirk for each
    other spelling found (the authors' ActivityNet1.3 files say ``train`` / ``val``)."""
    quirks = []
    for found in dict.fromkeys(subsets):
        if canonical_subset(found) != found:
            count = subsets.count(found)
            quirks.append(
                DataQuirk(
                    "subset-spelling",
                    f"{path.name} spells subset {found!r} ({count} video"
                    f"{'s' if count > 1 else ''}): read as {canonical_subset(found)!r}",
                )
            )
    return [canonical_subset(s) for s in subsets], quirks


def _video_features(path: str | os.PathLike[str], video_id: str, value: object) -> np.ndarray:
    """One video's features from the joint file, checked: (T, D), D even, all finite."""
    feature = np.asarray(value, dtype=np.float32)
    if feature.ndim != 2:
        raise InputFileError(path, f"video {video_id!r}: features have shape {feature.shape}")
    problem = width_problem(video_id, feature.shape[1])
    if problem:
        raise InputFileError(path, problem)
    return feature


def _refuse_non_finite(path: str | os.PathLike[str], records: list[VideoRecord]) -> None:
    """Every video's features are checked; the error names the first bad one and counts the
    others (one re-extraction fixes them all)."""
    bad = []
    for record in records:
        if record.features is not None:
            row = first_non_finite_row(record.features)
            if row is not None:
                bad.append((record.video_id, row))
    if not bad:
        return
    message = non_finite_message(*bad[0])
    if len(bad) > 1:
        others = [vid for vid, _ in bad[1:]]
        listed = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        plural = "s" if len(others) > 1 else ""
        message += f" ({len(others)} more video{plural}: {listed})"
    raise InputFileError(path, message)


def read_wtalc(
    annotations: str | os.PathLike[str],
    features: str | os.PathLike[str] | None = None,
    name: str | None = None,
    ambiguous: str | os.PathLike[str] | None = None,
) -> Dataset:
    """Read a W-TALC-style annotation folder (and optionally its joint features file).

    ``ambiguous`` defaults to ``Ambiguous_test.txt`` inside the folder when that file exists.
    """
    folder = Path(annotations)
    if not folder.is_dir():
        raise InputFileError(folder, "annotation folder not found")
    videonames = [
        check_video_id(folder / "videoname.npy", str(v), f"row {row}")
        for row, v in enumerate(_required(folder, "videoname.npy"))
    ]
    _refuse_duplicate_names(folder / "videoname.npy", videonames)
    n = len(videonames)
    subsets = [str(s) for s in _required(folder, "subset.npy")]
    durations = np.asarray(_required(folder, "duration.npy"), dtype=np.float64).reshape(-1)
    classes = tuple(str(c) for c in _required(folder, "classlist.npy"))
    labels_all = _required(folder, "labels_all.npy")
    segment_file = next((f for f in SEGMENT_FILES if (folder / f).is_file()), None)
    if segment_file is None:
        raise InputFileError(folder, "has neither segments.npy nor segment.npy")
    segments = _required(folder, segment_file)
    seg_labels = _required(folder, "labels.npy")
    for what, array in (
        ("subset.npy", subsets),
        ("duration.npy", durations),
        ("labels_all.npy", labels_all),
        (segment_file, segments),
        ("labels.npy", seg_labels),
    ):
        if len(array) != n:
            raise InputFileError(
                folder / what, f"has {len(array)} entries but videoname.npy has {n}"
            )

    feats = None
    subsets, quirks = _subset_spellings(folder / "subset.npy", subsets)
    if features is not None:
        feats = load_npy(features)
        if len(feats) < n:
            quirks.append(
                DataQuirk(
                    "missing-features",
                    f"{features} holds {len(feats)} videos for {n} annotated: "
                    f"the last {n - len(feats)} have no features",
                )
            )
        elif len(feats) > n:
            raise InputFileError(features, f"holds {len(feats)} videos, annotations list {n}")

    if ambiguous is None and (folder / "Ambiguous_test.txt").is_file():
        ambiguous = folder / "Ambiguous_test.txt"
    ambiguous_intervals = load_ambiguous_file(ambiguous) if ambiguous is not None else {}
    unknown = sorted(set(ambiguous_intervals) - set(videonames))
    if unknown:
        quirks.append(
            DataQuirk(
                "ambiguous-unknown-video", f"ambiguous intervals for unknown videos {unknown}"
            )
        )

    class_set = set(classes)
    records = []
    for i, vid in enumerate(videonames):
        instance_labels = [str(label) for label in seg_labels[i]]
        video_labels = tuple(dict.fromkeys(str(label) for label in labels_all[i]))
        strange = (set(instance_labels) | set(video_labels)) - class_set
        if strange:
            raise InputFileError(
                folder / "labels.npy", f"video {vid}: labels {sorted(strange)} not in classlist"
            )
        seg, instance_labels, found = clean_segments(
            vid,
            _segments(folder / segment_file, i, segments[i], len(instance_labels)),
            instance_labels,
            durations[i],
        )
        quirks.extend(found)
        if not video_labels and instance_labels:
            video_labels = tuple(dict.fromkeys(instance_labels))
            quirks.append(
                DataQuirk(
                    "empty-video-labels",
                    f"labels_all is empty but {len(instance_labels)} instances are annotated: "
                    f"video-level labels taken from the instances {list(video_labels)}",
                    vid,
                )
            )
        elif set(video_labels) != set(instance_labels) and instance_labels:
            quirks.append(
                DataQuirk(
                    "video-labels-differ",
                    f"labels_all {sorted(video_labels)} differs from the instance labels "
                    f"{sorted(set(instance_labels))}: labels_all kept for training",
                    vid,
                )
            )
        feature = None
        if feats is not None and i < len(feats):
            feature = _video_features(features, vid, feats[i])
        record = VideoRecord(
            video_id=vid,
            subset=subsets[i],
            duration=float(durations[i]),
            labels=video_labels,
            segments=seg,
            segment_labels=instance_labels,
            ambiguous=ambiguous_intervals.get(vid, np.zeros((0, 2))),
            features=feature,
        )
        quirks.extend(check_feature_length(record, I3D_25FPS))
        records.append(record)
    if features is not None:
        _refuse_non_finite(features, records)
    quirks.extend(nested_classes(records))
    return Dataset(
        name=name or folder.name,
        classes=classes,
        videos=tuple(records),
        quirks=tuple(quirks),
        timing=I3D_25FPS,
    )
