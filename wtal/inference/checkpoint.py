"""Loading a trained TSM from a checkpoint for inference (no word vectors needed: the class
name vectors are in the state dict)."""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from wtal.errors import InputFileError
from wtal.models.tsm import TSM
from wtal.training.setup import FeatureNorm


@dataclass
class LoadedModel:
    tsm: TSM
    norm: FeatureNorm
    classes: tuple[str, ...]
    feature_dim: int
    config: dict[str, Any]
    iteration: int
    path: Path


def load_model(path: str | os.PathLike[str], device: torch.device | str = "cpu") -> LoadedModel:
    """The TSM of a ``wtal train`` checkpoint, in eval mode on ``device``."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "checkpoint not found")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
        weights, config = state["tsm"], state["config"]
    except (KeyError, TypeError, ValueError, RuntimeError, EOFError, pickle.UnpicklingError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputFileError(path, f"not a wtal training checkpoint ({reason})") from None
    model = config["model"]
    norm = FeatureNorm.from_state(state.get("feature_norm"))
    tsm = TSM(
        len(state["classes"]),
        weights.get("text.name_vectors"),
        feature_dim=state["feature_dim"] // norm.pool,
        context_length=model["context_length"],
        handcrafted_context=weights.get("text.fixed_context"),
        mode=model["mode"],
        temperature=model["temperature"],
        pool_width=model["pool_width"],
    )
    try:
        tsm.load_state_dict(weights)
    except RuntimeError as exc:
        # Text-mode checkpoints from before the class queries followed the authors' code
        # (one shared position table, another fixed sinusoid) must not load half-right.
        first = str(exc).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0]
        raise InputFileError(
            path,
            f"its TSM does not fit this version of wtal ({detail}); checkpoints made before "
            "the class queries followed the authors' code must be retrained",
        ) from None
    tsm.to(device).eval()
    return LoadedModel(
        tsm,
        norm,
        tuple(state["classes"]),
        int(state["feature_dim"]),
        config,
        int(state["iteration"]),
        path,
    )
