"""Between the project's per-video features and the W-TALC joint layout.

``pack_wtalc`` writes what existing WTAL code (W-TALC, CO2-Net, the authors' code) reads: a
joint-features ``.npy`` object array of ``(T, 2048)`` float32 (RGB first) aligned with an
annotation folder (``videoname``, ``subset``, ``duration``, ``classlist``, ``labels_all``,
``segments``, ``labels``, ``Ambiguous_test.txt``). ``split_wtalc`` is the reverse: a released
joint file becomes ``<vid>/rgb.npy`` + ``flow.npy`` folders and an annotation JSON.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from wtal.data import Dataset, read_activitynet, read_wtalc, write_activitynet
from wtal.errors import InputFileError
from wtal.utils.files import atomic_open, write_npy, write_text


def _object_array(items: list) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out


def _save_object(path: Path, items: list) -> None:
    with atomic_open(path, "wb") as handle:
        np.save(handle, _object_array(items), allow_pickle=True)


def pack_wtalc(
    annotations: str | os.PathLike[str],
    features_dir: str | os.PathLike[str],
    output: str | os.PathLike[str],
    name: str,
) -> tuple[Path, Path]:
    """Write ``<output>/<name>-I3D-JOINTFeatures.npy`` and ``<output>/<name>-Annotations/``.

    Every annotated video must have features; the error lists those that do not.
    """
    dataset = read_activitynet(annotations, features_dir, name)
    missing = [v.video_id for v in dataset.videos if v.features is None]
    if missing:
        raise InputFileError(
            features_dir, f"no features for {len(missing)} annotated videos: {missing[:10]}"
        )
    out = Path(output)
    folder = out / f"{name}-Annotations"
    folder.mkdir(parents=True, exist_ok=True)
    videos = dataset.videos
    write_npy(folder / "videoname.npy", np.array([v.video_id.encode() for v in videos]))
    write_npy(folder / "subset.npy", np.array([v.subset.encode() for v in videos]))
    write_npy(
        folder / "duration.npy",
        np.array([[v.duration if v.duration is not None else np.nan] for v in videos]),
    )
    write_npy(folder / "classlist.npy", np.array([c.encode() for c in dataset.classes]))
    _save_object(folder / "labels_all.npy", [[n.encode() for n in v.labels] for v in videos])
    _save_object(folder / "segments.npy", [v.segments.tolist() for v in videos])
    _save_object(folder / "labels.npy", [[n.encode() for n in v.segment_labels] for v in videos])
    ambiguous = [f"{v.video_id}  {s:g} {e:g}" for v in videos for s, e in v.ambiguous.tolist()]
    if ambiguous:
        write_text(folder / "Ambiguous_test.txt", "\n".join(ambiguous) + "\n")
    features = out / f"{name}-I3D-JOINTFeatures.npy"
    _save_object(features, [np.asarray(v.features, dtype=np.float32) for v in videos])
    return features, folder


def split_wtalc(
    annotations: str | os.PathLike[str],
    features: str | os.PathLike[str],
    output: str | os.PathLike[str],
    name: str | None = None,
) -> Dataset:
    """Released joint features -> ``<output>/features/<vid>/{rgb,flow}.npy`` + annotations JSON."""
    dataset = read_wtalc(annotations, features, name)
    out = Path(output)
    for video in dataset.videos:
        if video.features is None:
            continue
        if video.features.shape[1] != 2048:
            raise InputFileError(
                features, f"video {video.video_id}: {video.features.shape[1]} channels, not 2048"
            )
        folder = out / "features" / video.video_id
        write_npy(folder / "rgb.npy", video.features[:, :1024])
        write_npy(folder / "flow.npy", video.features[:, 1024:])
    write_activitynet(dataset, out / f"{dataset.name}.json")
    return dataset
