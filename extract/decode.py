"""The decode stage: a video decoded end to end at 25 fps, and the record of what it is
(``ok: true``, the probe, the frames decoded, the segments, the file's fingerprint), or of why
it cannot be decoded (``ok: false``, the error). What ``wtal decode`` runs, and a workflow
decode job for each of its videos.

A record is kept when it says the video decodes, for this very file and frame-rate policy; the
short side changes neither whether a video decodes nor what the record holds. A failure record
is never kept: decoding again costs little and sees a replaced file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from extract.errors import Undecodable, VideoError
from extract.presets import SEGMENT_FRAMES
from extract.reuse import differences
from extract.settings import ExtractionSettings
from extract.stage import Stage, Task
from extract.video import Video, iter_frames
from wtal.errors import InputFileError
from wtal.utils.files import read_json, write_json

PathLike = str | os.PathLike[str]


@dataclass
class DecodeRecord:
    """A decode record as the reuse rule reads it: its identity is the video file and the
    frame-rate policy it decodes under (a variable-frame-rate video under ``resample`` only)."""

    path: Path
    on_variable_frame_rate: str

    @cached_property
    def data(self) -> Any:
        return read_json(self.path)

    def unfinished(self) -> str | None:
        if not isinstance(self.data, dict):
            return "not a decode record (a JSON object)"
        return None if self.data.get("ok") else ""  # a failure record: made again, silently

    def recorded(self) -> dict[str, Any]:
        policy = "resample" if self.data.get("variable_frame_rate") else self.on_variable_frame_rate
        return {"video": self.data.get("file"), "decode": {"on_variable_frame_rate": policy}}


class DecodeStage(Stage):
    """Decode a video and write its record; with ``record_failure`` a video that cannot be
    decoded is recorded as such, then reported (:class:`Undecodable`)."""

    name = "decode"

    def __init__(
        self, settings: ExtractionSettings, *, redo: bool = False, record_failure: bool = False
    ) -> None:
        super().__init__(settings, redo=redo)
        self.record_failure = record_failure

    def finished(self, task: Task) -> DecodeRecord:
        return DecodeRecord(task.output, self.settings.on_variable_frame_rate)

    def expected(self, task: Task) -> dict[str, Any]:
        try:
            fingerprint = task.video.fingerprint
        except VideoError:  # unreadable: no record fits, and decoding says why
            fingerprint = None
        policy = self.settings.on_variable_frame_rate
        return {"video": fingerprint, "decode": {"on_variable_frame_rate": policy}}

    def notice(self, task: Task, why: str) -> str:
        return f"{task.video}: the decode record {task.output} is stale ({why}): decoding again"

    def compute(self, task: Task, identity: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.decode(task)
        except VideoError as exc:
            if not self.record_failure:
                raise
            return {"ok": False, "video": str(task.video), "error": str(exc)}

    def write(self, task: Task, result: dict[str, Any]) -> None:
        write_json(task.output, result)

    def record(self, task: Task, identity: dict[str, Any], result: dict[str, Any]) -> None:
        """The record is the output itself; a failure recorded is reported now."""
        if not result["ok"]:
            raise Undecodable(task.video.path, result["error"].removeprefix(f"{task.video}: "))

    def decode(self, task: Task) -> dict[str, Any]:
        """Decode ``task.video`` end to end at 25 fps: what it is. Raises
        :class:`VideoError` when it cannot be decoded."""
        info = task.video.info
        fingerprint = task.video.fingerprint
        decoded = 0
        for _, frames in iter_frames(info, self.settings.short_side):
            decoded += len(frames)
            if task.progress is not None:
                task.progress("decode", decoded, info.frames)
        return {"ok": True, **info.to_dict(), "decoded_frames": decoded,
                "segments": decoded // SEGMENT_FRAMES, "file": fingerprint}  # fmt: skip


def read_decoded(record: PathLike, video: Video) -> dict[str, Any]:
    """The decode record of ``video``: :class:`Undecodable` saying why when it records a
    failure, an :class:`InputFileError` when it is damaged or describes another version of
    the file."""
    data = read_json(record)  # InputFileError names the file
    if not isinstance(data, dict):
        raise InputFileError(record, "not a decode record (a JSON object)")
    if not data.get("ok"):
        raise Undecodable(video.path, f"could not be decoded, so it has no flow or features: "
                          f"{data.get('error')} (record: {record})")  # fmt: skip
    if "file" in data and os.path.isfile(video.path):
        why = differences({"video": data["file"]}, {"video": video.fingerprint})
        if why is not None:
            raise InputFileError(
                record, f"describes another version of {video} ({why}): run `wtal decode` again"
            )
    return data
