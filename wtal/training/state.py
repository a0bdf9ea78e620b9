"""The state of one training run: everything it works with, built from the config and the
data in a fixed order (the seeded generators are drawn from in it), and what it saves."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from wtal.config.sections import FeatureSettings, TrainingSettings, read_section
from wtal.data.dataset import Dataset
from wtal.data.normalize import FeatureNorm
from wtal.errors import TrainingError
from wtal.models.checkpoint import model_payload
from wtal.models.vlc import VLC, SentenceBatch
from wtal.training.batches import Pools, draw_pools, gather_batch, sample_batch
from wtal.training.setup import TextAssets, build_models, sentence_table, text_assets, word_split
from wtal.training.step import Optimizers, make_optimizers
from wtal.utils.devices import resolve_device


def rng_state(rng: np.random.Generator, device: torch.device) -> dict[str, Any]:
    """Every generator the run draws from: numpy (batches, masks), torch's CPU generator
    (initialisation; dropout on the CPU) and, on CUDA, the device's (dropout there)."""
    return {
        "numpy": rng.bit_generator.state,
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
    }


def restore_rng(state: dict[str, Any], rng: np.random.Generator, device: torch.device) -> None:
    """The generators of :func:`rng_state`; a CUDA state is restored on CUDA only (a run
    saved on one device and resumed on another continues with the new device's draws)."""
    rng.bit_generator.state = state["numpy"]
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and state.get("cuda") is not None:
        torch.cuda.set_rng_state(state["cuda"], device)


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

    config: dict[str, Any]  # resolved, as recorded in the checkpoints and training.json
    training: TrainingSettings  # its training section
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
    data_digest: str  # see wtal.training.resume.data_digest: it resumes only on the same data
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
            "rng": rng_state(self.rng, self.device),
            "best": best,
            "validation": history,
            "data_digest": self.data_digest,
        }

    def batch(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor, SentenceBatch]:
        """Iteration ``iteration``'s features, labels and sentences, on the device (draws
        from the run's generator in a fixed order, so resumed runs draw the same)."""
        training = self.training
        batch = sample_batch(
            self.labels,
            self.rng,
            training.similar_classes,
            training.random_videos,
            pairable=self.pools.pairable,
            drawable=self.pools.drawable,
        )
        x = gather_batch(self.features, batch, training.max_seqlen, self.rng, training.sampling)
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
            sentences,
        )


def prepare_run(config: dict[str, Any], train_set: Dataset, digest: str = "") -> Run:
    """Seed, normalise the features, build the text assets, models and optimisers (in this
    order: the seeded generators are drawn from in it). ``config``: resolved (as loaded);
    ``train_set``: its usable videos (:func:`usable_videos`); ``digest``: the run's data
    digest (:func:`wtal.training.resume.data_digest`)."""
    training = read_section(config, TrainingSettings)
    feature_settings = read_section(config, FeatureSettings)
    device = resolve_device(training.device, "training.device")
    torch.manual_seed(training.seed)
    rng = np.random.default_rng(training.seed)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    raw = [v.features for v in train_set.videos]
    norm = FeatureNorm.fit(raw, feature_settings.normalize, feature_settings.channel_pool)
    features = [norm(f) for f in raw]
    pools = training_pools(training, config["dataset"]["min_segments"], raw)
    text = text_assets(train_set, config)
    model, vlc = build_models(len(train_set.classes), features[0].shape[1], text, config)
    model.to(device)
    if vlc is not None:
        vlc.to(device)
    return Run(
        config,
        training,
        train_set,
        norm,
        features,
        train_set.label_matrix(),
        text,
        model,
        vlc,
        make_optimizers(model, vlc, training),
        sentence_table(
            train_set, config["model"]["vlc"]["template"], text.vocabulary, word_split(config)
        ),
        device,
        rng,
        digest,
        pools,
    )


def training_pools(training: TrainingSettings, minimum: int, raw: Sequence[np.ndarray]) -> Pools:
    """The pools of the usable training videos (raw features): all-zero videos out of the
    similar pairs (``training.pairs_skip_empty``), videos under ``minimum``
    (``dataset.min_segments``) segments out of the random videos (a warning says how many);
    none left is an error."""
    pools = draw_pools(raw, minimum, training.pairs_skip_empty)
    if pools.short:
        warnings.warn(
            f"{pools.short} of {len(raw)} training videos have fewer than {minimum} segments "
            "(dataset.min_segments): left out of the random videos of each batch (they stay "
            "in the similar-pair pools, as in the authors' ActivityNet1.3 code)",
            stacklevel=3,
        )
    if training.random_videos and pools.drawable.size == 0:
        raise TrainingError(
            f"none of the {len(raw)} training videos has {minimum} segments or more "
            "(dataset.min_segments), so no random video can be drawn"
        )
    return pools
