"""Class names as words, VLC sentences, vocabulary."""

from __future__ import annotations

import pytest

from wtal.generate.synthetic_plan import THUMOS14_CLASSES
from wtal.text.sentences import PAD, Vocabulary, build_sentence, class_words, name_slots, tokenize

THUMOS = THUMOS14_CLASSES


def test_class_words():
    assert class_words("BaseballPitch") == ["baseball", "pitch"]
    assert class_words("Playing congas") == ["playing", "congas"]
    assert class_words("Rock-paper-scissors") == ["rock", "paper", "scissors"]
    assert class_words("Doing fencing (sport)") == ["doing", "fencing", "sport"]
    assert class_words("Shotput") == ["shot", "put"]  # as the authors spell it


def test_shotput_is_shot_put_in_the_name_vectors_and_the_sentence():
    assert name_slots("Shotput", 2) == ["shot", "put"]
    sentence = build_sentence(["Shotput"], "one video of the [CLS].")
    assert " ".join(sentence.words) == "one video of the shot put ."


def test_vocabulary_with_frequent_words_keeps_their_order_and_adds_the_rest():
    sentences = [build_sentence(["Billiards"], "one video of the [CLS].")]
    vocab = Vocabulary.from_sentences(sentences, ["the", ",", ".", "of", "video", "one"])
    assert vocab.words == (PAD, "the", ",", ".", "of", "video", "one", "billiards")


def test_name_slots_on_every_thumos_class():
    slots = {name: name_slots(name, 2) for name in THUMOS}
    assert slots["CleanAndJerk"] == ["clean", "jerk"]  # the connective goes first
    assert slots["Billiards"] == ["billiards", "billiards"]  # one word fills both slots
    assert slots["HighJump"] == ["high", "jump"]
    assert all(len(words) == 2 for words in slots.values())
    assert name_slots("Rock-paper-scissors", 5) == ["rock", "paper", "scissors", "rock", "paper"]


def test_sentences_follow_the_template_and_join_labels_with_spaced_and():
    one = build_sentence(["HighJump"], "a video of the [CLS]")
    assert one.words == ("a", "video", "of", "the", "high", "jump")
    assert one.key == (False, False, False, False, True, True)
    two = build_sentence(["HighJump", "LongJump"], "one video of the [CLS].")
    assert " ".join(two.words) == "one video of the high jump and long jump ."
    assert two.key[6] is False  # "and" is not a key word
    with pytest.raises(ValueError, match="no \\[CLS\\]"):
        build_sentence(["HighJump"], "a video")


def test_vocabulary_has_pad_first_and_is_sorted():
    vocab = Vocabulary.from_sentences(
        [build_sentence(["HighJump"], "a [CLS]"), build_sentence(["LongJump"], "a [CLS]")]
    )
    assert vocab.words == (PAD, "a", "high", "jump", "long")
    assert vocab.ids(["a", "long"]) == [1, 4]
    assert tokenize("One video of the [X].") == ["one", "video", "of", "the", "[", "x", "]", "."]


def test_whitespace_split_is_the_activitynet_code_rule():
    """ANET13 class_encoder: ``sentence.split()``, lower-cased; hyphenated words stay whole,
    "and" stays, no THUMOS14 phrase table."""
    assert class_words("Rock-paper-scissors", "whitespace") == ["rock-paper-scissors"]
    assert class_words("Clean and jerk", "whitespace") == ["clean", "and", "jerk"]
    assert class_words("Decorating the Christmas tree", "whitespace") == [
        "decorating", "the", "christmas", "tree",
    ]  # fmt: skip
    assert class_words("BMX", "whitespace") == ["bmx"]
    assert class_words("Shotput", "whitespace") == ["shotput"]
    assert class_words("Rock-paper-scissors") == class_words("Rock-paper-scissors", "camel_case")
    with pytest.raises(ValueError, match=r"class_words\.split"):
        class_words("Archery", "hyphens")


def test_name_slots_under_the_activitynet_rules():
    assert name_slots("Clean and jerk", 5, split="whitespace", fill="zeros") == [
        "clean", "and", "jerk", None, None,
    ]  # fmt: skip
    assert name_slots("Archery", 3, split="whitespace", fill="repeat") == ["archery"] * 3
    assert name_slots("Billiards", 2, fill="zeros") == ["billiards", None]
    long = "Tennis serve with ball bouncing extra"
    assert name_slots(long, 5, split="whitespace", fill="zeros") == long.lower().split()[:5]
    with pytest.raises(ValueError, match=r"class_words\.fill"):
        name_slots("Archery", 3, fill="mean")


def test_defaults_are_the_thumos14_rules():
    for name in THUMOS:
        assert name_slots(name, 2) == name_slots(name, 2, split="camel_case", fill="repeat")


def test_activitynet_sentence_is_the_authors_prompt_tokenised():
    """ANET13: 'one video of ' + label + '.', nltk word_tokenize (hyphenated words whole, the
    full stop a token), lower-cased."""
    template = "one video of [CLS]."
    rps = build_sentence(["Rock-paper-scissors"], template, split="whitespace")
    assert rps.words == ("one", "video", "of", "rock-paper-scissors", ".")
    assert rps.key == (False, False, False, True, False)
    jack = build_sentence(["Carving jack-o-lanterns"], template, split="whitespace")
    assert " ".join(jack.words) == "one video of carving jack-o-lanterns ."
    two = build_sentence(["Archery", "Clean and jerk"], template, split="whitespace")
    assert " ".join(two.words) == "one video of archery and clean and jerk ."
    assert two.key == (False, False, False, True, False, True, True, True, False)
