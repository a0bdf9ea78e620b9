"""The validation split is held out from training videos, stratified by class."""

from __future__ import annotations

from collections import Counter

from tests.wtal.training.toy import toy_dataset
from wtal.data.splits import stratified_split


def test_split_is_stratified_disjoint_and_seeded():
    videos = toy_dataset(40).videos  # 4 classes x 10 videos
    train, held = stratified_split(videos, 0.2, seed=3)
    assert set(train).isdisjoint(held) and len(train) + len(held) == 40
    by_id = {v.video_id: v.labels[0] for v in videos}
    assert Counter(by_id[v] for v in held) == {name: 2 for name in set(by_id.values())}
    assert stratified_split(videos, 0.2, seed=3) == (train, held)
    assert stratified_split(videos, 0.2, seed=4) != (train, held)


def test_a_class_with_one_video_stays_in_training():
    videos = toy_dataset(5).videos  # class counts 2, 1, 1, 1
    _, held = stratified_split(videos, 0.5, seed=0)
    counts = Counter(v.labels[0] for v in videos)
    held_classes = Counter(v.labels[0] for v in videos if v.video_id in held)
    assert all(counts[name] >= 2 for name in held_classes)
    assert all(held_classes[name] < counts[name] for name in held_classes)
