"""The synthetic THUMOS14-shaped feature dataset: determinism, shape, statistics, structure."""

from __future__ import annotations

import argparse
import itertools
import json

import numpy as np
import pytest

from tests.wtal.data.fixtures import assert_same_annotations
from wtal.commands import synthetic as command
from wtal.data import read_activitynet
from wtal.data.dataset import SEGMENT_SECONDS
from wtal.generate.synthetic_features import make_world
from wtal.generate.synthetic_files import generate, iter_videos, make_dataset
from wtal.generate.synthetic_plan import SIZES, THUMOS14_CLASSES, plan_videos


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="module")
def tiny_videos():
    """The tiny set at 256-d, with what its features were made of."""
    return list(iter_videos("tiny", seed=0, feature_dim=256))


def files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_same_seed_gives_byte_identical_files(tmp_path):
    a = files(generate(tmp_path / "a", "tiny", seed=3, feature_dim=32).parent)
    b = files(generate(tmp_path / "b", "tiny", seed=3, feature_dim=32).parent)
    c = files(generate(tmp_path / "c", "tiny", seed=4, feature_dim=32).parent)
    assert len(a) == 1 + 80
    assert a == b
    key = next(iter(a))
    assert a[key] != c[key]
    assert a[key.parent / "annotations.json"] != c[key.parent / "annotations.json"]


def test_annotations_depend_on_the_seed_and_size_only():
    a = make_dataset("tiny", seed=1, feature_dim=16, with_features=False).to_activitynet()
    b = make_dataset("tiny", seed=1, feature_dim=64).to_activitynet()
    assert a == b


def test_shapes_dtypes_and_subsets(tiny_videos):
    assert [r.subset for r, _ in tiny_videos] == ["validation"] * 40 + ["test"] * 40
    assert tiny_videos[0][0].video_id == "video_validation_0000001"
    assert tiny_videos[-1][0].video_id == "video_test_0000040"
    for record, truth in tiny_videos:
        assert record.features.dtype == np.float32
        assert record.features.shape == (record.num_segments, 256)
        assert 60 <= record.num_segments <= 200
        assert record.duration == pytest.approx(record.num_segments * SEGMENT_SECONDS)
        assert truth.phase.shape == truth.action.shape == (record.num_segments,)
        assert set(record.segment_labels) == set(record.labels)


@pytest.mark.parametrize("size", list(SIZES))
def test_instance_statistics_are_thumos_like(size):
    spec = SIZES[size]
    plans = plan_videos(size, seed=0)
    assert len(plans) == spec.train_videos + spec.test_videos
    counts = np.array([len(p.instances) for p in plans])
    lengths = np.array([x.end - x.start for p in plans for x in p.instances])
    two = np.mean([len(p.labels) == 2 for p in plans])
    assert counts.min() >= 1
    assert 0.6 <= np.median(lengths) <= 4.5
    assert lengths.min() >= 0.5 and lengths.max() <= 30
    assert 0.05 <= two <= 0.3
    if size == "thumos":
        assert 10 <= counts.mean() <= 20
        assert 8 <= np.mean([len(p.instances) for p in plans if len(p.labels) == 1]) <= 18
        assert 2 <= np.median(lengths) <= 4
        assert {c for p in plans for c in p.labels} == set(THUMOS14_CLASSES)
    by_class = {}
    for p in plans:
        assert len(p.labels) in (1, 2)
        starts = [x.start for x in p.instances]
        assert starts == sorted(starts)
        for x, nxt in zip(p.instances, p.instances[1:], strict=False):
            assert nxt.start - x.end >= SEGMENT_SECONDS - 1e-9
        for x in p.instances:
            assert 0 <= x.start < x.phases[0].end == x.phases[1].start < x.end <= p.duration
            by_class.setdefault(x.label, []).append(x.end - x.start)
        assert sum(x.end - x.start for x in p.instances) <= 0.61 * p.duration
    if "CleanAndJerk" in by_class:
        assert np.median(by_class["CleanAndJerk"]) > 3 * np.median(by_class["CricketShot"])
    assert np.median(by_class["PoleVault"]) > 2 * np.median(by_class["CricketShot"])


def phase_means(videos, min_weight=0.9):
    """Mean feature over the core segments of each (class, phase)."""
    sums: dict[tuple[str, str], list[np.ndarray]] = {}
    for record, truth in videos:
        core = (truth.phase >= 0) & (truth.phase_weight >= min_weight)
        for t in np.flatnonzero(core):
            k = truth.phase[t]
            key = (truth.phase_classes[k], truth.phase_names[k])
            sums.setdefault(key, []).append(record.features[t])
    return {key: np.mean(rows, axis=0) for key, rows in sums.items()}


def test_shared_sub_actions_look_alike_and_distinctive_ones_do_not(tiny_videos):
    means = phase_means(tiny_videos)
    for shared, rest in (
        ("run-up", {"HighJump": "jump", "LongJump": "jump", "PoleVault": "vault"}),
        ("spin", {"HammerThrow": "release", "ThrowDiscus": "release", "Shotput": "put"}),
    ):
        classes = list(rest)
        for i, a in enumerate(classes):
            for b in classes[i + 1 :]:
                assert cosine(means[a, shared], means[b, shared]) > 0.8
                assert cosine(means[a, rest[a]], means[b, rest[b]]) < 0.5
                assert cosine(means[a, shared], means[a, rest[a]]) < 0.7


def test_background_context_is_correlated_with_the_class(tiny_videos):
    world = make_world(seed=0, feature_dim=256)
    classes = SIZES["tiny"].classes
    contexts = np.stack([world.context[c] for c in classes])
    for c in classes:
        rows = [
            record.features[truth.action < 0.01, :128]
            for record, truth in tiny_videos
            if record.labels == (c,)
        ]
        mean = np.concatenate(rows).mean(axis=0)
        similarity = contexts @ mean / np.linalg.norm(mean)
        assert classes[int(similarity.argmax())] == c
        assert similarity[classes.index(c)] > 0.4


def test_flow_is_quiet_outside_actions_but_for_camera_motion(tiny_videos):
    still, camera, action = [], [], []
    for record, truth in tiny_videos:
        flow = np.linalg.norm(record.features[:, 128:], axis=1)
        background = truth.action < 0.01
        still.append(flow[background & ~truth.camera])
        camera.append(flow[background & truth.camera])
        action.append(flow[truth.phase_weight >= 0.9])
    still, camera, action = (np.concatenate(x).mean() for x in (still, camera, action))
    assert 1.15 * still < camera and 1.15 * camera < action


def test_joint_feature_norm_is_about_ten():
    norms, background = [], []
    for record, truth in itertools.islice(iter_videos("tiny", seed=0, feature_dim=2048), 30):
        n = np.linalg.norm(record.features, axis=1)
        norms.append(n)
        background.append(n[truth.action < 0.01])
    norms = np.concatenate(norms)
    assert 9.0 <= norms.mean() <= 11.0
    assert 7.5 <= np.concatenate(background).mean() <= 10.5
    assert np.percentile(norms, 1) > 6 and np.percentile(norms, 99) < 15


def test_reads_back_through_read_activitynet_with_no_quirks(tmp_path):
    path = generate(tmp_path / "synthetic", "tiny", seed=2, feature_dim=16)
    dataset = read_activitynet(path, path.parent / "features")
    assert dataset.quirks == ()
    memory = make_dataset("tiny", seed=2, feature_dim=16)
    assert dataset.classes == memory.classes == SIZES["tiny"].classes
    assert_same_annotations(dataset.videos, memory.videos)
    for a, b in zip(dataset.videos, memory.videos, strict=True):
        assert np.array_equal(a.features, b.features)
    data = json.loads(path.read_text())
    assert data["generator"]["size"] == "tiny"
    assert data["generator"]["seed"] == 2
    assert data["generator"]["feature_dim"] == 16
    assert data["generator"]["version"] >= 1
    first = next(iter(data["database"].values()))["annotations"][0]
    phases = first["phases"]
    assert len(phases) == 2
    assert phases[0]["segment"][0] == first["segment"][0]
    assert phases[0]["segment"][1] == phases[1]["segment"][0]
    assert phases[1]["segment"][1] == first["segment"][1]


@pytest.mark.parametrize(
    ("size", "seed", "dim"), [("huge", 0, 64), ("tiny", -1, 64), ("tiny", 0, 63), ("tiny", 0, 4)]
)
def test_bad_arguments_are_refused(size, seed, dim, tmp_path):
    with pytest.raises(ValueError):
        generate(tmp_path, size, seed, dim)
    assert not (tmp_path / "annotations.json").exists()


def test_the_command_writes_a_dataset(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers())
    args = parser.parse_args(
        ["make-synthetic", "--output", str(tmp_path / "out"), "--seed", "5", "--feature-dim", "8"]
    )
    assert args.size == "tiny"
    assert args.run(args) == 0
    out = capsys.readouterr().out
    assert "validation: 40 videos" in out and "test: 40 videos" in out
    dataset = read_activitynet(tmp_path / "out" / "annotations.json", tmp_path / "out" / "features")
    assert len(dataset) == 80 and dataset.feature_dim == 8 and dataset.quirks == ()
