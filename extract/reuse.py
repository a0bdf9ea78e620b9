"""When an extraction output is reused: what made it (its identity record), what it was made
from (their modification times), whether it was asked to be made again, and who writes it
(its lock). One rule, :func:`why_stale`, decides for every output of every stage.

An output is **current** when it is finished, records the identity the current run would
record (the video file, the settings, the weights) and is not older than a file it was made
from (``made_from``: the decode record, a flow file made beforehand), as a build tool judges
it; ``redo`` (the workflow's forced stages) makes it again whatever it records. Otherwise it
is made again and the run says why ("short side 96, now 64").

Same video file means the same size in bytes and the same sha256 over its first MiB followed
by its last MiB (the whole file when it is 2 MiB or smaller). The modification time and the
path are recorded for the messages but not compared, so a copied, moved or touched file is
still recognised, while a re-encoded or replaced file (another size, or other bytes at either
end, where containers keep their headers and indexes) is not. An edit that keeps the size and
both end MiB unchanged would go unnoticed.

A flow file carries its identity beside it (``<stem>.identity.json``); a feature folder in its
``meta.json``; a decode record holds the video's fingerprint itself.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from extract.errors import VideoError
from extract.presets import FPS, PRESETS
from wtal.errors import InputFileError, UsageError
from wtal.utils.files import read_json, write_json

if TYPE_CHECKING:
    from extract.settings import ExtractionSettings

PathLike = str | os.PathLike[str]

#: Bytes hashed at each end of a video file.
END_BYTES = 1 << 20
#: The flow implementation behind a cache, per backend (a change here must invalidate the
#: caches of that backend). The torch TV-L1 is one backend on every device: CPU and CUDA
#: runs differ only by float rounding.
FLOW_BACKENDS = {
    "opencv": "opencv DualTVL1OpticalFlow, clipped to +-20 px, uint8",
    "torch": "torch TV-L1 (extract/tvl1.py), clipped to +-20 px, uint8",
}

# ---------------------------------------------------------------- identity records


def head_tail_sha256(path: PathLike, size: int) -> str:
    """sha256 of the first ``END_BYTES`` then the last ``END_BYTES`` of a file of ``size``
    bytes (the whole file when it is at most twice ``END_BYTES``)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        if size <= 2 * END_BYTES:
            digest.update(handle.read())
        else:
            digest.update(handle.read(END_BYTES))
            handle.seek(size - END_BYTES)
            digest.update(handle.read(END_BYTES))
    return digest.hexdigest()


def video_fingerprint(path: PathLike) -> dict[str, Any]:
    """``{"bytes", "head_tail_sha256"}``: what identifies a video file (see the module)."""
    try:
        size = os.stat(path).st_size
        return {"bytes": size, "head_tail_sha256": head_tail_sha256(path, size)}
    except FileNotFoundError:
        raise VideoError(path, "file not found") from None
    except OSError as exc:
        raise VideoError(path, f"cannot be read ({(exc.strerror or str(exc)).lower()})") from None


def video_source(path: PathLike) -> dict[str, Any]:
    """Where the video was and when it was last modified (recorded, never compared)."""
    return {"path": os.fspath(path), "mtime_ns": os.stat(path).st_mtime_ns}


def flow_identity(
    video: Mapping[str, Any], settings: ExtractionSettings, backend: str
) -> dict[str, Any]:
    """Everything a flow file depends on: the video's fingerprint, the decode settings, the
    flow implementation (``backend``: ``opencv`` or ``torch``, resolved) and preset."""
    if backend not in FLOW_BACKENDS:
        known = ", ".join(FLOW_BACKENDS)
        raise ValueError(f"unknown flow backend {backend!r} (choose from {known})")
    preset = settings.flow_preset
    if preset not in PRESETS:
        raise UsageError(f"unknown flow preset {preset!r} (choose from {', '.join(PRESETS)})")
    return {
        "video": dict(video),
        "decode": {
            "fps": FPS,
            "short_side": settings.short_side,
            "on_variable_frame_rate": settings.on_variable_frame_rate,
        },
        "flow": {"backend": FLOW_BACKENDS[backend], "preset": preset,
                 "parameters": dict(PRESETS[preset])},
    }  # fmt: skip


def feature_identity(
    flow: Mapping[str, Any], settings: ExtractionSettings, weights: Mapping[str, str]
) -> dict[str, Any]:
    """Everything a feature folder depends on: its flow's identity, the crop, the sha256 of
    the weights of each stream (``{"rgb": ..., "flow": ...}``) and I3D's autocast precision
    (recorded only when not float32, so folders made before the option stay current)."""
    identity = {**flow, "crop": settings.crop, "weights": {k: weights[k] for k in ("rgb", "flow")}}
    if settings.autocast != "none":
        identity["autocast"] = settings.autocast
    return identity


_LABELS = {
    ("video", "bytes"): "video size (bytes)",
    ("video", "head_tail_sha256"): "video content (sha256 of its first and last MiB)",
    ("decode", "fps"): "frame rate",
    ("decode", "short_side"): "short side",
    ("decode", "on_variable_frame_rate"): "--on-variable-frame-rate",
    ("flow", "backend"): "flow backend",
    ("flow", "preset"): "flow preset",
    ("flow", "parameters"): "flow parameters",
    ("crop",): "crop",
    ("weights", "rgb"): "RGB weights (sha256)",
    ("weights", "flow"): "flow weights (sha256)",
    ("autocast",): "I3D autocast",
}


def _flatten(record: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple, Any]:
    out: dict[tuple, Any] = {}
    for key, value in record.items():
        name = (*prefix, key)
        if isinstance(value, Mapping) and name not in _LABELS:
            out.update(_flatten(value, name))
        else:
            out[name] = value
    return out


def _show(value: Any) -> str:
    if isinstance(value, str) and len(value) == 64:
        return value[:12] + "..."
    return "none" if value is None else str(value)


def differences(recorded: Any, expected: Mapping[str, Any]) -> str | None:
    """What differs between a recorded identity and the expected one, in words
    (``"short side 96, now 64"``), or ``None`` when they are equal."""
    if recorded == expected:
        return None
    if not isinstance(recorded, Mapping):
        return "no record of the video and settings it was made from"
    old, new = _flatten(recorded), _flatten(expected)
    changed = []
    order = {key: i for i, key in enumerate(_LABELS)}
    for key in sorted(set(old) | set(new), key=lambda k: (order.get(k, len(order)), k)):
        if old.get(key) != new.get(key):
            label = _LABELS.get(key, " ".join(key))
            changed.append(f"{label} {_show(old.get(key))}, now {_show(new.get(key))}")
    return "; ".join(changed)


def sidecar_path(output: PathLike) -> Path:
    """``flow_fast.npy`` -> ``flow_fast.identity.json``."""
    path = Path(output)
    return path.with_name(f"{path.stem}.identity.json")


def read_sidecar(output: PathLike) -> Any:
    """The identity recorded beside ``output``, or ``None`` when there is none or it cannot
    be read (then the output counts as stale)."""
    path = sidecar_path(output)
    if not path.is_file():
        return None
    try:
        return read_json(path).get("identity")
    except (InputFileError, AttributeError):
        return None


def write_sidecar(output: PathLike, identity: Mapping[str, Any], source: Mapping[str, Any]) -> None:
    """Record what made ``output`` (atomically; call after ``output`` has its final name)."""
    write_json(sidecar_path(output), {"identity": dict(identity), "source": dict(source)})


# ---------------------------------------------------------------- the rule


class Output(Protocol):
    """A stage's output as :func:`why_stale` reads it."""

    @property
    def path(self) -> Path:
        """The file whose presence marks the output finished and whose time is its time."""
        ...

    def unfinished(self) -> str | None:
        """Why the output there is not a finished one (``""``: nothing to say), or ``None``
        (:class:`InputFileError` when it cannot be read)."""
        ...

    def recorded(self) -> Any:
        """The identity the output records (:class:`InputFileError` when unreadable)."""
        ...


@dataclass(frozen=True)
class Sidecar:
    """A file whose identity is recorded beside it (a flow file)."""

    path: Path

    def unfinished(self) -> str | None:
        return None

    def recorded(self) -> Any:
        return read_sidecar(self.path)


@dataclass(frozen=True)
class Reuse:
    """What else decides whether an output is kept: the files it was made from (it must not
    be older than any of them) and whether it was asked to be made again."""

    made_from: tuple[Path, ...] = ()
    redo: bool = False

    def why_made_again(self, output: Path) -> str | None:
        """Why ``output``, current by its identity, is made again all the same, or ``None``."""
        newer = newer_inputs(output, self.made_from)
        if newer:
            return f"{', '.join(map(str, newer))} changed afterwards"
        return "asked to make it again" if self.redo else None


def why_stale(output: Output, expected: Mapping[str, Any], reuse: Reuse) -> str | None:
    """The one rule: ``None`` when ``output`` is current for ``expected`` (keep it), ``""``
    when nothing finished is there (make it; nothing to say), otherwise why it is made again,
    in words."""
    if not output.path.is_file():
        return ""
    try:
        why = output.unfinished()
        if why is None:
            why = differences(output.recorded(), expected)
    except InputFileError as exc:
        why = exc.problem
    return reuse.why_made_again(output.path) if why is None else why


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


# ---------------------------------------------------------------- one writer per output


def lock_path(output: PathLike) -> Path:
    """The lock file of a single-file output: ``.<name>.lock`` beside it (hidden: a listing
    of the outputs shows outputs). A folder's lock is ``<folder>/.lock``."""
    path = Path(output)
    return path.with_name(f".{path.name}.lock")
