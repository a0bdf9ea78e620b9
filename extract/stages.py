"""The decode and flow stages of one video, as functions: what ``wtal decode`` and ``wtal flow``
run, and what a workflow extraction job runs for each of its videos in one process.

Reuse follows one rule at every stage: an output is current when it records the same video
file and settings (:mod:`extract.identity`) and is not older than a file it was made from
(``made_from``: the decode record, a kept flow file), as a build tool would judge it; ``redo``
makes it again regardless."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from extract.errors import VideoError
from extract.identity import differences, video_fingerprint
from wtal.errors import InputFileError
from wtal.utils.files import exclusive_lock, read_json, write_json

if TYPE_CHECKING:
    from extract.video import VideoInfo

PathLike = str | os.PathLike[str]


def newer_inputs(output: PathLike, made_from: Sequence[PathLike]) -> list[Path]:
    """The files of ``made_from`` modified after ``output`` (a missing one counts as not)."""
    made = os.stat(output).st_mtime_ns
    found = []
    for source in made_from:
        try:
            if os.stat(source).st_mtime_ns > made:
                found.append(Path(source))
        except FileNotFoundError:
            continue
    return found


def why_made_again(output: PathLike, made_from: Sequence[PathLike], redo: bool) -> str | None:
    """Why ``output``, current by its identity record, is made again all the same: a file it
    was made from changed since (is newer), or ``redo``; ``None`` when it is kept."""
    newer = newer_inputs(output, made_from)
    if newer:
        return f"{', '.join(map(str, newer))} changed afterwards"
    return "asked to make it again" if redo else None


def lock_path(output: PathLike) -> Path:
    """The lock file of a single-file output: ``.<name>.lock`` beside it (hidden: a listing
    of the outputs shows outputs)."""
    path = Path(output)
    return path.with_name(f".{path.name}.lock")


# ---------------------------------------------------------------- decode


def decode_record(
    video: PathLike,
    short_side: int = 256,
    on_variable_frame_rate: str = "resample",
    progress: Callable[[int], None] | None = None,
    info: VideoInfo | None = None,
) -> dict[str, Any]:
    """Decode ``video`` end to end at 25 fps; what it is (``ok: true``, the probe, the frames
    decoded, the segments, the file's fingerprint). Raises :class:`VideoError` when it
    cannot be decoded. ``info``: its probe, if already taken."""
    from extract.video import iter_frames, probe

    if info is None:
        info = probe(video, on_variable_frame_rate)  # type: ignore[arg-type]
    fingerprint = video_fingerprint(video)
    decoded = 0
    for _, frames in iter_frames(info, short_side):
        decoded += len(frames)
        if progress is not None:
            progress(len(frames))
    return {"ok": True, **info.to_dict(), "decoded_frames": decoded, "segments": decoded // 16,
            "file": fingerprint}  # fmt: skip


def failure_record(video: PathLike, error: VideoError) -> dict[str, Any]:
    """The record of a video that cannot be decoded."""
    return {"ok": False, "video": str(video), "error": str(error)}


def decode_is_current(record: PathLike, video: PathLike, on_variable_frame_rate: str) -> bool:
    """Whether ``record`` says ``video`` decodes, for this very file (size + sha256 of its
    first and last MiB) and this frame-rate policy. The short side does not change whether
    a video decodes, nor what the record holds. A failure record is never reused: decoding
    again costs little and sees a replaced file."""
    if not Path(record).is_file():
        return False
    try:
        data = read_json(record)
        fingerprint = video_fingerprint(video)
    except (InputFileError, VideoError):
        return False
    if not isinstance(data, dict) or not data.get("ok") or data.get("file") != fingerprint:
        return False
    return not (data.get("variable_frame_rate") and on_variable_frame_rate == "error")


def decode_video(
    video: PathLike,
    output: PathLike,
    short_side: int = 256,
    on_variable_frame_rate: str = "resample",
    *,
    record_failure: bool = False,
    reuse: bool = False,
    progress: Callable[[int], None] | None = None,
    info: VideoInfo | None = None,
) -> dict[str, Any] | None:
    """Decode ``video`` and write its record to ``output``; the record, or ``None`` when a
    current record was kept (``reuse``, see :func:`decode_is_current`). A video that cannot
    be decoded raises :class:`VideoError`, or with ``record_failure`` is recorded as such.
    ``info``: its probe, if already taken."""
    if reuse and decode_is_current(output, video, on_variable_frame_rate):
        return None
    with exclusive_lock(lock_path(output), output):
        try:
            record = decode_record(video, short_side, on_variable_frame_rate, progress, info)
        except VideoError as exc:
            if not record_failure:
                raise
            record = failure_record(video, exc)
        write_json(output, record)
    return record


def read_decoded(record: PathLike, video: PathLike) -> dict[str, Any]:
    """The decode record of ``video``: a :class:`VideoError` saying why when it records a
    failure, an :class:`InputFileError` when it is damaged or describes another version of
    the file."""
    data = read_json(record)  # InputFileError names the file
    if not isinstance(data, dict):
        raise InputFileError(record, "not a decode record (a JSON object)")
    if not data.get("ok"):
        raise VideoError(video, f"could not be decoded, so it has no flow or features: "
                         f"{data.get('error')} (record: {record})")  # fmt: skip
    if "file" in data and os.path.isfile(video):
        why = differences({"video": data["file"]}, {"video": video_fingerprint(video)})
        if why is not None:
            raise InputFileError(
                record, f"describes another version of {video} ({why}): run `wtal decode` again"
            )
    return data


# ---------------------------------------------------------------- flow


def tell(message: str) -> None:
    """A notice for the user (stale outputs being made again), on stderr."""
    print(message, file=sys.stderr, flush=True)


def make_flow(
    video: PathLike,
    output: PathLike,
    preset: str = "standard",
    short_side: int = 256,
    on_variable_frame_rate: str = "resample",
    *,
    workers: int = 1,
    backend: str = "opencv",
    device: Any = "cpu",
    flow_batch: int = 16,
    made_from: Sequence[PathLike] = (),
    redo: bool = False,
    progress: Callable[[int], None] | None = None,
    notify: Callable[[str], None] = tell,
    info: VideoInfo | None = None,
) -> bool:
    """TV-L1 flow of ``video`` into ``output`` (resumable, :func:`extract.flow.compute_flow`)
    unless the file there is current; whether it was computed. ``backend`` is resolved
    (``opencv`` or ``torch``); ``notify`` says why a file there is made again; ``info``: the
    video's probe, if already taken."""
    from extract.flow import cache_identity, compute_flow
    from extract.identity import stale_cache
    from extract.video import probe

    with exclusive_lock(lock_path(output), output):
        if info is None:
            info = probe(video, on_variable_frame_rate)  # type: ignore[arg-type]
        if Path(output).is_file():
            identity = cache_identity(
                video_fingerprint(video), preset, short_side, on_variable_frame_rate, backend
            )
            why = stale_cache(output, identity) or why_made_again(output, made_from, redo)
            if why is None:
                return False
            notify(f"{video}: {output} is stale ({why}): computing it again")
        if redo:  # made again from the first frame: no partial file of an earlier run resumed
            Path(output).with_name(Path(output).stem + ".partial.json").unlink(missing_ok=True)
        compute_flow(
            info,
            output,
            preset,
            workers,
            short_side,
            progress=progress,
            on_variable_frame_rate=on_variable_frame_rate,
            backend=backend,
            device=device,
            flow_batch=flow_batch,
        )
    return True
