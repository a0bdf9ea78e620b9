"""Word vectors: GloVe text files of any dimension, the PyPI default, named OOV errors."""

from __future__ import annotations

import numpy as np
import pytest

from wtal.errors import InputFileError
from wtal.text.glove import OutOfVocabularyError, load_glove_text, load_word_vectors


def test_text_file_of_any_dimension(tmp_path):
    path = tmp_path / "glove.tiny.3d.txt"
    path.write_text("the 0.1 0.2 0.3\njump 1 2 3\nhigh -1 0 1\n")
    vectors = load_glove_text(path, ["jump", "high", "absent"])
    assert vectors.dim == 3
    assert vectors.lookup(["high", "jump"]).tolist() == [[-1, 0, 1], [1, 2, 3]]
    with pytest.raises(OutOfVocabularyError, match="absent") as error:
        vectors.lookup(["jump", "absent"])
    assert error.value.words == ["absent"]


def test_bad_text_files(tmp_path):
    with pytest.raises(InputFileError, match="GloVe file not found"):
        load_glove_text(tmp_path / "none.txt", ["a"])
    bad = tmp_path / "bad.txt"
    bad.write_text("the 0.1 0.2\njump 1 2 3\n")
    with pytest.raises(InputFileError, match="line 2: 3 values, expected 2"):
        load_glove_text(bad, ["jump"])


def test_default_is_glove_6b_50d_and_knows_every_thumos_word():
    words = [
        "baseball",
        "pitch",
        "basketball",
        "dunk",
        "billiards",
        "clean",
        "jerk",
        "cliff",
        "diving",
        "cricket",
        "bowling",
        "shot",
        "frisbee",
        "catch",
        "golf",
        "swing",
        "hammer",
        "throw",
        "high",
        "jump",
        "javelin",
        "long",
        "pole",
        "vault",
        "shotput",
        "soccer",
        "penalty",
        "tennis",
        "discus",
        "volleyball",
        "spiking",
        "a",
        "video",
        "of",
        "the",
    ]
    vectors = load_word_vectors("default", words)
    assert vectors.dim == 50 and "glove.6B.50d" in vectors.source
    table = vectors.lookup(words)
    assert table.shape == (len(words), 50) and np.isfinite(table).all()
    # Real GloVe geometry: related words are closer than unrelated ones.
    v = dict(zip(words, table, strict=True))

    def cos(a, b):
        return float(v[a] @ v[b] / np.linalg.norm(v[a]) / np.linalg.norm(v[b]))

    assert cos("tennis", "golf") > cos("tennis", "of")
