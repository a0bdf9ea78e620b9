"""The training loop: seeded batches, the four-step update, checkpoints that resume bit for
bit on CPU, selection on a held-out split of the training videos (never the test set),
a JSONL metrics log, a loss-curve PNG, and a clear stop on a non-finite loss."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from wtal.config import differences
from wtal.data.dataset import Dataset
from wtal.data.normalize import FeatureNorm
from wtal.data.splits import split_validation
from wtal.errors import InputFileError, Interrupted, WtalError
from wtal.inference.run import run_split
from wtal.models.checkpoint import (
    TRAINING_STATE_KEYS,
    load_model,
    model_payload,
    read_checkpoint,
    save_checkpoint,
)
from wtal.models.vlc import VLC, SentenceBatch
from wtal.training.batches import Pools, draw_pools, gather_batch, sample_batch
from wtal.training.presets import resolve_preset
from wtal.training.schedule import vlc_learning_rate
from wtal.training.setup import (
    TextAssets,
    build_models,
    class_sentences,
    text_assets,
    word_split,
)
from wtal.training.step import Optimizers, make_optimizers, train_step
from wtal.utils.devices import resolve_device
from wtal.utils.files import atomic_open, exclusive_lock, link_or_copy, write_json, write_text


class TrainingError(WtalError):
    pass


@dataclass
class TrainingResult:
    output: Path
    selected: Path
    selection: str
    iterations: int
    validation: list[dict[str, Any]] = field(default_factory=list)
    collapsed: bool = False


def pick_device(name: str, source: str = "training.device") -> torch.device:
    """The device ``name`` means; one this machine cannot use is refused naming ``source``."""
    return resolve_device(name, source)


def _sentence_table(
    dataset: Dataset, template: str, vocabulary, split: str = "camel_case"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sentences = class_sentences(dataset, template, split)
    longest = max(len(s.words) for s in sentences.values())
    ids = np.zeros((len(dataset), longest), np.int64)
    key = np.zeros((len(dataset), longest), bool)
    lengths = np.zeros(len(dataset), np.int64)
    for row, video in enumerate(dataset.videos):
        sentence = sentences[tuple(video.labels)]
        n = len(sentence.words)
        ids[row, :n] = vocabulary.ids(sentence.words)
        key[row, :n] = sentence.key
        lengths[row] = n
    return ids, key, lengths


def evaluate_split(tsm, dataset: Dataset, norm, config, device) -> dict[str, Any]:
    """Detection mAP of the model on ``dataset`` (all its videos), standard protocol."""
    result = run_split(tsm, dataset, norm, config, device)
    return {"metrics": result.metrics, "predictions": result.predictions}


def _rng_state(rng: np.random.Generator, device: torch.device) -> dict[str, Any]:
    """Every generator the run draws from: numpy (batches, masks), torch's CPU generator
    (initialisation; dropout on the CPU) and, on CUDA, the device's (dropout there)."""
    return {
        "numpy": rng.bit_generator.state,
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
    }


def _restore_rng(state: dict[str, Any], rng: np.random.Generator, device: torch.device) -> None:
    """The generators of :func:`_rng_state`; a CUDA state is restored on CUDA only (a run
    saved on one device and resumed on another continues with the new device's draws)."""
    rng.bit_generator.state = state["numpy"]
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and state.get("cuda") is not None:
        torch.cuda.set_rng_state(state["cuda"], device)


def plot_losses(log: Path, output: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    steps = [r for r in rows if "losses" in r]
    if not steps:
        return
    names = sorted({k for r in steps for k in r["losses"] if k not in ("attention_mean",)})
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    for name in names:
        xs = [r["iteration"] for r in steps if name in r["losses"]]
        top.plot(xs, [r["losses"][name] for r in steps if name in r["losses"]], label=name, lw=1)
    top.set_yscale("symlog", linthresh=1e-2)
    top.set_ylabel("loss")
    top.legend(fontsize=7, ncol=3)
    bottom.plot(
        [r["iteration"] for r in steps],
        [r["losses"]["attention_mean"] for r in steps],
        label="mean attention (att_m)",
        color="black",
        lw=1,
    )
    evals = [r for r in rows if "validation" in r]
    if evals:
        axis = bottom.twinx()
        axis.plot(
            [r["iteration"] for r in evals],
            [r["validation"]["average_mAP"] for r in evals],
            "o-",
            color="tab:red",
            label="validation avg mAP",
        )
        axis.set_ylabel("validation avg mAP", color="tab:red")
    bottom.set_xlabel("iteration")
    bottom.set_ylabel("mean attention")
    fig.tight_layout()
    with atomic_open(output, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)


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


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [
        f"{key}: {before!r} -> {after!r}"
        for key, before, after in differences(old, new)
        if key not in RESUMABLE_CHANGES and key.split(".")[0] not in RESUMABLE_SECTIONS
    ]


def _discard_run(checkpoints: Path) -> None:
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


def _why_not_resumed(state: dict[str, Any], config: dict[str, Any], data: str) -> str | None:
    """Why the run in a training state cannot go on under ``config`` on ``data`` (None: it
    can). A state without a data digest (older runs) is judged on its settings alone."""
    reasons = []
    changed = _differences(state["config"], config)
    if changed:
        reasons.append(f"settings changed ({'; '.join(changed[:5])})")
    if state.get("data_digest", data) != data:
        reasons.append(
            "the training data changed (the features, labels or instances of the training "
            "or validation videos)"
        )
    return " and ".join(reasons) or None


def _resume_state(
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
            _discard_run(last.parent)
            return None
        raise TrainingError(
            f"{last}: cannot resume from it, {exc.problem}; to train afresh, delete it or "
            "rerun with --restart-on-change (which deletes this run's checkpoints and "
            "metrics log)"
        ) from None
    why = _why_not_resumed(state, config, data)
    if why is None:
        return state
    if on_change == "restart":
        warnings.warn(f"{last.parent}: {why}: starting afresh", stacklevel=3)
        _discard_run(last.parent)
        return None
    raise TrainingError(
        f"{last}: holds a run that cannot go on: {why}; use another output folder, or "
        "--restart-on-change to discard it"
    )


def _trim_log(log_path: Path, iteration: int) -> None:
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


def _collapse_message(training: dict[str, Any], attention: float, iteration: int) -> str:
    return (
        f"attention collapse: mean att_m < {training['collapse_threshold']} for 20 "
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


#: ``train(validation=SPLIT)``: hold out a stratified part of the training videos, as
#: ``wtal train`` does (with ``training.selection: validation``; none otherwise).
SPLIT = "split"


def validation_part(
    config: dict[str, Any], train_set: Dataset, validation: Dataset | str | None
) -> tuple[Dataset, Dataset | None]:
    """(videos to train on, videos to select on) for ``train``'s ``validation`` argument."""
    training = config["training"]
    if isinstance(validation, str):
        if validation != SPLIT:
            raise ValueError(f"validation must be a Dataset, None or {SPLIT!r}, not {validation!r}")
        if training["selection"] != "validation":
            return train_set, None
        return split_validation(train_set, training["validation_fraction"], training["seed"])
    return train_set, validation


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
    ``output/checkpoints/last.pt`` if there.

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
    config = resolve_preset(config)
    train_set, validation_set = validation_part(config, train_set, validation)
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        return _train(
            config,
            train_set,
            validation_set,
            Path(output),
            progress,
            stop_after,
            on_config_change,
            tuple(config_files),
        )
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


def usable_videos(train_set: Dataset) -> Dataset:
    """The training videos with both features and labels (a warning names how many are left
    out); none is a TrainingError."""
    usable = [
        v for v in train_set.videos if v.features is not None and len(v.features) and v.labels
    ]
    if not usable:
        raise TrainingError(
            f"dataset {train_set.name!r}: none of its {len(train_set.videos)} training videos "
            "has both features and labels (is dataset.features set in the config?)"
        )
    if len(usable) < len(train_set.videos):
        warnings.warn(
            f"{len(train_set.videos) - len(usable)} training videos without features or labels "
            "are left out",
            stacklevel=3,
        )
    return replace(train_set, videos=tuple(usable))


@dataclass
class Run:
    """Everything one training run works with, built from the config and the data."""

    config: dict[str, Any]
    train_set: Dataset
    norm: FeatureNorm
    features: list[np.ndarray]  # normalised, one per training video
    labels: np.ndarray  # (videos, C) multi-hot
    text: TextAssets
    model: torch.nn.Module
    vlc: VLC | None
    optimizers: Optimizers
    sentences: tuple[np.ndarray, np.ndarray, np.ndarray]  # ids, key words, lengths
    device: torch.device
    rng: np.random.Generator
    data_digest: str  # see data_digest(): the run resumes only on the same data
    pools: Pools  # the videos the similar pairs and the random videos are drawn from

    def payload(self, iteration: int) -> dict[str, Any]:
        """The model file of this run at ``iteration`` (what inference loads)."""
        return model_payload(
            self.model,
            iteration=iteration,
            config=self.config,
            classes=list(self.train_set.classes),
            feature_dim=int(self.train_set.videos[0].features.shape[1]),
            norm=self.norm,
            vocabulary=list(self.text.vocabulary.words),
            word_vectors=self.text.source,
        )

    def training_state(
        self, iteration: int, best: dict[str, Any] | None, history: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """A model file plus all a bit-identical resumption needs."""
        return {
            **self.payload(iteration),
            "vlc": self.vlc.state_dict() if self.vlc is not None else None,
            "optimizers": self.optimizers.state_dict(),
            "rng": _rng_state(self.rng, self.device),
            "best": best,
            "validation": history,
            "data_digest": self.data_digest,
        }

    def batch(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor, SentenceBatch]:
        """Iteration ``iteration``'s features, labels and sentences, on the device (draws
        from the run's generator in a fixed order, so resumed runs draw the same)."""
        training = self.config["training"]
        batch = sample_batch(
            self.labels,
            self.rng,
            training["similar_classes"],
            training["random_videos"],
            pairable=self.pools.pairable,
            drawable=self.pools.drawable,
        )
        x = gather_batch(
            self.features, batch, training["max_seqlen"], self.rng, training["sampling"]
        )
        ids, key, lengths = self.sentences
        device = self.device
        sentences = SentenceBatch(
            torch.from_numpy(ids[batch]).to(device),
            torch.from_numpy(lengths[batch]).to(device),
            torch.from_numpy(key[batch]).to(device),
        )
        return (
            torch.from_numpy(x).to(device),
            torch.from_numpy(self.labels[batch]).to(device),
            (sentences),
        )


def prepare_run(config: dict[str, Any], train_set: Dataset, digest: str = "") -> Run:
    """Seed, normalise the features, build the text assets, models and optimisers (in this
    order: the seeded generators are drawn from in it). ``train_set``: its usable videos
    (:func:`usable_videos`); ``digest``: the run's :func:`data_digest`."""
    training = config["training"]
    device = pick_device(training["device"])
    torch.manual_seed(training["seed"])
    rng = np.random.default_rng(training["seed"])
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    raw = [v.features for v in train_set.videos]
    norm = FeatureNorm.fit(raw, config["features"]["normalize"], config["features"]["channel_pool"])
    features = [norm(f) for f in raw]
    pools = training_pools(config, raw)
    text = text_assets(train_set, config)
    model, vlc = build_models(len(train_set.classes), features[0].shape[1], text, config)
    model.to(device)
    if vlc is not None:
        vlc.to(device)
    return Run(
        config,
        train_set,
        norm,
        features,
        train_set.label_matrix(),
        text,
        model,
        vlc,
        make_optimizers(model, vlc, config),
        _sentence_table(
            train_set, config["model"]["vlc"]["template"], text.vocabulary, word_split(config)
        ),
        device,
        rng,
        digest,
        pools,
    )


def training_pools(config: dict[str, Any], raw: Sequence[np.ndarray]) -> Pools:
    """The pools of the usable training videos (raw features): all-zero videos out of the
    similar pairs (``training.pairs_skip_empty``), videos under ``dataset.min_segments``
    segments out of the random videos (a warning says how many); none left is an error."""
    training, minimum = config["training"], config["dataset"]["min_segments"]
    pools = draw_pools(raw, minimum, training["pairs_skip_empty"])
    if pools.short:
        warnings.warn(
            f"{pools.short} of {len(raw)} training videos have fewer than {minimum} segments "
            "(dataset.min_segments): left out of the random videos of each batch (they stay "
            "in the similar-pair pools, as in the authors' ActivityNet1.3 code)",
            stacklevel=3,
        )
    if training["random_videos"] and pools.drawable.size == 0:
        raise TrainingError(
            f"none of the {len(raw)} training videos has {minimum} segments or more "
            "(dataset.min_segments), so no random video can be drawn"
        )
    return pools


def restore_run(run: Run, resumed: dict[str, Any], last: Path) -> None:
    """Load a ``last.pt`` training state into ``run`` (weights, optimisers, generators)."""
    try:
        run.model.load_state_dict(resumed["model"])
        if run.vlc is not None:
            run.vlc.load_state_dict(resumed["vlc"])
        run.optimizers.load_state_dict(resumed["optimizers"])
        _restore_rng(resumed["rng"], run.rng, run.device)
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise TrainingError(
            f"{last}: its training state does not fit this data and config ({detail}); "
            "use another output folder, or delete it to train afresh"
        ) from None


def set_vlc_learning_rate(run: Run, iteration: int) -> float:
    """The VLC optimisers' learning rate at ``iteration`` (warm-up then inverse sqrt)."""
    training = run.config["training"]
    lr = vlc_learning_rate(iteration, training["vlc_lr"], training["vlc_warmup"])
    for optimizer in (run.optimizers.reconstructor, run.optimizers.attention):
        if optimizer is not None:
            for group in optimizer.param_groups:
                group["lr"] = lr
    return lr


def validate(run: Run, validation_set: Dataset, iteration: int) -> dict[str, Any]:
    """The validation record of the model at ``iteration`` (detection mAP, standard
    protocol, through the inference library so the numbers equal ``wtal infer``'s)."""
    result = evaluate_split(run.model, validation_set, run.norm, run.config, run.device)
    metrics = result["metrics"].to_dict()  # undefined mAP: None
    return {
        "iteration": iteration,
        "validation": {
            "average_mAP": metrics["average_mAP"],
            "mAP": metrics["mAP"],
            "classification_mAP": metrics.get("classification_mAP"),
        },
    }


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


def checkpoint(
    run: Run, progress: Progress, validation_set: Dataset | None, iteration: int, log, last: Path
) -> None:
    """At a checkpoint: validate (and keep the best), snapshot if asked, save ``last.pt``."""
    training = run.config["training"]
    folder = last.parent
    if training["selection"] == "validation" and validation_set is not None:
        record = validate(run, validation_set, iteration)
        progress.history.append(record)
        average = record["validation"]["average_mAP"]
        if average is not None and (
            progress.best is None or average > progress.best["average_mAP"]
        ):
            progress.best = {"iteration": iteration, "average_mAP": average}
            save_checkpoint(folder / "best.pt", run.payload(iteration))
        log.write(json.dumps(record) + "\n")
        log.flush()
    if training["keep_snapshots"]:
        save_checkpoint(folder / f"iter_{iteration:06d}.pt", run.payload(iteration))
    save_checkpoint(last, run.training_state(iteration, progress.best, progress.history))
    progress.saved = iteration


def iterate(
    run: Run,
    progress: Progress,
    validation_set: Dataset | None,
    end: int,
    log,
    last: Path,
    bar: tqdm,
) -> None:
    """Iterations ``progress.start + 1`` .. ``end``: batch, step, log, checkpoint."""
    training = run.config["training"]
    total = training["iterations"]
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
        low = values["attention_mean"] < training["collapse_threshold"]
        progress.low_attention = progress.low_attention + 1 if low else 0
        if progress.low_attention == 20 and not progress.collapsed:
            progress.collapsed = True
            warnings.warn(
                _collapse_message(training, values["attention_mean"], iteration), stacklevel=3
            )
            log.write(json.dumps({"iteration": iteration, "event": "attention_collapse"}) + "\n")
        if iteration % training["log_every"] == 0 or iteration == end:
            log.write(json.dumps({"iteration": iteration, "lr_vlc": lr, "losses": values}) + "\n")
            log.flush()
            bar.set_postfix(
                mil=f"{values.get('mil', 0.0):.3f}", att=f"{values['attention_mean']:.2f}"
            )
        bar.update(1)
        if iteration % training["checkpoint_every"] == 0 or iteration == total:
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
    training = run.config["training"]
    checkpoints = out / "checkpoints"
    plot_losses(out / "metrics.jsonl", out / "losses.png")
    selected = checkpoints / "selected.pt"
    if training["selection"] == "validation" and progress.best is not None:
        best = checkpoints / "best.pt"
        if not best.is_file():
            raise TrainingError(
                f"{best}: missing, but the run chose it (iteration {progress.best['iteration']}); "
                f"delete {checkpoints / 'last.pt'} to train again"
            )
        link_or_copy(best, selected)  # best.pt is not a workflow output: a rerun finds it
    else:
        save_checkpoint(selected, run.payload(end))
    selection = (
        training["selection"]
        if progress.best is not None or training["selection"] == "last"
        else "last"
    )
    summary = {
        "selected_checkpoint": selected.name,
        "selection": selection,
        "best": progress.best,
        "validation": progress.history,
        "iterations_done": end,
        "attention_collapse": progress.collapsed,
        "train_videos": len(run.train_set.videos),
        "validation_videos": len(validation_set.videos) if validation_set is not None else 0,
        "seed": training["seed"],
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


def _train(
    config: dict[str, Any],
    train_set: Dataset,
    validation_set: Dataset | None,
    out: Path,
    progress_bar: bool,
    stop_after: int | None,
    on_config_change: str,
    config_files: tuple[str, ...] = (),
) -> TrainingResult:
    out.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(out / ".lock", out):
        return _train_locked(
            config, train_set, validation_set, out, progress_bar, stop_after, on_config_change,
            config_files,
        )  # fmt: skip


def _train_locked(
    config: dict[str, Any],
    train_set: Dataset,
    validation_set: Dataset | None,
    out: Path,
    progress_bar: bool,
    stop_after: int | None,
    on_config_change: str,
    config_files: tuple[str, ...],
) -> TrainingResult:
    checkpoints = out / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    last = checkpoints / "last.pt"
    log_path = out / "metrics.jsonl"
    train_set = usable_videos(train_set)
    digest = data_digest(train_set, validation_set)
    resumed = _resume_state(last, config, digest, on_config_change)
    run = prepare_run(config, train_set, digest)
    untrained = checkpoints / "untrained.pt"
    if resumed is not None and not untrained.is_file():
        # Built from the seed as when the run started, so the same file; a workflow rerun
        # deletes it before resuming.
        save_checkpoint(untrained, run.payload(0))
    if resumed is not None:
        restore_run(run, resumed, last)
        progress = Progress(
            resumed["iteration"], resumed["best"], resumed["validation"], resumed["iteration"]
        )
        if log_path.exists():
            _trim_log(log_path, progress.start)
    else:
        progress = Progress(0, None, [], None)
        log_path.unlink(missing_ok=True)
        # The model before any update: the reference every trained number is compared with.
        save_checkpoint(untrained, run.payload(0))
    training = config["training"]
    total = training["iterations"]
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
        with open(log_path, "a", encoding="utf-8") as log:
            iterate(run, progress, validation_set, end, log, last, bar)
    except KeyboardInterrupt:
        raise _interrupted(
            progress.current, progress.saved, last, min(training["checkpoint_every"], total)
        ) from None
    finally:
        bar.close()
    try:
        return finish(run, progress, validation_set, out, end, config_files)
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted after iteration {end}, while writing the run's outputs; the last "
            f"checkpoint (iteration {progress.saved}, {last}) is kept; rerun the same command "
            "to finish"
        ) from None


def evaluate_checkpoint(path: Path, dataset: Dataset, config: dict[str, Any]) -> dict[str, Any]:
    """Metrics (dict) and predictions of a saved checkpoint on ``dataset``."""
    loaded = load_model(path, pick_device(config["training"]["device"]))
    result = evaluate_split(
        loaded.model, dataset, loaded.norm, config, pick_device(config["training"]["device"])
    )
    metrics = result["metrics"].to_dict()
    metrics["checkpoint"] = {"path": str(path), "iteration": loaded.iteration}
    return {"metrics": metrics, "predictions": result["predictions"]}


def report_on_test(
    result: TrainingResult, test_set: Dataset, config: dict[str, Any], every_checkpoint: bool
) -> dict[str, Any]:
    """Test metrics of the selected checkpoint; optionally of every checkpoint, where the best
    is reported separately and labelled as test-selected (the authors' protocol)."""
    selected = evaluate_checkpoint(result.selected, test_set, config)
    report: dict[str, Any] = {
        "selected": {
            **selected["metrics"],
            "selection": f"checkpoint chosen by {result.selection} (never by test data)",
        }
    }
    write_json(result.output / "test_predictions.json", selected["predictions"])
    if every_checkpoint:
        snapshots = sorted((result.output / "checkpoints").glob("iter_*.pt"))
        if not snapshots:
            raise TrainingError(
                f"{result.output / 'checkpoints'}: no iter_*.pt snapshots to test; train with "
                "training.keep_snapshots: true"
            )
        rows = []
        for path in snapshots:
            metrics = evaluate_checkpoint(path, test_set, config)["metrics"]
            rows.append(
                {
                    "iteration": metrics["checkpoint"]["iteration"],
                    "average_mAP": metrics["average_mAP"],
                    "mAP": metrics["mAP"],
                }
            )
        defined = [r for r in rows if r["average_mAP"] is not None]
        best = max(defined, key=lambda r: r["average_mAP"]) if defined else None
        report["test_selected"] = {
            "selection": "TEST-SELECTED: the best of every checkpoint on the test set itself "
            "(the authors' code did this; optimistic, not a clean result)",
            "best": best,
            "all": rows,
        }
    write_json(result.output / "test_metrics.json", report)
    return report
