"""The sections of a resolved config that the code reads, as typed, frozen settings: one
dataclass per section, read through :func:`read_section`. The dictionary stays what is
recorded (``training.json``, checkpoints); these are how code reads it. ``model`` keeps its
own typed parts (:mod:`wtal.models.settings`), ``inference`` becomes the post-processing's
settings (:func:`wtal.inference.predict.settings_from_config`)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal, TypeVar

from wtal.config.presets import unresolved
from wtal.config.schema import section_defaults


@dataclass(frozen=True)
class TrainingSettings:
    """``training``: batches, optimisers, checkpoints and selection (docs/method.md §1, §4)."""

    KEY: ClassVar[str] = "training"

    iterations: int
    max_seqlen: int
    similar_classes: int
    random_videos: int
    sampling: Literal["perturb", "bins"]
    pairs_skip_empty: bool
    tsm_lr: float
    tsm_weight_decay: float
    vlc_lr: float
    vlc_warmup: int
    clip_grad_norm: float
    vlc_clip: Literal["own", "whole"]
    vlc_adam: Literal["torch", "fairseq"]
    seed: int
    device: str
    checkpoint_every: int
    keep_snapshots: bool
    log_every: int
    selection: Literal["validation", "last"]
    validation_fraction: float
    collapse_threshold: float


@dataclass(frozen=True)
class FeatureSettings:
    """``features``: how features are normalised and pooled before the model sees them."""

    KEY: ClassVar[str] = "features"

    normalize: Literal["none", "standardize"]
    channel_pool: int


@dataclass(frozen=True)
class EvaluationSettings:
    """``evaluation``: the detection protocol (tIoU thresholds, units, ambiguous intervals)."""

    KEY: ClassVar[str] = "evaluation"

    tiou: str
    units: Literal["seconds", "segments"]
    ambiguous_filter: bool


Section = TypeVar("Section", TrainingSettings, FeatureSettings, EvaluationSettings)


@functools.cache
def _defaults(key: str) -> Mapping[str, Any]:
    return section_defaults(key)


def read_section(config: Mapping[str, Any], kind: type[Section]) -> Section:
    """``config[kind.KEY]`` as ``kind``. A key the section lacks (a checkpoint's config from
    before the key existed) takes the schema's default; a preset key still null (a config
    that was not loaded, so not resolved) is a ValueError."""
    values = {**_defaults(kind.KEY), **(config.get(kind.KEY) or {})}
    missing = unresolved(kind.KEY, values)
    if missing:
        raise ValueError(
            f"{', '.join(missing)}: null; the preset fills it when the config is validated "
            "(wtal.config.schema.validate_config)"
        )
    return kind(**{field.name: values[field.name] for field in fields(kind)})
