"""The base models by name: each model's module builds it from the config (``build_tsm``,
``build_basnet``, ``build_hamnet``); the registry maps a name to that builder, the model's
loss and its proposal rule, and is the one place a model is built from the config.

Every base model takes features (B, T, D) (RGB channels first) and returns an output with
``cas`` (B, T, C + 1: the class activation inference localises with, background last) and
``foreground`` (B, T in [0, 1]: the attention that VLC's consistency loss constrains and
that inference's attention thresholds read). Its loss is a pure function
``objective(output, labels, config) -> (terms, total)``. ``model.mode`` picks its classifier:
``baseline`` (its own convolution) or ``text`` (TSM's text matching, the "+TSM" plug-in).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from torch import Tensor, nn

from wtal.errors import UsageError
from wtal.models.basnet import basnet_objective, build_basnet
from wtal.models.hamnet import build_hamnet, hamnet_objective
from wtal.models.losses import tsm_objective
from wtal.models.settings import TextInputs
from wtal.models.tsm import build_tsm


class LocalizerOutput(Protocol):
    cas: Tensor

    @property
    def foreground(self) -> Tensor: ...


Builder = Callable[[int, int, Mapping[str, Any], TextInputs], nn.Module]
Objective = Callable[[Any, Tensor, dict[str, Any]], tuple[dict[str, Tensor], Tensor]]


@dataclass(frozen=True)
class BaseModel:
    """One registered base model: how it is built (by its own module), its loss, and how its
    output becomes proposals (``attention``: thresholds on the foreground attention, the
    CO2-Net lineage TSM follows; ``cas``: thresholds on each class's activation, BaSNet's)."""

    name: str
    build: Builder
    objective: Objective
    proposals: str
    summary: str


BASE_MODELS: dict[str, BaseModel] = {
    "tsm": BaseModel(
        "tsm",
        build_tsm,
        tsm_objective,
        "attention",
        "the paper's model: cross-modal attention, two embedding layers, a classifier",
    ),
    "basnet": BaseModel(
        "basnet",
        build_basnet,
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


def base_model(model: Mapping[str, Any]) -> BaseModel:
    """The registry entry a ``model`` config section names (``base``; absent = tsm, as in
    configs and checkpoints from before there were several)."""
    name = model.get("base", "tsm")
    if name not in BASE_MODELS:
        raise UsageError(f"unknown base model {name!r} (known: {', '.join(BASE_MODELS)})")
    return BASE_MODELS[name]


def build_model(
    model: Mapping[str, Any], num_classes: int, feature_dim: int, text: TextInputs
) -> nn.Module:
    """The base model a ``model`` config section describes, freshly initialised."""
    return base_model(model).build(num_classes, feature_dim, model, text)
