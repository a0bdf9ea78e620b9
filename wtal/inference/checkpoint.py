"""Loading a trained TSM from a checkpoint for inference (no word vectors needed: the class
name vectors are in the state dict), and reading any ``wtal train`` checkpoint safely: only
tensors and plain values (``weights_only=True``, never pickles that could run code), and a
structure check, so that a wrong or damaged file is one line naming the file."""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from wtal.errors import InputFileError
from wtal.models.tsm import TSM
from wtal.training.setup import FeatureNorm

#: What every checkpoint holds (key: type), and what ``last.pt`` adds to resume a run.
MODEL_KEYS: dict[str, type | tuple[type, ...]] = {
    "iteration": int,
    "tsm": dict,
    "config": dict,
    "classes": list,
    "feature_dim": int,
}
TRAINING_STATE_KEYS: dict[str, type | tuple[type, ...]] = {
    **MODEL_KEYS,
    "vlc": (dict, type(None)),
    "optimizers": dict,
    "rng": dict,
    "best": (dict, type(None)),
    "validation": list,
}
#: The model settings a TSM is rebuilt from.
MODEL_SETTINGS = ("context_length", "mode", "temperature", "pool_width")


def describe_load_error(exc: BaseException) -> str:
    """Why ``torch.load`` failed, in a few words, without torch's advice to load with
    ``weights_only=False`` (that would run whatever pickle the file holds)."""
    text = str(exc)
    unpickler = re.search(r"WeightsUnpickler error:(.*?)(Check the documentation|$)", text, re.S)
    if unpickler:
        detail = " ".join(unpickler.group(1).split())
        if detail.startswith("Unsupported global"):
            detail = re.sub(r"\s*(was not an allowed global|Please use).*", "", detail)
            return f"it holds objects other than tensors and plain values ({detail})"
        return f"not a PyTorch file, or a damaged one ({detail or 'unreadable pickle'})"
    if isinstance(exc, EOFError) or not text.strip():
        return "empty or truncated file"
    if "zip archive" in text or isinstance(exc, zipfile.BadZipFile):
        first = text.split(". ")[0].strip().rstrip(".")
        return f"truncated or damaged ({first})"
    return text.strip().splitlines()[0].split(". ")[0].strip().rstrip(".")


def read_checkpoint(
    path: str | os.PathLike[str],
    device: torch.device | str = "cpu",
    keys: dict[str, type | tuple[type, ...]] = MODEL_KEYS,
) -> dict[str, Any]:
    """The dictionary a ``wtal train`` checkpoint holds, checked for ``keys``; any other file
    is ``InputFileError(path, "not a wtal checkpoint (...)")``."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "checkpoint not found")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except (RuntimeError, ValueError, TypeError, EOFError, pickle.UnpicklingError) as exc:
        raise InputFileError(path, f"not a wtal checkpoint ({describe_load_error(exc)})") from None
    problem = structure_problem(state, keys)
    if problem:
        raise InputFileError(path, f"not a wtal checkpoint ({problem})")
    return state


def structure_problem(state: Any, keys: dict[str, type | tuple[type, ...]]) -> str | None:
    """What is wrong with a loaded checkpoint's structure, or None."""
    if not isinstance(state, dict):
        return f"it holds a {type(state).__name__}, not a dictionary"
    missing = [key for key in keys if key not in state]
    if missing:
        return f"no {_words(missing)}"
    wrong = [key for key, kind in keys.items() if not _is(state[key], kind)]
    if wrong:
        return "; ".join(f"'{k}' is a {type(state[k]).__name__}" for k in wrong)
    if "tsm" not in keys:  # only some entries asked for (e.g. the config): no model checks
        return None
    model = state["config"].get("model")
    if not isinstance(model, dict) or any(k not in model for k in MODEL_SETTINGS):
        return "its config has no model section with " + _words(MODEL_SETTINGS)
    if not isinstance(state.get("feature_norm"), (dict, type(None))):
        return f"'feature_norm' is a {type(state['feature_norm']).__name__}"
    if not all(isinstance(v, torch.Tensor) for v in state["tsm"].values()):
        return "its 'tsm' entry is not a state dict of tensors"
    return None


def _is(value: Any, kind: type | tuple[type, ...]) -> bool:
    if isinstance(value, bool) and kind is int:
        return False
    return isinstance(value, kind)


def _words(keys: Iterable[str]) -> str:
    return ", ".join(f"'{k}'" for k in keys)


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
    state = read_checkpoint(path, device)
    weights, config = state["tsm"], state["config"]
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
