"""The training loop: seeded batches, the four-step update, checkpoints that resume bit for
bit on CPU (:mod:`.resume`), selection on a held-out split of the training videos, never the
test set (:mod:`.selection`), a JSONL metrics log, a loss-curve PNG, and a clear stop on a
non-finite loss."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
from tqdm import tqdm

from wtal.data.dataset import Dataset
from wtal.errors import Interrupted, TrainingError
from wtal.models.checkpoint import save_checkpoint
from wtal.report.losses import plot_losses
from wtal.training.resume import data_digest, restore_run, resume_state, trim_log
from wtal.training.schedule import vlc_learning_rate
from wtal.training.selection import (
    SPLIT,
    TrainingResult,
    select_checkpoint,
    validation_part,
    validation_record,
)
from wtal.training.state import Run, prepare_run, usable_videos
from wtal.training.step import train_step
from wtal.utils.files import exclusive_lock, write_json
from wtal.utils.signals import deferred_interrupt


@dataclass
class Progress:
    """What the loop carries between iterations and into the summary."""

    start: int
    best: dict[str, Any] | None
    history: list[dict[str, Any]]
    saved: int | None  # the iteration in last.pt
    low_attention: int = 0
    collapsed: bool = False
    current: int = 0  # the iteration under way (for the interruption message)


@dataclass(frozen=True)
class Folder:
    """Where a run writes."""

    out: Path

    @property
    def checkpoints(self) -> Path:
        return self.out / "checkpoints"

    @property
    def last(self) -> Path:
        return self.checkpoints / "last.pt"

    @property
    def log(self) -> Path:
        return self.out / "metrics.jsonl"


def _collapse_message(threshold: float, attention: float, iteration: int) -> str:
    return (
        f"attention collapse: mean att_m < {threshold} for 20 "
        f"iterations (now {attention:.4f} at iteration {iteration}); no proposal will pass "
        "the thresholds. Try features.normalize: standardize or a larger model.temperature "
        "(docs/method.md §8)"
    )


def _interrupted(iteration: int, saved: int | None, last: Path, first: int) -> Interrupted:
    if saved is None:
        return Interrupted(
            f"interrupted at iteration {iteration}, before the first checkpoint (iteration "
            f"{first}); rerun the same command to start again"
        )
    return Interrupted(
        f"interrupted at iteration {iteration}; the last checkpoint (iteration {saved}, "
        f"{last}) is kept; rerun the same command to resume"
    )


def _stopped(exc: FloatingPointError, saved: int | None, last: Path) -> TrainingError:
    if saved is None:
        return TrainingError(
            f"{exc}; training stopped before its first checkpoint, so there is nothing to "
            "resume (do the features hold NaN or Inf values?)"
        )
    return TrainingError(
        f"{exc}; training stopped, the last good checkpoint is {last} (iteration {saved})"
    )


def train(
    config: dict[str, Any],
    train_set: Dataset,
    output: str | os.PathLike[str],
    *,
    validation: Dataset | str | None = SPLIT,
    progress: bool = True,
    stop_after: int | None = None,
    on_config_change: str = "error",
    config_files: Sequence[str] = (),
) -> TrainingResult:
    """Train the configured base model (+ VLC) on ``train_set``; resume from
    ``output/checkpoints/last.pt`` if there. ``config``: resolved, as a config is loaded
    (:func:`wtal.config.load.load_config`).

    ``validation``: :data:`SPLIT` (default, as ``wtal train``) holds out
    ``training.validation_fraction`` of ``train_set``, stratified by class and seeded by
    ``training.seed``, when ``training.selection`` is ``validation``; a Dataset selects on
    it; None selects nothing (the last checkpoint).

    A run is resumed only under the same settings (more iterations are fine): otherwise
    ``on_config_change="error"`` stops with the differences and ``"restart"`` deletes the old
    checkpoints and log and starts afresh. ``stop_after`` ends the run early after that
    iteration (used to test resuming). ``config_files``: the files the config was merged
    from (``base:`` layers first), recorded in training.json beside the config, not in it
    (a run resumes under the same settings whichever files held them).

    A CPU run uses deterministic algorithms and leaves the setting as it found it: left on,
    it would make every later cuBLAS call of the process fail (a CUDA run after it)."""
    train_set, validation_set = validation_part(config, train_set, validation)
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    folder = Folder(Path(output))
    folder.out.mkdir(parents=True, exist_ok=True)
    try:
        with exclusive_lock(folder.out / ".lock", folder.out):
            run, progress_now = _start(config, train_set, validation_set, folder, on_config_change)
            return _run(
                run, progress_now, validation_set, folder, progress, stop_after, config_files
            )
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


def _start(
    config: dict[str, Any],
    train_set: Dataset,
    validation_set: Dataset | None,
    folder: Folder,
    on_config_change: str,
) -> tuple[Run, Progress]:
    """The run, fresh or resumed from ``last.pt``, and where it stands."""
    folder.checkpoints.mkdir(parents=True, exist_ok=True)
    train_set = usable_videos(train_set)
    digest = data_digest(train_set, validation_set)
    resumed = resume_state(folder.last, config, digest, on_config_change)
    run = prepare_run(config, train_set, digest)
    untrained = folder.checkpoints / "untrained.pt"
    if resumed is None:
        folder.log.unlink(missing_ok=True)
        # The model before any update: the reference every trained number is compared with.
        save_checkpoint(untrained, run.payload(0))
        return run, Progress(0, None, [], None)
    if not untrained.is_file():
        # Built from the seed as when the run started, so the same file; a workflow rerun
        # deletes it before resuming.
        save_checkpoint(untrained, run.payload(0))
    restore_run(run, resumed, folder.last)
    start = resumed["iteration"]
    if folder.log.exists():
        trim_log(folder.log, start)
    return run, Progress(start, resumed["best"], resumed["validation"], start)


def _run(
    run: Run,
    progress: Progress,
    validation_set: Dataset | None,
    folder: Folder,
    progress_bar: bool,
    stop_after: int | None,
    config_files: Sequence[str],
) -> TrainingResult:
    """Iterate to the end (or ``stop_after``), then write the run's outputs."""
    total = run.training.iterations
    end = min(total, stop_after) if stop_after is not None else total
    bar = tqdm(
        total=total,
        initial=progress.start,
        desc="train",
        disable=not progress_bar,
        dynamic_ncols=True,
    )
    progress.current = progress.start + 1
    try:
        with open(folder.log, "a", encoding="utf-8") as log:
            iterate(run, progress, validation_set, end, log, folder.last, bar)
    except KeyboardInterrupt:
        first = min(run.training.checkpoint_every, total)
        raise _interrupted(progress.current, progress.saved, folder.last, first) from None
    finally:
        bar.close()
    try:
        return finish(run, progress, validation_set, folder.out, end, tuple(config_files))
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted after iteration {end}, while writing the run's outputs; the last "
            f"checkpoint (iteration {progress.saved}, {folder.last}) is kept; rerun the same "
            "command to finish"
        ) from None


def set_vlc_learning_rate(run: Run, iteration: int) -> float:
    """The VLC optimisers' learning rate at ``iteration`` (warm-up then inverse sqrt)."""
    lr = vlc_learning_rate(iteration, run.training.vlc_lr, run.training.vlc_warmup)
    for optimizer in (run.optimizers.reconstructor, run.optimizers.attention):
        if optimizer is not None:
            for group in optimizer.param_groups:
                group["lr"] = lr
    return lr


def checkpoint(
    run: Run,
    progress: Progress,
    validation_set: Dataset | None,
    iteration: int,
    log: IO[str],
    last: Path,
) -> None:
    """At a checkpoint: validate (and keep the best), snapshot if asked, save ``last.pt``."""
    folder = last.parent
    if run.training.selection == "validation" and validation_set is not None:
        record = validation_record(run, validation_set, iteration)
        progress.history.append(record)
        average = record["validation"]["average_mAP"]
        if average is not None and (
            progress.best is None or average > progress.best["average_mAP"]
        ):
            progress.best = {"iteration": iteration, "average_mAP": average}
            save_checkpoint(folder / "best.pt", run.payload(iteration))
        log.write(json.dumps(record) + "\n")
        log.flush()
    if run.training.keep_snapshots:
        save_checkpoint(folder / f"iter_{iteration:06d}.pt", run.payload(iteration))
    # A Ctrl-C during the write lands after it: last.pt is whole and progress says which.
    with deferred_interrupt():
        save_checkpoint(last, run.training_state(iteration, progress.best, progress.history))
        progress.saved = iteration


def _watch_attention(run: Run, progress: Progress, attention: float, iteration: int) -> bool:
    """Count the iterations in a row with mean attention under the collapse threshold;
    True (and a warning) the first time there are 20."""
    threshold = run.training.collapse_threshold
    progress.low_attention = progress.low_attention + 1 if attention < threshold else 0
    if progress.low_attention != 20 or progress.collapsed:
        return False
    progress.collapsed = True
    warnings.warn(_collapse_message(threshold, attention, iteration), stacklevel=4)
    return True


def iterate(
    run: Run,
    progress: Progress,
    validation_set: Dataset | None,
    end: int,
    log: IO[str],
    last: Path,
    bar: tqdm,
) -> None:
    """Iterations ``progress.start + 1`` .. ``end``: batch, step, log, checkpoint."""
    training = run.training
    for iteration in range(progress.start + 1, end + 1):
        progress.current = iteration
        lr = set_vlc_learning_rate(run, iteration)
        x, y, sentences = run.batch(iteration)
        try:
            values = train_step(
                run.model, run.vlc, run.optimizers, x, y, sentences, run.config, run.rng, iteration
            )
        except FloatingPointError as exc:
            raise _stopped(exc, progress.saved, last) from None
        if _watch_attention(run, progress, values["attention_mean"], iteration):
            log.write(json.dumps({"iteration": iteration, "event": "attention_collapse"}) + "\n")
        if iteration % training.log_every == 0 or iteration == end:
            log.write(json.dumps({"iteration": iteration, "lr_vlc": lr, "losses": values}) + "\n")
            log.flush()
            bar.set_postfix(
                mil=f"{values.get('mil', 0.0):.3f}", att=f"{values['attention_mean']:.2f}"
            )
        bar.update(1)
        if iteration % training.checkpoint_every == 0 or iteration == training.iterations:
            checkpoint(run, progress, validation_set, iteration, log, last)


def finish(
    run: Run,
    progress: Progress,
    validation_set: Dataset | None,
    out: Path,
    end: int,
    config_files: tuple[str, ...] = (),
) -> TrainingResult:
    """The loss curve, the selected checkpoint and ``training.json``."""
    plot_losses(out / "metrics.jsonl", out / "losses.png")
    selected, selection = select_checkpoint(run, progress.best, out / "checkpoints", end)
    summary = {
        "selected_checkpoint": selected.name,
        "selection": selection,
        "best": progress.best,
        "validation": progress.history,
        "iterations_done": end,
        "attention_collapse": progress.collapsed,
        "train_videos": len(run.train_set.videos),
        "validation_videos": len(validation_set.videos) if validation_set is not None else 0,
        "seed": run.training.seed,
        "device": str(run.device),
        # A CPU run is bit-reproducible for its seed and this count only.
        "threads": torch.get_num_threads(),
        "word_vectors": run.text.source,
        # Words the vectors lack, given zero vectors (model.unknown_words: zeros).
        "substituted_words": list(run.text.substituted),
        "versions": {"torch": torch.__version__, "numpy": np.__version__},
        "data_digest": run.data_digest,
        "config": run.config,
        "config_files": list(config_files),
    }
    write_json(out / "training.json", summary)
    return TrainingResult(out, selected, selection, end, progress.history, progress.collapsed)
