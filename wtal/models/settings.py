"""The config sections that shape the model's modules (``model.attention``, ``model.fusion``,
``model.text_encoder``), read into their settings. A section a config or checkpoint lacks
(one written before the key existed) keeps its defaults: the authors' THUMOS14 model."""

from __future__ import annotations

from typing import Any, TypeVar

from wtal.models.text_encoder import TextSettings
from wtal.models.tsm import FusionSettings
from wtal.models.video_branch import AttentionSettings

Settings = TypeVar("Settings", AttentionSettings, FusionSettings, TextSettings)


def section(model: dict[str, Any], key: str, kind: type[Settings]) -> Settings:
    """``model[key]`` as ``kind``; missing entries take ``kind``'s defaults."""
    return kind(**(model.get(key) or {}))


def model_settings(
    model: dict[str, Any],
) -> tuple[AttentionSettings, FusionSettings, TextSettings]:
    """The attention, fusion and text-encoder settings of a ``model`` config section."""
    return (
        section(model, "attention", AttentionSettings),
        section(model, "fusion", FusionSettings),
        section(model, "text_encoder", TextSettings),
    )
