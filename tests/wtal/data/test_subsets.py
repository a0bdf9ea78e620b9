"""Subset spellings: the authors' ``train`` / ``val`` are ``training`` / ``validation``,
whichever the config or the annotations use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.wtal.data.fixtures import write_wtalc
from tests.wtal.training.toy import toy_dataset
from wtal.config.checks import check_subset
from wtal.data import read_wtalc
from wtal.data.subsets import canonical_subset, same_subset
from wtal.errors import InputFileError

ACTIVITYNET = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "activitynet13"


def test_the_authors_spellings_are_the_same_subsets():
    assert canonical_subset("train") == canonical_subset("training") == "training"
    assert canonical_subset("val") == canonical_subset("validation") == "validation"
    assert canonical_subset("test") == "test"
    assert same_subset("val", "validation") and same_subset("training", "train")
    assert not same_subset("validation", "test") and not same_subset("train", "val")


def authors_folder(tmp_path) -> Path:
    """The fixture folder with the subsets spelt as the authors' ActivityNet files."""
    folder = write_wtalc(tmp_path / "ann")
    np.save(folder / "subset.npy", np.array([b"train", b"val", b"val"]))
    return folder


def test_the_wtalc_reader_reads_the_authors_spelling_and_says_so(tmp_path):
    data = read_wtalc(authors_folder(tmp_path))
    assert data.subsets == ("training", "validation")
    quirks = [q for q in data.quirks if q.kind == "subset-spelling"]
    assert len(quirks) == 2
    assert "'train' (1 video)" in quirks[0].message and "'training'" in quirks[0].message
    assert "'val' (2 videos)" in quirks[1].message
    plain = read_wtalc(write_wtalc(tmp_path / "plain"))
    assert not [q for q in plain.quirks if q.kind == "subset-spelling"]


@pytest.mark.parametrize("name", ["val", "validation"])
def test_either_spelling_selects_the_subset(tmp_path, name):
    data = read_wtalc(authors_folder(tmp_path), authors_folder(tmp_path) / "features.npy")
    assert [v.video_id for v in data.subset(name).videos] == ["v_test_empty", "v_test_bad"]
    split = check_subset(data, name, "dataset.test_subset", "config.yaml", "--test")
    assert len(split.videos) == 2


@pytest.mark.parametrize(("stored", "asked"), [("val", "validation"), ("validation", "val")])
def test_a_dataset_of_any_reader_answers_either_spelling(stored, asked):
    data = toy_dataset(4, subset=stored)
    assert data.has_subset(asked) and len(data.subset(asked).videos) == 4
    assert not data.has_subset("test")
    with pytest.raises(InputFileError, match="has no such subset"):
        check_subset(data, "train", "dataset.train_subset", "config.yaml", "training")


def test_the_shared_activitynet_annotations_answer_the_authors_spellings():
    if not (ACTIVITYNET / "subset.npy").is_file():
        pytest.skip(f"real ActivityNet1.3 annotations not found at {ACTIVITYNET}")
    data = read_wtalc(ACTIVITYNET)
    assert len(data.subset("train").videos) == len(data.subset("training").videos) == 9337
    assert len(data.subset("val").videos) == len(data.subset("validation").videos) == 4575
