"""What made a cache: the video file, the decode settings, the flow preset and the weights.

A flow cache (``flow_<preset>.npy``, or a ``wtal flow`` output) carries a sidecar
``<stem>.identity.json``; a feature folder carries the same record in its ``meta.json``. A
cache is reused only when its recorded identity equals the one the current run would record;
otherwise it is recomputed and the caller says what changed.

Same video file means: the same size in bytes and the same sha256 over its first MiB followed
by its last MiB (the whole file when it is 2 MiB or smaller). The modification time and the
path are recorded for the messages but not compared, so a copied, moved or touched file is
still recognised, while a re-encoded or replaced file (another size, or other bytes at either
end, where containers keep their headers and indexes) is not. An edit that keeps the size and
both end MiB unchanged would go unnoticed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from extract.errors import VideoError
from wtal.errors import InputFileError
from wtal.utils.files import read_json, write_json

#: Bytes hashed at each end of a video file.
END_BYTES = 1 << 20
#: The flow implementation behind a cache, per backend (a change here must invalidate the
#: caches of that backend). The torch TV-L1 is one backend on every device: CPU and CUDA
#: runs differ only by float rounding.
FLOW_BACKENDS = {
    "opencv": "opencv DualTVL1OpticalFlow, clipped to +-20 px, uint8",
    "torch": "torch TV-L1 (extract/tvl1.py), clipped to +-20 px, uint8",
}
TARGET_FPS = 25.0


def head_tail_sha256(path: str | os.PathLike[str], size: int) -> str:
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


def video_fingerprint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``{"bytes", "head_tail_sha256"}``: what identifies a video file (see the module)."""
    try:
        size = os.stat(path).st_size
        return {"bytes": size, "head_tail_sha256": head_tail_sha256(path, size)}
    except FileNotFoundError:
        raise VideoError(path, "file not found") from None
    except OSError as exc:
        raise VideoError(path, f"cannot be read ({(exc.strerror or str(exc)).lower()})") from None


def video_source(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Where the video was and when it was last modified (recorded, never compared)."""
    return {"path": os.fspath(path), "mtime_ns": os.stat(path).st_mtime_ns}


def flow_identity(
    video: Mapping[str, Any],
    short_side: int,
    on_variable_frame_rate: str,
    preset: str,
    preset_parameters: Mapping[str, Any],
    backend: str = "opencv",
) -> dict[str, Any]:
    """Everything a flow cache depends on; ``backend``: ``opencv`` or ``torch``."""
    if backend not in FLOW_BACKENDS:
        known = ", ".join(FLOW_BACKENDS)
        raise ValueError(f"unknown flow backend {backend!r} (choose from {known})")
    return {
        "video": dict(video),
        "decode": {
            "fps": TARGET_FPS,
            "short_side": short_side,
            "on_variable_frame_rate": on_variable_frame_rate,
        },
        "flow": {
            "backend": FLOW_BACKENDS[backend],
            "preset": preset,
            "parameters": dict(preset_parameters),
        },
    }


def feature_identity(
    flow: Mapping[str, Any], crop: int, weights: Mapping[str, str], autocast: str = "none"
) -> dict[str, Any]:
    """Everything a feature folder depends on: its flow's identity, the crop, the sha256 of
    the weights of each stream (``{"rgb": ..., "flow": ...}``) and I3D's autocast precision
    (recorded only when not float32, so folders made before the option stay current)."""
    identity = {**flow, "crop": crop, "weights": {k: weights[k] for k in ("rgb", "flow")}}
    if autocast != "none":
        identity["autocast"] = autocast
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


def sidecar_path(cache: str | os.PathLike[str]) -> Path:
    """``flow_fast.npy`` -> ``flow_fast.identity.json``."""
    path = Path(cache)
    return path.with_name(f"{path.stem}.identity.json")


def read_sidecar(cache: str | os.PathLike[str]) -> Any:
    """The identity recorded beside ``cache``, or ``None`` when there is none or it cannot
    be read (then the cache counts as stale)."""
    path = sidecar_path(cache)
    if not path.is_file():
        return None
    try:
        return read_json(path).get("identity")
    except (InputFileError, AttributeError):
        return None


def write_sidecar(
    cache: str | os.PathLike[str], identity: Mapping[str, Any], source: Mapping[str, Any]
) -> None:
    """Record what made ``cache`` (atomically; call after ``cache`` has its final name)."""
    write_json(sidecar_path(cache), {"identity": dict(identity), "source": dict(source)})


def stale_cache(cache: str | os.PathLike[str], identity: Mapping[str, Any]) -> str | None:
    """Why the existing file ``cache`` cannot be reused for ``identity``, or ``None`` when it
    can. A missing file is not stale (there is simply nothing to reuse)."""
    if not Path(cache).is_file():
        return None
    return differences(read_sidecar(cache), identity)
