"""Turning a dataset and a config into tensors and models (the models never see datasets)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from wtal.data.dataset import Dataset
from wtal.errors import UsageError
from wtal.models.registry import build_model
from wtal.models.settings import AttentionSettings, TextInputs, section
from wtal.models.video_branch import AttentionModule
from wtal.models.vlc import VLC
from wtal.text.glove import WordVectors, complete, frequent_words, load_word_vectors
from wtal.text.sentences import Sentence, Vocabulary, build_sentence, name_slots, tokenize


@dataclass
class TextAssets:
    """Word vectors of the class names, the handcrafted prompt and the VLC vocabulary."""

    name_vectors: torch.Tensor  # (C, slots, word_dim)
    prompt_vectors: torch.Tensor | None  # (N_p, word_dim) for the handcrafted prompt
    vocabulary: Vocabulary
    vocabulary_vectors: torch.Tensor  # (V, word_dim), row 0 = PAD (zeros)
    source: str
    substituted: tuple[str, ...] = ()  # words the vectors lack, given zero vectors


def word_split(config: dict[str, Any]) -> str:
    """How class names become words (``model.class_words.split``), for the name slots and
    the VLC sentences alike."""
    return config["model"]["class_words"]["split"]


def class_sentences(
    dataset: Dataset, template: str, split: str = "camel_case"
) -> dict[tuple[str, ...], Sentence]:
    """The VLC sentence of every label combination in the dataset."""
    return {
        labels: build_sentence(labels, template, split)
        for labels in sorted({tuple(v.labels) for v in dataset.videos if v.labels})
    }


def sentence_table(
    dataset: Dataset, template: str, vocabulary: Vocabulary, split: str = "camel_case"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each video's VLC sentence as (word ids (videos, M), class-phrase words (videos, M),
    lengths (videos,)), padded to the longest sentence."""
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


def _slot_vectors(vectors: WordVectors, slots: list[str | None]) -> np.ndarray:
    """(slots, dim): each slot's word vector, zeros for an empty slot."""
    rows = [vectors.lookup([w])[0] if w is not None else np.zeros(vectors.dim) for w in slots]
    return np.stack(rows).astype(np.float32)


def text_assets(dataset: Dataset, config: dict[str, Any]) -> TextAssets:
    model = config["model"]
    words = model["class_words"]
    names = [
        name_slots(c, model["name_slots"], words["split"], words["fill"]) for c in dataset.classes
    ]
    sentences = class_sentences(dataset, model["vlc"]["template"], words["split"])
    vlc = model["vlc"]
    frequent = (
        frequent_words(model["word_vectors"], vlc["frequent_words"])
        if vlc["enabled"] and vlc["vocabulary"] == "frequent"
        else []
    )
    vocabulary = Vocabulary.from_sentences(sentences.values(), frequent)
    prompt = tokenize(model["handcrafted_prompt"]) if model["prompt"] == "handcrafted" else []
    wanted = {w for n in names for w in n if w is not None}
    wanted |= set(vocabulary.words[1:]) | set(prompt)
    vectors, substituted = complete(
        load_word_vectors(model["word_vectors"], wanted), wanted, model["unknown_words"]
    )
    name_vectors = torch.from_numpy(np.stack([_slot_vectors(vectors, n) for n in names]))
    vocab_vectors = np.concatenate(
        [np.zeros((1, vectors.dim), np.float32), vectors.lookup(vocabulary.words[1:])]
    )
    return TextAssets(
        name_vectors=name_vectors,
        prompt_vectors=torch.from_numpy(vectors.lookup(prompt)) if prompt else None,
        vocabulary=vocabulary,
        vocabulary_vectors=torch.from_numpy(vocab_vectors),
        source=vectors.source,
        substituted=substituted,
    )


def build_models(
    num_classes: int, feature_dim: int, text: TextAssets, config: dict[str, Any]
) -> tuple[nn.Module, VLC | None]:
    """The base model the config names (built by the registry) and, when enabled, VLC."""
    model = config["model"]
    base = build_model(
        model, num_classes, feature_dim, TextInputs(text.name_vectors, text.prompt_vectors)
    )
    vlc = None
    if model["vlc"]["enabled"]:
        shared = model["vlc"]["consistency"] == "share"
        attention = getattr(base, "attention", None)
        if shared and not isinstance(attention, AttentionModule):
            raise UsageError(
                f"model.vlc.consistency: share needs a base model with TSM's attention module "
                f"(base tsm), not {model.get('base', 'tsm')!r}"
            )
        vlc = VLC(
            text.vocabulary_vectors,
            feature_dim=feature_dim,
            reconstructor=model["vlc"]["reconstructor"],
            video_causal=bool(model["vlc"]["video_causal"]),
            attention=attention if shared else None,
            word_positions=bool(model["vlc"]["word_positions"]),
            attention_settings=section(model, "attention", AttentionSettings),
        )
    return base, vlc
