"""The checkpoint format, in one place: what ``wtal train`` saves (a model file: the base
model's weights and how its input was made; ``last.pt`` adds what resuming needs), written
atomically, read safely (only tensors and plain values, ``weights_only=True``: never
pickles that could run code), checked for structure (a wrong or damaged file is one line
naming the file), and loaded for inference (no word vectors needed: the class-name vectors
are in the state dict).

Format 2 keeps the weights under ``model`` and says which base model they are
(``config.model.base``); format 1 (no ``format`` key) kept TSM's weights under ``tsm`` and
still loads."""

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

from wtal.data.normalize import FeatureNorm
from wtal.errors import InputFileError
from wtal.models.registry import base_model, build_model
from wtal.models.settings import TextInputs
from wtal.utils.files import atomic_open
from wtal.utils.signals import deferred_interrupt

#: The format this version of wtal writes.
FORMAT = 2
#: What every checkpoint holds (key: type), and what ``last.pt`` adds to resume a run.
MODEL_KEYS: dict[str, type | tuple[type, ...]] = {
    "iteration": int,
    "model": dict,
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
#: The model settings every base model is rebuilt from.
MODEL_SETTINGS = ("context_length", "mode", "temperature", "pool_width")


def upgrade(state: Any) -> Any:
    """A format-1 checkpoint (TSM's weights under ``tsm``) in format 2's layout; anything
    else as it is."""
    if isinstance(state, dict) and "format" not in state and "tsm" in state:
        state = dict(state)
        state["model"] = state.pop("tsm")
        state["format"] = FORMAT
    return state


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
    state = upgrade(state)
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
    if "model" not in keys:  # only some entries asked for (e.g. the config): no model checks
        return None
    if isinstance(state.get("format"), int) and state["format"] > FORMAT:
        return f"format {state['format']} is newer than this wtal reads ({FORMAT}); upgrade wtal"
    model = state["config"].get("model")
    if not isinstance(model, dict) or any(k not in model for k in MODEL_SETTINGS):
        return "its config has no model section with " + _words(MODEL_SETTINGS)
    if not isinstance(state.get("feature_norm"), (dict, type(None))):
        return f"'feature_norm' is a {type(state['feature_norm']).__name__}"
    if not all(isinstance(v, torch.Tensor) for v in state["model"].values()):
        return "its 'model' entry is not a state dict of tensors"
    try:
        base_model(model)
    except ValueError as exc:
        return str(exc)
    return None


def _is(value: Any, kind: type | tuple[type, ...]) -> bool:
    if isinstance(value, bool) and kind is int:
        return False
    return isinstance(value, kind)


def _words(keys: Iterable[str]) -> str:
    return ", ".join(f"'{k}'" for k in keys)


def _weight(weights: dict[str, Any], suffix: str) -> torch.Tensor | None:
    """The one tensor whose key ends with ``suffix`` (e.g. the class-name vectors of a text
    classifier, wherever the base model keeps it), or None."""
    found = [v for k, v in weights.items() if k == suffix or k.endswith("." + suffix)]
    return found[0] if len(found) == 1 else None


def model_payload(
    model: torch.nn.Module,
    *,
    iteration: int,
    config: dict[str, Any],
    classes: list[str],
    feature_dim: int,
    norm: FeatureNorm,
    vocabulary: list[str],
    word_vectors: str,
) -> dict[str, Any]:
    """What inference needs: the base model's weights and how its input was made
    (``feature_dim`` = what the data must provide, before any channel pooling). No optimiser
    state and no VLC, which only trains (a quarter of a training state at paper width)."""
    return {
        "format": FORMAT,
        "iteration": iteration,
        "model": model.state_dict(),
        "config": config,
        "classes": list(classes),
        "feature_dim": int(feature_dim),
        "feature_norm": norm.state(),
        "vocabulary": list(vocabulary),
        "word_vectors": word_vectors,
    }


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> None:
    """Write ``payload`` atomically (a killed run never leaves half a checkpoint); a Ctrl-C
    during the write stops the run once the file is whole."""
    with deferred_interrupt(), atomic_open(path, "wb") as handle:
        torch.save(payload, handle)


@dataclass
class LoadedModel:
    model: torch.nn.Module
    norm: FeatureNorm
    classes: tuple[str, ...]
    feature_dim: int
    config: dict[str, Any]
    iteration: int
    path: Path


def load_model(path: str | os.PathLike[str], device: torch.device | str = "cpu") -> LoadedModel:
    """The base model of a ``wtal train`` checkpoint, in eval mode on ``device``."""
    path = Path(path)
    state = read_checkpoint(path, device)
    weights, config = state["model"], state["config"]
    spec = config["model"]
    norm = FeatureNorm.from_state(state.get("feature_norm"))
    text = TextInputs(_weight(weights, "text.name_vectors"), _weight(weights, "text.fixed_context"))
    try:
        model = build_model(spec, len(state["classes"]), state["feature_dim"] // norm.pool, text)
        model.load_state_dict(weights)
    except (RuntimeError, ValueError) as exc:
        # Text-mode checkpoints from before the class queries followed the authors' code
        # (one shared position table, another fixed sinusoid) must not load half-right.
        first = str(exc).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0]
        raise InputFileError(
            path,
            f"its {base_model(spec).name} model does not fit this version of wtal ({detail}); "
            "checkpoints made before the class queries followed the authors' code must be "
            "retrained",
        ) from None
    model.to(device).eval()
    return LoadedModel(
        model,
        norm,
        tuple(state["classes"]),
        int(state["feature_dim"]),
        config,
        int(state["iteration"]),
        path,
    )
