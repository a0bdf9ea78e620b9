"""Turning a dataset and a config into tensors and models (the models never see datasets)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from wtal.data.dataset import Dataset
from wtal.models.tsm import TSM
from wtal.models.vlc import VLC
from wtal.text.glove import WordVectors, frequent_words, load_word_vectors
from wtal.text.sentences import Sentence, Vocabulary, build_sentence, name_slots, tokenize


@dataclass
class FeatureNorm:
    """What features go through before the model: optional channel pooling (``pool``
    consecutive channels averaged, never across the RGB/flow boundary when ``pool`` divides
    1024; a CPU reduction of the width), then per-channel standardisation fitted on the
    training videos (or none)."""

    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    pool: int = 1

    @classmethod
    def fit(cls, features: list[np.ndarray], mode: str, pool: int = 1) -> FeatureNorm:
        dims = {f.shape[1] for f in features}
        if any(d % pool for d in dims):
            raise ValueError(
                f"features.channel_pool {pool} does not divide the feature size {dims}"
            )
        if mode == "none":
            return cls(pool=pool)
        pooled = cls(pool=pool)
        stacked = np.concatenate([pooled(f) for f in features]).astype(np.float64)
        return cls(
            stacked.mean(axis=0).astype(np.float32),
            np.maximum(stacked.std(axis=0), 1e-6).astype(np.float32),
            pool,
        )

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if self.pool > 1:
            x = x.reshape(x.shape[0], x.shape[1] // self.pool, self.pool).mean(axis=2)
        if self.mean is None:
            return x
        return (x - self.mean) / self.std

    def state(self) -> dict[str, Any]:
        """Tensors and ints only, so that checkpoints load with ``weights_only=True``."""
        return {
            "mean": None if self.mean is None else torch.from_numpy(self.mean),
            "std": None if self.std is None else torch.from_numpy(self.std),
            "pool": self.pool,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> FeatureNorm:
        state = state or {}

        def array(value: Any) -> np.ndarray | None:
            if isinstance(value, torch.Tensor):
                value = value.detach().cpu().numpy()
            return None if value is None else np.asarray(value, dtype=np.float32)

        return cls(array(state.get("mean")), array(state.get("std")), int(state.get("pool", 1)))


@dataclass
class TextAssets:
    """Word vectors of the class names, the handcrafted prompt and the VLC vocabulary."""

    name_vectors: torch.Tensor  # (C, slots, word_dim)
    prompt_vectors: torch.Tensor | None  # (N_p, word_dim) for the handcrafted prompt
    vocabulary: Vocabulary
    vocabulary_vectors: torch.Tensor  # (V, word_dim), row 0 = PAD (zeros)
    source: str


def class_sentences(dataset: Dataset, template: str) -> dict[tuple[str, ...], Sentence]:
    """The VLC sentence of every label combination in the dataset."""
    return {
        labels: build_sentence(labels, template)
        for labels in sorted({tuple(v.labels) for v in dataset.videos if v.labels})
    }


def text_assets(dataset: Dataset, config: dict[str, Any]) -> TextAssets:
    model = config["model"]
    names = [name_slots(c, model["name_slots"]) for c in dataset.classes]
    sentences = class_sentences(dataset, model["vlc"]["template"])
    vlc = model["vlc"]
    frequent = (
        frequent_words(model["word_vectors"], vlc["frequent_words"])
        if vlc["enabled"] and vlc["vocabulary"] == "frequent"
        else []
    )
    vocabulary = Vocabulary.from_sentences(sentences.values(), frequent)
    prompt = tokenize(model["handcrafted_prompt"]) if model["prompt"] == "handcrafted" else []
    wanted = {w for n in names for w in n} | set(vocabulary.words[1:]) | set(prompt)
    vectors: WordVectors = load_word_vectors(model["word_vectors"], wanted)
    name_vectors = torch.from_numpy(np.stack([vectors.lookup(n) for n in names]))
    vocab_vectors = np.concatenate(
        [np.zeros((1, vectors.dim), np.float32), vectors.lookup(vocabulary.words[1:])]
    )
    return TextAssets(
        name_vectors=name_vectors,
        prompt_vectors=torch.from_numpy(vectors.lookup(prompt)) if prompt else None,
        vocabulary=vocabulary,
        vocabulary_vectors=torch.from_numpy(vocab_vectors),
        source=vectors.source,
    )


def build_models(
    num_classes: int, feature_dim: int, text: TextAssets, config: dict[str, Any]
) -> tuple[TSM, VLC | None]:
    model = config["model"]
    tsm = TSM(
        num_classes,
        text.name_vectors if model["mode"] == "text" else None,
        feature_dim=feature_dim,
        context_length=model["context_length"],
        handcrafted_context=text.prompt_vectors,
        mode=model["mode"],
        temperature=model["temperature"],
        pool_width=model["pool_width"],
    )
    vlc = None
    if model["vlc"]["enabled"]:
        vlc = VLC(
            text.vocabulary_vectors,
            feature_dim=feature_dim,
            reconstructor=model["vlc"]["reconstructor"],
            video_causal=bool(model["vlc"]["video_causal"]),
            attention=tsm.attention if model["vlc"]["consistency"] == "share" else None,
            word_positions=bool(model["vlc"]["word_positions"]),
        )
    return tsm, vlc
