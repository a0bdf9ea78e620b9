"""Class names as words, the VLC sentences, and their vocabulary.

Two rules split a class name into words (``model.class_words.split``). ``camel_case`` (the
THUMOS14 code): ``BaseballPitch`` -> ``["baseball", "pitch"]``, ``"Playing congas"`` ->
``["playing", "congas"]``; names whose words cannot be split from their spelling are listed
in ``PHRASES`` with the words the authors use (``Shotput`` is "shot put" in their class-name
vectors and sentences). ``whitespace`` (the ActivityNet1.3 code): spaces only, lower-cased,
``Rock-paper-scissors`` one word.

TSM uses a fixed number of name slots per class (2 on THUMOS14, 5 on ActivityNet1.3): names
are cut to that many words, after dropping the connective ``and`` under ``camel_case``
(``CleanAndJerk`` -> ``clean jerk``); a shorter name repeats its words (``fill: repeat``,
``Billiards`` fills both slots) or leaves the other slots empty (``fill: zeros``, None here,
a zero vector in the model). A VLC sentence is a template with ``[CLS]`` replaced by the
class phrase, the class's words under the same split rule (the ActivityNet1.3 code tokenises
the raw class name, which keeps hyphenated words whole); several labels are joined with
" and " (with its spaces, unlike the authors' code).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from wtal.errors import UsageError

PAD = "<pad>"
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+|[^\sA-Za-z\d]")
_CONNECTIVES = {"and"}
#: Class names spelt as one word that the authors' code spells as several.
PHRASES: dict[str, tuple[str, ...]] = {"Shotput": ("shot", "put")}


SPLITS = ("camel_case", "whitespace")
FILLS = ("repeat", "zeros")


def class_words(name: str, split: str = "camel_case") -> list[str]:
    """Lower-case words of a class name: ``camel_case`` (CamelCase, spaces, hyphens and
    underscores split; ``PHRASES`` first) or ``whitespace`` (spaces only)."""
    if split == "whitespace":
        return [w.lower() for w in name.split()]
    if split != "camel_case":
        raise UsageError(f"model.class_words.split {split!r}: expected one of {SPLITS}")
    if name in PHRASES:
        return list(PHRASES[name])
    return [w.lower() for w in _WORD.findall(name) if w.isalnum()]


def name_slots(
    name: str, slots: int, split: str = "camel_case", fill: str = "repeat"
) -> list[str | None]:
    """Exactly ``slots`` words for a class name, None for an empty slot (see the module
    docstring)."""
    if fill not in FILLS:
        raise UsageError(f"model.class_words.fill {fill!r}: expected one of {FILLS}")
    words = class_words(name, split)
    if split == "camel_case":
        words = [w for w in words if w not in _CONNECTIVES] or words
    if not words:
        raise UsageError(f"class name {name!r} has no words")
    words = words[:slots]
    if fill == "zeros":
        return [*words, *[None] * (slots - len(words))]
    return [words[i % len(words)] for i in range(slots)]


def tokenize(text: str) -> list[str]:
    """Lower-case words and punctuation marks, as GloVe spells them."""
    return [t.lower() for t in re.findall(r"[A-Za-z]+|\d+|[^\sA-Za-z\d]", text)]


@dataclass(frozen=True)
class Sentence:
    words: tuple[str, ...]
    key: tuple[bool, ...]  # True for the words of the class phrase


def build_sentence(labels: Sequence[str], template: str, split: str = "camel_case") -> Sentence:
    """``template`` contains ``[CLS]``; ``labels`` are class names (video-level labels), each
    phrase their :func:`class_words` under ``split``."""
    if "[CLS]" not in template:
        raise UsageError(f"VLC template {template!r} has no [CLS]")
    before, after = template.split("[CLS]", 1)
    words: list[str] = tokenize(before)
    key = [False] * len(words)
    for i, label in enumerate(labels):
        if i:
            words.append("and")
            key.append(False)
        phrase = class_words(label, split)
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
