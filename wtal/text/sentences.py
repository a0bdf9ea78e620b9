"""Class names as words, the VLC sentences, and their vocabulary.

``BaseballPitch`` -> ``["baseball", "pitch"]``; ``"Playing congas"`` -> ``["playing",
"congas"]``. TSM uses a fixed number of name slots per class (2 on THUMOS14): names are cut
to that many words after dropping the connective ``and`` (``CleanAndJerk`` -> ``clean
jerk``), and short names repeat their words (``Billiards`` fills both slots). A VLC sentence
is a template with ``[CLS]`` replaced by the class phrase; several labels are joined with
" and " (with its spaces, unlike the authors' code). Names whose words cannot be split from
their spelling are listed in ``PHRASES`` with the words the authors use (``Shotput`` is
"shot put" in their class-name vectors and sentences).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

PAD = "<pad>"
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+|[^\sA-Za-z\d]")
_CONNECTIVES = {"and"}
#: Class names spelt as one word that the authors' code spells as several.
PHRASES: dict[str, tuple[str, ...]] = {"Shotput": ("shot", "put")}


def class_words(name: str) -> list[str]:
    """Lower-case words of a class name (CamelCase, spaces, hyphens and underscores split;
    ``PHRASES`` first)."""
    if name in PHRASES:
        return list(PHRASES[name])
    return [w.lower() for w in _WORD.findall(name) if w.isalnum()]


def name_slots(name: str, slots: int) -> list[str]:
    """Exactly ``slots`` words for a class name (see the module docstring)."""
    words = [w for w in class_words(name) if w not in _CONNECTIVES] or class_words(name)
    if not words:
        raise ValueError(f"class name {name!r} has no words")
    words = words[:slots]
    return [words[i % len(words)] for i in range(slots)]


def tokenize(text: str) -> list[str]:
    """Lower-case words and punctuation marks, as GloVe spells them."""
    return [t.lower() for t in re.findall(r"[A-Za-z]+|\d+|[^\sA-Za-z\d]", text)]


@dataclass(frozen=True)
class Sentence:
    words: tuple[str, ...]
    key: tuple[bool, ...]  # True for the words of the class phrase


def build_sentence(labels: Sequence[str], template: str) -> Sentence:
    """``template`` contains ``[CLS]``; ``labels`` are class names (video-level labels)."""
    if "[CLS]" not in template:
        raise ValueError(f"VLC template {template!r} has no [CLS]")
    before, after = template.split("[CLS]", 1)
    words: list[str] = tokenize(before)
    key = [False] * len(words)
    for i, label in enumerate(labels):
        if i:
            words.append("and")
            key.append(False)
        phrase = class_words(label)
        words += phrase
        key += [True] * len(phrase)
    tail = tokenize(after)
    return Sentence(tuple(words + tail), tuple(key + [False] * len(tail)))


@dataclass(frozen=True)
class Vocabulary:
    words: tuple[str, ...]  # index 0 is PAD

    @classmethod
    def from_sentences(
        cls, sentences: Iterable[Sentence], frequent: Sequence[str] = ()
    ) -> Vocabulary:
        """PAD, then the ``frequent`` words in their order (the authors' output vocabulary),
        then every sentence word not among them, sorted."""
        known = dict.fromkeys(frequent)
        known.pop(PAD, None)
        extra = {w for s in sentences for w in s.words if w not in known}
        return cls((PAD, *known, *sorted(extra)))

    def ids(self, words: Iterable[str]) -> list[int]:
        index = {w: i for i, w in enumerate(self.words)}
        return [index[w] for w in words]

    def __len__(self) -> int:
        return len(self.words)
