"""The word vectors of a run: class-name slots, VLC sentences and vocabulary, and the words
the vectors lack (model.unknown_words, model.class_words)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.wtal.training.toy import toy_config, toy_dataset
from wtal.config.load import load_config
from wtal.data.wtalc import read_wtalc
from wtal.text.glove import OutOfVocabularyError
from wtal.training.loop import train
from wtal.training.setup import text_assets

ROOT = Path(__file__).resolve().parents[3]
ACTIVITYNET = ROOT.parent / "shared" / "data" / "activitynet13"
#: The words of the ActivityNet1.3 class names (split on spaces) that glove.6B.50d lacks.
ANET_MISSING = [
    "blow-drying", "flauta", "forniture", "jack-o-lanterns", "mooping", "plataform",
    "powerbocking", "slacklining",
]  # fmt: skip

#: The toy set's words (its classes, the official template) but "billiards" and "video".
WORDS = ("one", "of", "the", ".", "high", "jump", "long", "clean", "and", "jerk")


@pytest.fixture
def glove(tmp_path) -> str:
    path = tmp_path / "glove.toy.3d.txt"
    path.write_text("".join(f"{w} {i + 1} {i + 2} {i + 3}\n" for i, w in enumerate(WORDS)))
    return str(path)


def config_for(glove: str, **model) -> dict:
    return toy_config(model={"word_vectors": glove, "vlc": {"vocabulary": "sentences"}, **model})


def test_unknown_words_are_refused_naming_class_and_sentence_words(glove):
    with pytest.raises(OutOfVocabularyError, match="billiards, video") as error:
        text_assets(toy_dataset(), config_for(glove))
    assert error.value.words == ["billiards", "video"]
    assert "model.unknown_words" in str(error.value)


def test_unknown_words_become_zero_vectors_named_in_one_warning(glove):
    with pytest.warns(UserWarning) as caught:
        text = text_assets(toy_dataset(), config_for(glove, unknown_words="zeros"))
    messages = [str(w.message) for w in caught if "billiards" in str(w.message)]
    assert len(messages) == 1 and "billiards, video" in messages[0]
    assert text.substituted == ("billiards", "video")
    billiards = list(toy_dataset().classes).index("Billiards")
    assert torch.count_nonzero(text.name_vectors[billiards]) == 0  # both slots
    words = text.vocabulary.words
    assert torch.count_nonzero(text.vocabulary_vectors[words.index("video")]) == 0
    assert torch.count_nonzero(text.vocabulary_vectors[words.index("jump")]) == 3


def test_known_words_substitute_nothing_and_warn_nothing(glove, tmp_path):
    complete = tmp_path / "glove.full.3d.txt"
    complete.write_text(Path(glove).read_text() + "billiards 1 1 1\nvideo 2 2 2\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        text = text_assets(toy_dataset(), config_for(str(complete), unknown_words="zeros"))
    assert text.substituted == ()


def test_class_words_split_and_fill_reach_the_name_vectors(glove):
    zeros = {"split": "camel_case", "fill": "zeros"}
    with pytest.warns(UserWarning, match="billiards"):
        text = text_assets(
            toy_dataset(), config_for(glove, name_slots=3, unknown_words="zeros", class_words=zeros)
        )
        repeat = text_assets(toy_dataset(), config_for(glove, name_slots=3, unknown_words="zeros"))
    high = list(toy_dataset().classes).index("HighJump")
    assert text.name_vectors[high, 0].tolist() == [5, 6, 7]  # "high", the 5th word
    assert text.name_vectors[high, 1].tolist() == [6, 7, 8]  # "jump"
    assert torch.count_nonzero(text.name_vectors[high, 2]) == 0  # the empty slot
    assert repeat.name_vectors[high, 2].tolist() == [5, 6, 7]  # "high" again


def test_training_json_records_the_substituted_words(glove, tmp_path):
    config = config_for(glove, unknown_words="zeros")
    config["training"].update(iterations=1, selection="last")
    with pytest.warns(UserWarning, match="billiards, video"):
        train(config, toy_dataset(), tmp_path, validation=None, progress=False)
    summary = json.loads((tmp_path / "training.json").read_text())
    assert summary["substituted_words"] == ["billiards", "video"]


@pytest.fixture(scope="module")
def anet():
    if not (ACTIVITYNET / "classlist.npy").is_file():
        pytest.skip(f"real ActivityNet1.3 annotations not found at {ACTIVITYNET}")
    return read_wtalc(ACTIVITYNET, name="activitynet13")


def anet_config(**model) -> dict:
    config = load_config(ROOT / "config" / "activitynet13.yaml")
    config["model"].update(model)
    return config


def test_activitynet_class_words_missing_from_the_default_vectors_are_warned_about(anet):
    with pytest.warns(UserWarning) as caught:
        text = text_assets(anet, anet_config())
    named = [str(w.message) for w in caught if "flauta" in str(w.message)]
    assert len(named) == 1
    assert named[0].endswith(": " + ", ".join(ANET_MISSING))
    assert list(text.substituted) == ANET_MISSING
    rps = list(anet.classes).index("Rock-paper-scissors")
    assert torch.count_nonzero(text.name_vectors[rps, 0]) == 50  # glove.6B has it whole
    assert torch.count_nonzero(text.name_vectors[rps, 1:]) == 0  # fill: zeros
    assert "rock-paper-scissors" in text.vocabulary.words  # the sentence phrase
    with pytest.raises(OutOfVocabularyError) as error:
        text_assets(anet, anet_config(unknown_words="error"))
    assert error.value.words == ANET_MISSING
    assert np.all(np.isfinite(text.vocabulary_vectors.numpy()))
