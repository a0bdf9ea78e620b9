"""The base models, and the one place a model is built from the config.

Every base model takes features (B, T, D) (RGB channels first) and returns an output with
``cas`` (B, T, C + 1: the class activation inference localises with, background last) and
``foreground`` (B, T in [0, 1]: the attention that VLC's consistency loss constrains and
that inference's attention thresholds read). Its loss is a pure function
``objective(output, labels, config) -> (terms, total)``. ``model.mode`` picks its classifier:
``baseline`` (its own convolution) or ``text`` (TSM's text matching, the "+TSM" plug-in).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from torch import Tensor, nn

from wtal.models.basnet import BaSNet, basnet_objective
from wtal.models.hamnet import build_hamnet, hamnet_objective
from wtal.models.losses import tsm_objective
from wtal.models.settings import model_settings
from wtal.models.tsm import TSM


class LocalizerOutput(Protocol):
    cas: Tensor

    @property
    def foreground(self) -> Tensor: ...


@dataclass(frozen=True)
class TextInputs:
    """The fixed word vectors a text-matching classifier is built from."""

    name_vectors: Tensor | None  # (C, slots, word_dim): the class names
    prompt_vectors: Tensor | None  # (N_p, word_dim): the handcrafted prompt, if used


Builder = Callable[[int, int, dict[str, Any], TextInputs], nn.Module]
Objective = Callable[[Any, Tensor, dict[str, Any]], tuple[dict[str, Tensor], Tensor]]


@dataclass(frozen=True)
class BaseModel:
    """One registered base model: how it is built, its loss, and how its output becomes
    proposals (``attention``: thresholds on the foreground attention, the CO2-Net lineage
    TSM follows; ``cas``: thresholds on each class's activation, BaSNet's)."""

    name: str
    build: Builder
    objective: Objective
    proposals: str
    summary: str


def _build_tsm(
    num_classes: int, feature_dim: int, model: dict[str, Any], text: TextInputs
) -> nn.Module:
    attention, fusion, encoder = model_settings(model)
    return TSM(
        num_classes,
        text.name_vectors if model["mode"] == "text" else None,
        feature_dim=feature_dim,
        context_length=model["context_length"],
        handcrafted_context=text.prompt_vectors,
        mode=model["mode"],
        temperature=model["temperature"],
        pool_width=model["pool_width"],
        attention=attention,
        fusion=fusion,
        text=encoder,
    )


def _build_basnet(
    num_classes: int, feature_dim: int, model: dict[str, Any], text: TextInputs
) -> nn.Module:
    return BaSNet(
        num_classes,
        text.name_vectors if model["mode"] == "text" else None,
        feature_dim=feature_dim,
        context_length=model["context_length"],
        handcrafted_context=text.prompt_vectors,
        mode=model["mode"],
        temperature=model["temperature"],
        text=model_settings(model)[2],
    )


BASE_MODELS: dict[str, BaseModel] = {
    "tsm": BaseModel(
        "tsm",
        _build_tsm,
        tsm_objective,
        "attention",
        "the paper's model: cross-modal attention, two embedding layers, a classifier",
    ),
    "basnet": BaseModel(
        "basnet",
        _build_basnet,
        basnet_objective,
        "cas",
        "BaSNet (AAAI 2020): filtering module, one CAS module for base and suppression branches",
    ),
    # HAM-Net's tester is the attention post-processing of docs/method.md §5 except that its
    # runs need attention strictly above each threshold and no argmax class is kept when
    # none passes the class threshold (§9.2); this entry uses §5 as it is.
    "hamnet": BaseModel(
        "hamnet",
        build_hamnet,
        hamnet_objective,
        "attention",
        "HAM-Net (AAAI 2021): classifier and attention branches, hybrid (soft, semi-soft, "
        "hard) attention MIL",
    ),
}


def base_model(model: dict[str, Any]) -> BaseModel:
    """The registry entry a ``model`` config section names (``base``; absent = tsm, as in
    configs and checkpoints from before there were several)."""
    name = model.get("base", "tsm")
    if name not in BASE_MODELS:
        raise ValueError(f"unknown base model {name!r} (known: {', '.join(BASE_MODELS)})")
    return BASE_MODELS[name]


def build_model(
    model: dict[str, Any], num_classes: int, feature_dim: int, text: TextInputs
) -> nn.Module:
    """The base model a ``model`` config section describes, freshly initialised."""
    return base_model(model).build(num_classes, feature_dim, model, text)
