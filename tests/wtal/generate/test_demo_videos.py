"""The demo dataset of synthetic untrimmed videos: plans, pixels, files, determinism."""

from __future__ import annotations

import argparse
import itertools
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from extract.video import iter_frames, probe
from tests.wtal.data.fixtures import assert_same_annotations
from wtal.commands import demo_videos as command
from wtal.data import read_activitynet
from wtal.data.open import open_dataset
from wtal.evaluation.tables import load_ground_truth
from wtal.generate.demo_files import generate, make_dataset
from wtal.generate.demo_plan import (
    CLASS_PHASES,
    CLASSES,
    DEFAULTS,
    FPS,
    SEGMENT_FRAMES,
    SHARED_PHASE,
    Style,
    VideoPlan,
    plan_videos,
)
from wtal.generate.demo_render import instance_shapes, render_frames
from wtal.text.sentences import class_words

SMALL = {"videos": 6, "test_videos": 1, "width": 64, "height": 48, "seconds": (6.4, 7.68)}


def files(folder: Path) -> dict[Path, bytes]:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small_set(tmp_path_factory) -> Path:
    """Six short 64 x 48 videos written to disk (five training, one test)."""
    return generate(tmp_path_factory.mktemp("demo") / "a", seed=5, **SMALL)


@pytest.fixture(scope="module")
def default_plans() -> list[VideoPlan]:
    return plan_videos(seed=0)


@pytest.fixture(scope="module")
def rendered(default_plans) -> list[tuple[VideoPlan, np.ndarray]]:
    """The first 16 default plans as 96 x 96 pixels (not encoded)."""
    return [(p, np.stack(list(render_frames(p, 0)))) for p in default_plans[:16]]


# ---------------------------------------------------------------------------------------------
# Plans and annotations.


def test_class_names_split_into_words():
    assert [class_words(c) for c in CLASSES] == [
        ["high", "jump"],
        ["long", "jump"],
        ["hammer", "throw"],
        ["clean", "and", "jerk"],
        ["diving"],
    ]


def test_plans_are_deterministic_and_depend_on_the_seed():
    assert plan_videos(seed=2) == plan_videos(seed=2)
    assert plan_videos(seed=2) != plan_videos(seed=3)


def test_plan_structure(default_plans):
    lo, hi = DEFAULTS.seconds
    train = [p for p in default_plans if p.subset == "validation"]
    test = [p for p in default_plans if p.subset == "test"]
    assert len(train) == DEFAULTS.videos - DEFAULTS.test_videos
    assert len(test) == DEFAULTS.test_videos
    assert train[0].video_id == "video_validation_0000001"
    assert test[0].video_id == "video_test_0000001"
    for subset in (train, test):  # every class is in both subsets
        assert {x.label for p in subset for x in p.instances} == set(CLASSES)
    for p in default_plans:
        assert p.frames % SEGMENT_FRAMES == 0
        assert lo - 1e-9 <= p.frames / FPS <= hi + 1e-9
        assert 1 <= len(p.instances) <= 3
        assert set(p.labels) == {x.label for x in p.instances}
        busy = []
        for x in p.instances:
            assert 1.0 <= (x.end - x.start) / FPS <= 4.0
            first, second = x.phases
            assert (first.name, second.name) == CLASS_PHASES[x.label]
            assert x.start == first.start < first.end == second.start < second.end == x.end
            assert first.shared == (first.name == SHARED_PHASE) and not second.shared
            busy.append((x.start - x.hold_before, x.end + x.hold_after))
        assert busy[0][0] > 0 and busy[-1][1] < p.frames
        for (_, end), (start, _) in itertools.pairwise(busy):
            assert (start - end) / FPS >= 1.0 - 1e-9  # background between instances
        for d in p.distractors:  # background motion never overlaps an action or a hold
            assert all(d.end <= a or d.start >= b for a, b in busy)
            assert 0 <= d.start < d.end <= p.frames
    # 1-3 instances, some two-class videos, background motion in nearly every video.
    counts = [len(p.instances) for p in default_plans]
    assert min(counts) == 1 and max(counts) >= 2
    assert any(len(p.labels) == 2 for p in default_plans)
    assert np.mean([bool(p.distractors) for p in default_plans]) > 0.9


def test_distractors_appear_in_videos_of_every_class():
    plans = plan_videos(100, 20, seed=1)
    for kind in ("walker", "ball", "pan"):
        classes = {c for p in plans for d in p.distractors if d.kind == kind for c in p.labels}
        assert classes == set(CLASSES), kind


def test_annotations_do_not_depend_on_the_frame_size(tmp_path):
    a = generate(tmp_path / "a", seed=1, **{**SMALL, "width": 64, "height": 64})
    b = generate(tmp_path / "b", seed=1, **{**SMALL, "width": 48, "height": 64})
    da, db = json.loads(a.read_text()), json.loads(b.read_text())
    assert da["database"].keys() == db["database"].keys()
    for vid, entry in da["database"].items():
        other = db["database"][vid]
        assert entry["annotations"] == other["annotations"]
        assert entry["distractors"] == other["distractors"]
        assert (other["video"]["width"], other["video"]["height"]) == (48, 64)


def test_annotations_are_valid_for_the_readers(small_set, tmp_path):
    data = json.loads(small_set.read_text())
    plans = plan_videos(6, 1, seed=5, seconds=SMALL["seconds"])
    dataset = read_activitynet(small_set)
    assert dataset.classes == CLASSES
    assert dataset.subsets == ("validation", "test")
    assert not dataset.quirks
    assert_same_annotations(dataset.videos, make_dataset(6, 1, 5, SMALL["seconds"]).videos)
    for plan, video in zip(plans, dataset.videos, strict=True):
        assert video.duration == plan.duration == plan.frames / FPS
        assert video.segments.tolist() == [x.segment for x in plan.instances]
        entry = data["database"][plan.video_id]
        assert entry["video"]["file"] == f"videos/{plan.video_id}.mp4"
        assert (small_set.parent / entry["video"]["file"]).is_file()
        for annotation, x in zip(entry["annotations"], plan.instances, strict=True):
            assert [p["name"] for p in annotation["phases"]] == list(CLASS_PHASES[x.label])
            assert annotation["phases"][0]["segment"][0] == annotation["segment"][0]
            assert annotation["phases"][1]["segment"][1] == annotation["segment"][1]
    spec = {"format": "activitynet", "annotations": str(small_set), "name": "demo"}
    assert len(open_dataset(spec, with_features=False)) == 6
    truth = load_ground_truth(small_set, "test")
    assert len(truth) == sum(len(p.instances) for p in plans if p.subset == "test")
    assert data["generator"]["shared_phase"] == {SHARED_PHASE: ["HighJump", "LongJump"]}


def test_extraction_layout_features_are_found(small_set, tmp_path):
    """``wtal extract DIR/videos --output DIR/features`` writes ``<stem>/rgb.npy``: found."""
    features = small_set.parent / "features"
    for mp4 in sorted((small_set.parent / "videos").glob("*.mp4")):
        segments = probe(mp4).original_frames // SEGMENT_FRAMES
        (features / mp4.stem).mkdir(parents=True, exist_ok=True)
        for name in ("rgb", "flow"):
            np.save(features / mp4.stem / f"{name}.npy", np.zeros((segments, 1024), np.float32))
    try:
        dataset = read_activitynet(small_set, features)
        assert not dataset.quirks
        assert all(v.features is not None and v.features.shape[1] == 2048 for v in dataset.videos)
    finally:
        for path in sorted(features.rglob("*.npy")):
            path.unlink()


def test_bad_arguments():
    with pytest.raises(ValueError, match="seed"):
        plan_videos(seed=-1)
    with pytest.raises(ValueError, match="training videos"):
        plan_videos(videos=8, test_videos=4)
    with pytest.raises(ValueError, match="test videos"):
        plan_videos(videos=8, test_videos=8)
    with pytest.raises(ValueError, match="seconds"):
        plan_videos(seconds=(3.0, 5.0))
    with pytest.raises(ValueError, match="frame size"):
        generate("/nonexistent", width=63)


# ---------------------------------------------------------------------------------------------
# Files: decodable, frame-exact, deterministic.


def test_videos_decode_with_the_project_reader(small_set):
    plans = plan_videos(6, 1, seed=5, seconds=SMALL["seconds"])
    for plan in plans:
        path = small_set.parent / "videos" / f"{plan.video_id}.mp4"
        info = probe(path, on_variable_frame_rate="error")
        assert (info.width, info.height) == (SMALL["width"], SMALL["height"])
        assert info.original_fps == FPS
        assert info.original_frames == plan.frames
        assert math.isclose(info.duration, plan.duration, abs_tol=1e-4)
        # One to one at 25 fps, although decord's end time is float32-rounded (n/25 + ~1e-7).
        assert info.frames == plan.frames
        assert (info.source_index == np.arange(plan.frames)).all()
        decoded = np.concatenate([f for _, f in iter_frames(info, short_side=SMALL["height"])])
        assert decoded.shape == (info.frames, SMALL["height"], SMALL["width"], 3)
        original = np.stack(list(render_frames(plan, 5, SMALL["width"], SMALL["height"])))
        error = decoded[: plan.frames].astype(np.float64) - original
        psnr = 10 * np.log10(255.0**2 / np.mean(error**2))
        assert psnr > 25.0, (plan.video_id, psnr)


def test_the_same_seed_gives_byte_identical_files(small_set, tmp_path):
    again = generate(tmp_path / "b", seed=5, **SMALL)
    first, second = files(small_set.parent), files(again.parent)
    assert len(first) == 7 and first == second
    other = files(generate(tmp_path / "c", seed=6, **SMALL).parent)
    assert other[Path("annotations.json")] != first[Path("annotations.json")]
    name = Path("videos/video_validation_0000001.mp4")
    assert other[name] != first[name]


def test_a_smaller_rerun_removes_the_extra_videos(tmp_path):
    generate(tmp_path, seed=1, **{**SMALL, "videos": 7, "test_videos": 2})
    (tmp_path / "videos" / "mine.mp4").write_bytes(b"not a demo video")
    generate(tmp_path, seed=1, **SMALL)
    names = sorted(p.name for p in (tmp_path / "videos").iterdir())
    assert len(names) == 7 and "mine.mp4" in names and "video_test_0000002.mp4" not in names


def test_an_interrupted_write_leaves_no_video(tmp_path):
    from wtal.generate.demo_files import write_video

    def frames():
        yield np.zeros((32, 32, 3), np.uint8)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_video(tmp_path / "v.mp4", frames())
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# Pixels: the actions move, the background mostly does not, the classes move differently.


def motion(frames: np.ndarray) -> np.ndarray:
    """Per frame t >= 1: mask of pixels that changed from t - 1 (beyond the sensor noise)."""
    diff = np.abs(np.diff(frames.astype(np.int16), axis=0)).sum(axis=3)
    mask = diff > 40
    return np.concatenate([np.zeros_like(mask[:1]), mask])


def camera_shift(grey: list[np.ndarray], where: np.ndarray) -> np.ndarray:
    """Global horizontal shift (pixels) from frame t - 1 to t, for each t in ``where``."""
    return np.array([abs(cv2.phaseCorrelate(grey[t - 1], grey[t])[0][0]) for t in where])


def frame_sets(plan: VideoPlan) -> tuple[np.ndarray, np.ndarray]:
    """Frames inside actions, and quiet background (no distractor; boundaries excluded)."""
    action = np.zeros(plan.frames, bool)
    near = np.zeros(plan.frames, bool)
    for x in plan.instances:
        action[x.start + 1 : x.end] = True
        near[max(0, x.start - 1) : x.end + 2] = True
    for d in plan.distractors:
        near[max(0, d.start - 1) : d.end + 2] = True
    return action, ~near


def test_actions_move_and_the_quiet_background_does_not(rendered):
    inside, quiet, camera_quiet, kinds = [], [], [], {}
    for plan, frames in rendered:
        moving = motion(frames).mean(axis=(1, 2))
        action, rest = frame_sets(plan)
        inside.append(moving[action])
        quiet.append(moving[rest])
        grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32) for f in frames]
        camera_quiet.append(camera_shift(grey, np.flatnonzero(rest)[1::4]))
        for d in plan.distractors:
            if d.kind == "pan":
                shift = camera_shift(grey, np.arange(d.start + 1, d.end))
                kinds.setdefault(d.kind, []).append(np.median(shift))
            else:
                kinds.setdefault(d.kind, []).append(moving[d.start + 1 : d.end].mean())
    inside_mean, quiet_mean = np.concatenate(inside).mean(), np.concatenate(quiet).mean()
    assert quiet_mean < 0.001  # the background is static outside the distractors
    assert inside_mean > 20 * max(quiet_mean, 1e-4)
    assert np.mean(np.concatenate(inside) > 0.002) > 0.95  # nearly every action frame moves
    assert np.median(np.concatenate(camera_quiet)) < 0.1  # pixels per frame
    assert set(kinds) == {"walker", "ball", "pan"}
    for kind, values in kinds.items():  # the distractors move too
        assert min(values) > (0.3 if kind == "pan" else 0.002), kind


def centroid_track(frames: np.ndarray, start: int, end: int) -> np.ndarray:
    """(n, 2): centre of the moving pixels, as fractions of the width and height."""
    mask = motion(frames[start:end])[1:]
    height, width = frames.shape[1:3]
    ys, xs = np.mgrid[0:height, 0:width]
    track = []
    for m in mask:
        if m.sum() >= 3:
            track.append(((xs[m].mean() + 0.5) / width, (ys[m].mean() + 0.5) / height))
    return np.array(track)


def test_each_phase_has_its_class_motion(rendered):
    seen = set()
    for plan, frames in rendered:
        for x in plan.instances:
            for phase in x.phases:
                track = centroid_track(frames, phase.start, phase.end)
                assert len(track) >= 0.7 * (phase.end - phase.start - 1), (x.label, phase.name)
                dx, dy = np.percentile(track, 95, axis=0) - np.percentile(track, 5, axis=0)
                down = np.corrcoef(np.arange(len(track)), track[:, 1])[0, 1]
                seen.add(phase.name)
                if phase.name == "run-up":  # sideways, level
                    assert dx > 0.2 and dy < 0.1, (x.label, dx, dy)
                elif phase.name == "jump":  # high, nearly in place
                    assert dy > 0.3 and dx < 0.25, (dx, dy)
                elif phase.name == "leap":  # long and low
                    assert dx > 0.2 and dy < 0.25, (dx, dy)
                elif phase.name == "spin":  # round and round: both ways
                    assert dx > 0.15 and dy > 0.05, (dx, dy)
                elif phase.name in ("clean", "jerk"):  # the barbell goes up and down
                    assert dy > 0.1 and dx < 0.1, (phase.name, dx, dy)
                elif phase.name == "fall":  # downwards
                    assert dy > 0.3 and down > 0.9, (dy, down)
                elif phase.name == "splash":  # the moving area spreads out
                    masks = motion(frames[phase.start : phase.end])[1:]
                    widths = [np.ptp(np.nonzero(m)[1]) for m in masks if m.sum() >= 3]
                    assert max(widths) > 3 * min(widths)
    assert seen == {p for pair in CLASS_PHASES.values() for p in pair}


def test_the_run_up_is_shared_by_both_jumps():
    rng = np.random.default_rng(0)
    for _ in range(10):
        style = Style(
            direction=int(rng.choice([-1, 1])),
            colour=(220, 40, 40),
            accent=(50, 50, 60),
            scale=float(rng.uniform(0.85, 1.15)),
            x=float(rng.uniform(-0.04, 0.04)),
            y=float(rng.uniform(-0.03, 0.03)),
            rate=float(rng.integers(4, 8)),
        )
        for p in np.linspace(0.0, 1.0, 9):
            high = instance_shapes("HighJump", 0, p, style, 96, 96)
            long = instance_shapes("LongJump", 0, p, style, 96, 96)
            assert high == long  # the same sub-action, pixel for pixel
        late_high = instance_shapes("HighJump", 1, 0.5, style, 96, 96)
        late_long = instance_shapes("LongJump", 1, 0.5, style, 96, 96)
        assert late_high != late_long
        # ... and the second phase starts where the run-up ends.
        end = instance_shapes("HighJump", 0, 1.0, style, 96, 96)[0]
        for label in ("HighJump", "LongJump"):
            start = next(s for s in instance_shapes(label, 1, 0.0, style, 96, 96) if s.b > 5)
            assert abs(start.x - end.x) < 1e-6 and abs(start.y - end.y) < 1.5


def test_the_run_up_moves_alike_in_both_jumps(rendered):
    speeds: dict[str, list[float]] = {"HighJump": [], "LongJump": []}
    for plan, frames in rendered:
        for x in plan.instances:
            if x.label in speeds:
                run_up = x.phases[0]
                track = centroid_track(frames, run_up.start, run_up.end)
                speeds[x.label].append(abs(track[-1, 0] - track[0, 0]) / len(track) * FPS)
    high, long = np.array(speeds["HighJump"]), np.array(speeds["LongJump"])
    assert len(high) >= 3 and len(long) >= 3
    assert abs(np.median(high) - np.median(long)) < 0.25 * np.median(high)


# ---------------------------------------------------------------------------------------------
# The command.


def test_the_command_writes_the_dataset(tmp_path, capsys):
    from wtal.cli import main

    out = tmp_path / "demo"
    code = main(
        [
            "make-demo-videos",
            "--output",
            str(out),
            "--videos",
            "6",
            "--test-videos",
            "1",
            "--seed",
            "5",
            "--size",
            "64",
            "48",
            "--seconds",
            "6.4:7.68",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "validation: 5 videos" in printed and "test: 1 videos" in printed
    assert "--short-side 48 --crop 48" in printed
    assert len(list((out / "videos").glob("*.mp4"))) == 6
    data = json.loads((out / "annotations.json").read_text())
    assert data["generator"]["width"] == 64 and data["generator"]["seed"] == 5


def test_the_command_refuses_bad_arguments(tmp_path, capsys):
    from wtal.cli import main

    code = main(
        ["make-demo-videos", "--output", str(tmp_path), "--videos", "4", "--test-videos", "1"]
    )
    assert code == 1
    assert "training videos" in capsys.readouterr().err
    assert not (tmp_path / "annotations.json").exists()
    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers())
    with pytest.raises(SystemExit):
        parser.parse_args(["make-demo-videos", "--output", "x", "--seconds", "10"])
