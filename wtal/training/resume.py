"""Resuming a run from ``checkpoints/last.pt``: only under the same settings (more iterations
are fine) and on the same data (a digest of it is kept in the state), bit for bit; otherwise
the run stops naming what changed, or with ``--restart-on-change`` starts afresh."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from wtal.config.overrides import differences
from wtal.data.dataset import Dataset
from wtal.errors import InputFileError, TrainingError
from wtal.models.checkpoint import TRAINING_STATE_KEYS, read_checkpoint
from wtal.training.state import Run, restore_rng
from wtal.utils.files import write_text

#: Settings that may change between a run and its resumption (and whole sections).
RESUMABLE_CHANGES = {
    "results_dir",
    "training.iterations",
    "training.device",
    "training.checkpoint_every",
    "training.log_every",
    "training.keep_snapshots",
}
RESUMABLE_SECTIONS = {"evaluation", "inference"}


def settings_changed(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``key: old -> new`` for each setting that differs and forbids resuming."""
    return [
        f"{key}: {before!r} -> {after!r}"
        for key, before, after in differences(old, new)
        if key not in RESUMABLE_CHANGES and key.split(".")[0] not in RESUMABLE_SECTIONS
    ]


def discard_run(checkpoints: Path) -> None:
    """What ``--restart-on-change`` deletes: the run's checkpoints and its metrics log."""
    for stale in checkpoints.glob("*.pt"):
        stale.unlink()
    (checkpoints.parent / "metrics.jsonl").unlink(missing_ok=True)


def data_digest(train_set: Dataset, validation_set: Dataset | None) -> str:
    """What a run learns from and is selected on: the classes, and each training and
    validation video's id, labels, instances and feature bytes (sha256). A run resumes only
    on the same data: a remade video would otherwise leave a model trained on the old one."""
    digest = hashlib.sha256()
    for part, dataset in (("train", train_set), ("validation", validation_set)):
        if dataset is None:
            continue
        digest.update(json.dumps([part, list(dataset.classes)]).encode())
        for video in dataset.videos:
            identity = [
                video.video_id,
                list(video.labels),
                np.asarray(video.segments, dtype=np.float64).tolist(),
                list(video.segment_labels),
                np.asarray(video.ambiguous, dtype=np.float64).tolist(),
            ]
            digest.update(json.dumps(identity).encode())
            if video.features is not None:
                features = np.ascontiguousarray(video.features, dtype=np.float32)
                digest.update(json.dumps(list(features.shape)).encode())
                digest.update(features.data)
    return digest.hexdigest()


def why_not_resumed(state: dict[str, Any], config: dict[str, Any], data: str) -> str | None:
    """Why the run in a training state cannot go on under ``config`` on ``data`` (None: it
    can). A state without a data digest (older runs) is judged on its settings alone."""
    reasons = []
    changed = settings_changed(state["config"], config)
    if changed:
        reasons.append(f"settings changed ({'; '.join(changed[:5])})")
    if state.get("data_digest", data) != data:
        reasons.append(
            "the training data changed (the features, labels or instances of the training "
            "or validation videos)"
        )
    return " and ".join(reasons) or None


def resume_state(
    last: Path, config: dict[str, Any], data: str, on_change: str
) -> dict[str, Any] | None:
    """The training state in ``last`` to resume from (read on the CPU), or None to start
    afresh. An unreadable ``last.pt``, or one with other settings or data, stops the run,
    unless ``on_change="restart"``, which discards the run."""
    if not last.exists():
        return None
    try:
        state = read_checkpoint(last, "cpu", TRAINING_STATE_KEYS)
    except InputFileError as exc:
        if on_change == "restart":
            warnings.warn(f"{exc}: discarding the run, starting afresh", stacklevel=3)
            discard_run(last.parent)
            return None
        raise TrainingError(
            f"{last}: cannot resume from it, {exc.problem}; to train afresh, delete it or "
            "rerun with --restart-on-change (which deletes this run's checkpoints and "
            "metrics log)"
        ) from None
    why = why_not_resumed(state, config, data)
    if why is None:
        return state
    if on_change == "restart":
        warnings.warn(f"{last.parent}: {why}: starting afresh", stacklevel=3)
        discard_run(last.parent)
        return None
    raise TrainingError(
        f"{last}: holds a run that cannot go on: {why}; use another output folder, or "
        "--restart-on-change to discard it"
    )


def trim_log(log_path: Path, iteration: int) -> None:
    """Drop what was logged after the checkpoint resumed from, and any line a kill cut short."""
    keep = []
    for line in log_path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and row.get("iteration", iteration + 1) <= iteration:
            keep.append(line)
    write_text(log_path, "".join(line + "\n" for line in keep))


def restore_run(run: Run, resumed: dict[str, Any], last: Path) -> None:
    """Load a ``last.pt`` training state into ``run`` (weights, optimisers, generators)."""
    try:
        run.model.load_state_dict(resumed["model"])
        if run.vlc is not None:
            run.vlc.load_state_dict(resumed["vlc"])
        run.optimizers.load_state_dict(resumed["optimizers"])
        restore_rng(resumed["rng"], run.rng, run.device)
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise TrainingError(
            f"{last}: its training state does not fit this data and config ({detail}); "
            "use another output folder, or delete it to train afresh"
        ) from None
