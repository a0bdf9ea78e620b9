"""What the model modules are built from, in a leaf module (it imports no model module, so
each of them and the registry can import it): the typed parts of the ``model`` config
section (``model.attention``, ``model.fusion``, ``model.text_encoder``), the fixed word
vectors of a text classifier (:class:`TextInputs`) and the classifier's spec
(:class:`HeadSpec`). A section a config or checkpoint lacks (one written before the key
existed) keeps its defaults: the authors' THUMOS14 model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from torch import Tensor


@dataclass(frozen=True)
class AttentionSettings:
    """``model.attention``. ``bottleneck``: the autoencoder's bottleneck as a fraction of the
    stream width (it is also the width the local descriptor reads); ``channel_gate``: the
    stream is first multiplied by sigmoid of its channel descriptor, and that gated stream is
    the autoencoder's (trainable) target; ``dropout``: the attention head's two dropouts."""

    bottleneck: float = 0.5
    channel_gate: bool = False
    dropout: float = 0.5


@dataclass(frozen=True)
class FusionSettings:
    """``model.fusion``: the kernel of the first embedding convolution (X0) and the dropout
    after each of the two (THUMOS14 code 3 and 0.7, ActivityNet1.3 code 1 and 0.5)."""

    kernel: int = 3
    dropout: float = 0.7


@dataclass(frozen=True)
class TextSettings:
    """``model.text_encoder``: attention ``heads``; ``sinusoid_scale`` ``one`` (the fixed
    positions as they are: the THUMOS14 code) or ``inverse_sqrt_width`` (divided by
    sqrt(dim): the ActivityNet1.3 code); ``position_std``, the standard deviation of the
    learnable positions at initialisation (1/32 and 0.01)."""

    heads: int = 8
    sinusoid_scale: str = "one"
    position_std: float = 1 / 32


@dataclass(frozen=True)
class TextInputs:
    """The fixed word vectors a text-matching classifier is built from."""

    name_vectors: Tensor | None  # (C, slots, word_dim): the class names
    prompt_vectors: Tensor | None  # (N_p, word_dim): the handcrafted prompt, if used


@dataclass(frozen=True)
class HeadSpec:
    """How a base model's classifier is made: ``mode`` (``text``: TSM's text matching;
    ``baseline``: the model's own convolution) and what the text matching reads."""

    mode: str
    name_vectors: Tensor | None  # only in text mode
    context_length: int
    handcrafted_context: Tensor | None
    temperature: float
    text: TextSettings


Settings = TypeVar("Settings", AttentionSettings, FusionSettings, TextSettings)


def section(model: Mapping[str, Any], key: str, kind: type[Settings]) -> Settings:
    """``model[key]`` as ``kind``; missing entries take ``kind``'s defaults."""
    return kind(**(model.get(key) or {}))


def model_settings(
    model: Mapping[str, Any],
) -> tuple[AttentionSettings, FusionSettings, TextSettings]:
    """The attention, fusion and text-encoder settings of a ``model`` config section."""
    return (
        section(model, "attention", AttentionSettings),
        section(model, "fusion", FusionSettings),
        section(model, "text_encoder", TextSettings),
    )


def head_spec(model: Mapping[str, Any], text: TextInputs) -> HeadSpec:
    """The classifier a ``model`` config section asks for, over the word vectors ``text``
    (the class names are read in text mode only)."""
    mode = model["mode"]
    return HeadSpec(
        mode=mode,
        name_vectors=text.name_vectors if mode == "text" else None,
        context_length=model["context_length"],
        handcrafted_context=text.prompt_vectors,
        temperature=model["temperature"],
        text=section(model, "text_encoder", TextSettings),
    )
