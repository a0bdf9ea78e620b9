"""A seeded demo dataset of small synthetic *untrimmed videos* (real ``.mp4`` files).

The whole pipeline runs on it on a CPU: decode at 25 fps -> TV-L1 flow -> I3D features ->
training -> evaluation. Frames are small (default 96 x 96) and videos short (10-14 s), so
extracting the whole default set takes about 3.5 minutes on 2 quiet cores (see
:class:`Defaults`).

What is in a video (every number is a constant below; nothing is measured from real videos):

- **Scene.** A textured background (a "sky" and a "ground" colour with smooth noise at two
  scales and a row of billboards on the horizon, drawn per video and not tied to any class)
  and light sensor noise on every frame.
- **Actions.** 1-3 instances of 1.3-3.6 s separated by background; each is two **phases**
  (sub-actions), drawn with soft-edged ellipses, lines and rings:

  ============  =====================================  ====================================
  class         first phase                            second phase
  ============  =====================================  ====================================
  HighJump      *run-up*: an athlete runs sideways     jump: rises high almost in place,
                (shared with LongJump)                 turns flat over the top, lands lying
  LongJump      *run-up* (the same sub-action)         leap: a long low flight forward,
                                                       lands crouched in a sand puff
  HammerThrow   spin: a ball on a wire circles the     release: the ball flies off along
                athlete, faster and faster             its tangent, the athlete turns on
  CleanAndJerk  clean: a barbell rises from the        jerk: dip, drive overhead, hold,
                floor to the shoulders                 drop to the floor
  Diving        fall: a diver drops from the top,      splash: rings expand on the water,
                somersaulting                          a pulsing column of spray
  ============  =====================================  ====================================

  The run-up is the same function of the same random style in both jumps (pixel-identical
  for the same style), so it carries no evidence of which jump follows; a model that only
  finds the discriminative part localises the jumps incompletely. Athletes' colours come
  from one palette shared by every class. Before and after an instance the athlete may stand
  still in its first or last pose (background: appearance without motion).
- **Distracting background motion**, in background stretches only, in every kind of video:
  a *walker* (an athlete-like figure walking sideways: the same sprite as the run-up,
  slower and without the lean), a *ball* bouncing across, and a camera *pan* (the whole
  background drifts). Each is annotated in the video's ``distractors`` list (not a class).
- **Time.** 25 fps; every video lasts a whole number of 16-frame segments (0.64 s each), so
  ``T = frames / 16`` I3D segments; annotations are frame-exact (multiples of 0.04 s).

Output of :func:`generate` (the project's ActivityNet-style format, read by
``wtal.data.read_activitynet``)::

    DIR/videos/<video_id>.mp4     MPEG-4 Part 2 ("mp4v", written by OpenCV; decord reads it)
    DIR/annotations.json          {"database": {vid: {"subset", "duration", "labels",
                                  "annotations": [{"segment", "label", "phases"}],
                                  "distractors", "video"}}, "classes", "generator", ...}

Subsets: ``validation`` (training, as THUMOS14 and ``config/synthetic_cpu.yaml`` name it)
and ``test``; ids ``video_validation_0000001`` / ``video_test_0000001``. Extract features
with ``wtal extract DIR/videos --output DIR/features --flow-preset fast --short-side 96
--crop 96`` (for 96 x 96 frames) and read them with ``read_activitynet(DIR/annotations.json,
DIR/features)``.

Reproducibility: plans (annotations) depend on ``(seed, videos, test_videos, seconds)``
only, not on the frame size; frames depend on the plan, the seed and the size; each video
has its own random streams. The same arguments give byte-identical videos with the same
OpenCV/FFmpeg build (the MPEG-4 encoder is deterministic; checked), and identical JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from wtal.data.timing import I3D_25FPS
from wtal.errors import UsageError

#: Bumped whenever the same arguments would give different data.
GENERATOR_VERSION = 1

#: The videos' frame rate and the frames per feature segment: the published features' timing
#: (every video lasts whole segments, annotations are frame-exact).
FPS = round(I3D_25FPS.fps)
SEGMENT_FRAMES = I3D_25FPS.frames_per_segment
FOURCC = "mp4v"
TRAIN_SUBSET = "validation"
TEST_SUBSET = "test"

CLASSES = ("HighJump", "LongJump", "HammerThrow", "CleanAndJerk", "Diving")
#: class -> its two phases (sub-actions); SHARED_PHASE is the same sub-action in every class.
CLASS_PHASES: dict[str, tuple[str, str]] = {
    "HighJump": ("run-up", "jump"),
    "LongJump": ("run-up", "leap"),
    "HammerThrow": ("spin", "release"),
    "CleanAndJerk": ("clean", "jerk"),
    "Diving": ("fall", "splash"),
}
SHARED_PHASE = "run-up"
#: Phase lengths in seconds (uniform in the range): every instance lasts 1.3-3.6 s.
PHASE_SECONDS: dict[str, tuple[float, float]] = {
    "run-up": (1.0, 1.8),
    "jump": (1.0, 1.4),
    "leap": (0.9, 1.3),
    "spin": (1.6, 2.6),
    "release": (0.6, 1.0),
    "clean": (1.0, 1.6),
    "jerk": (1.2, 2.0),
    "fall": (0.6, 1.0),
    "splash": (0.7, 1.2),
}
DISTRACTORS = ("walker", "ball", "pan")


@dataclass(frozen=True)
class Defaults:
    """The demo: 30 videos (20 ``validation`` for training + 10 ``test``) of 10.24-14.08 s
    (about 6 minutes, 9,200 frames, in all) at 96 x 96.

    Extraction cost on this project's 2-core machine (``wtal extract --flow-preset fast
    --short-side 96 --crop 96 --workers 2``), measured while the machine was otherwise quiet:
    21-24 ms per frame (TV-L1 about 16, I3D RGB + flow about 6), 6.5-8.5 s per video, so
    about 3.5 minutes for the whole set plus a few seconds to load the networks. Other jobs
    on the same cores slow I3D's two threads most (up to 10x); ``--threads 1`` degrades more
    gracefully. 64 x 64 costs half as much but gave weaker flow features; 112 x 112 costs 40%
    more.
    """

    videos: int = 30
    test_videos: int = 10
    width: int = 96
    height: int = 96
    seconds: tuple[float, float] = (10.24, 14.08)


DEFAULTS = Defaults()

# Plan constants (seconds unless said otherwise).
INSTANCE_COUNTS = (1, 2, 3)
INSTANCE_COUNT_P = (0.3, 0.45, 0.25)
SECOND_CLASS_PROBABILITY = 0.2
MAX_COVERAGE = 0.55  # of a video's duration, instances only
MIN_GAP_S = 1.0  # between two instances' holds
EDGE_GAP_S = 0.4  # before the first / after the last instance's hold
HOLD_PROBABILITY = 0.5  # of standing still before (and, separately, after) an instance
HOLD_S = (0.3, 0.7)
DISTRACTOR_MARGIN_S = 0.2  # from any instance or hold
DISTRACTOR_S = (1.0, 3.5)
DISTRACTOR_MIN_ROOM_S = 1.2
DISTRACTOR_PROBABILITY = 0.75  # per background stretch with room (at least one per video)
# Colours of athletes, walkers, balls and props (plan styles draw from them).
ATHLETE_COLOURS = (
    (220, 40, 40),
    (40, 80, 220),
    (240, 210, 30),
    (245, 245, 245),
    (250, 130, 20),
    (150, 50, 190),
    (20, 170, 170),
)
PROP_COLOURS = ((50, 50, 60), (200, 30, 30), (30, 60, 190), (30, 140, 60))
# Random-stream keys (one independent stream per purpose, per video).
_ASSIGN, _PLAN, SCENE_STREAM, NOISE_STREAM = 11, 22, 33, 44


@dataclass(frozen=True)
class Style:
    """The random look of one instance or distractor (its meaning depends on the kind)."""

    direction: int  # +1: moves right, -1: left
    colour: tuple[int, int, int]  # athlete / walker / ball
    accent: tuple[int, int, int]  # hammer ball, barbell plates
    scale: float
    x: float  # horizontal position or jitter (x width)
    y: float  # vertical jitter (x height)
    rate: float  # run-up strides; hammer turns; somersaults; walker/ball speed; pan distance


class FrameSpan:
    """Frames ``[start, end)`` of a plan item; ``segment`` is its annotation in seconds."""

    start: int
    end: int

    @property
    def segment(self) -> list[float]:
        return [round(self.start / FPS, 2), round(self.end / FPS, 2)]


@dataclass(frozen=True)
class Phase(FrameSpan):
    """One sub-action of an instance: frames ``[start, end)``."""

    name: str
    start: int
    end: int
    shared: bool


@dataclass(frozen=True)
class Instance(FrameSpan):
    """An annotated action, frames ``[start, end)``; ``hold_before``/``hold_after`` frames of
    standing still (background, not annotated) around it."""

    label: str
    start: int
    end: int
    phases: tuple[Phase, Phase]
    style: Style
    hold_before: int
    hold_after: int


@dataclass(frozen=True)
class Distractor(FrameSpan):
    """Background motion, frames ``[start, end)``: ``walker``, ``ball`` or ``pan``."""

    kind: str
    start: int
    end: int
    style: Style


@dataclass(frozen=True)
class VideoPlan:
    """Everything about one video except its pixels (depends on the seed and counts only)."""

    video_id: str
    subset: str
    index: int
    frames: int
    labels: tuple[str, ...]
    instances: tuple[Instance, ...]
    distractors: tuple[Distractor, ...]

    @property
    def duration(self) -> float:
        return round(self.frames / FPS, 2)

    @property
    def subset_index(self) -> int:
        return 0 if self.subset == TRAIN_SUBSET else 1


def stream(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(list(key)))


def check_arguments(
    videos: int,
    test_videos: int,
    seed: int,
    width: int = DEFAULTS.width,
    height: int = DEFAULTS.height,
    seconds: tuple[float, float] = DEFAULTS.seconds,
) -> None:
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise UsageError(f"seed must be a non-negative integer, got {seed!r}")
    if not 0 <= test_videos < videos:
        raise UsageError(f"test videos must be in [0, {videos}), got {test_videos}")
    if videos - test_videos < len(CLASSES):
        raise UsageError(
            f"{videos - test_videos} training videos: at least {len(CLASSES)} needed "
            "(one per class)"
        )
    if width < 32 or height < 32 or width % 2 or height % 2:
        raise UsageError(f"frame size must be even and at least 32x32, got {width}x{height}")
    lo, hi = seconds
    if not 6.0 <= lo <= hi <= 600.0:
        raise UsageError(f"seconds must satisfy 6 <= min <= max <= 600, got {lo}-{hi}")


# ---------------------------------------------------------------------------------------------
# Plans: labels, durations, instances, phases, holds, distractors (no pixels).


def _video_labels(seed: int, subset_index: int, n: int) -> list[tuple[str, ...]]:
    """Primary classes dealt evenly (shuffled); some videos get a second class."""
    rng = stream(seed, _ASSIGN, subset_index)
    primary = [CLASSES[i] for i in rng.permutation(np.resize(np.arange(len(CLASSES)), n))]
    out = []
    for c in primary:
        labels = [c]
        if rng.random() < SECOND_CLASS_PROBABILITY:
            others = [x for x in CLASSES if x != c]
            labels.append(others[int(rng.integers(len(others)))])
        out.append(tuple(sorted(labels, key=CLASSES.index)))
    return out


def _frames(seconds: float) -> int:
    return max(1, round(seconds * FPS))


def _style(rng: np.random.Generator, kind: str) -> Style:
    colour = ATHLETE_COLOURS[int(rng.integers(len(ATHLETE_COLOURS)))]
    accent = PROP_COLOURS[int(rng.integers(len(PROP_COLOURS)))]
    rates = {
        "HighJump": (4, 7),
        "LongJump": (4, 7),
        "HammerThrow": (2.5, 4.0),
        "CleanAndJerk": (0.0, 1.0),
        "Diving": (1.0, 2.0),
        "walker": (0.1, 0.18),
        "ball": (0.2, 0.35),
        "pan": (0.25, 0.45),
    }[kind]
    rate = float(rng.uniform(*rates))
    if kind in ("HighJump", "LongJump"):
        rate = float(round(rate))  # whole strides
    return Style(
        direction=1 if rng.random() < 0.5 else -1,
        colour=colour,
        accent=accent,
        scale=round(float(rng.uniform(0.85, 1.15)), 4),
        x=round(float(rng.uniform(-0.04, 0.04)), 4),
        y=round(float(rng.uniform(-0.03, 0.03)), 4),
        rate=round(rate, 4),
    )


def _plan_video(
    seed: int,
    subset: str,
    subset_index: int,
    index: int,
    labels: tuple[str, ...],
    seconds: tuple[float, float],
) -> VideoPlan:
    rng = stream(seed, _PLAN, subset_index, index)
    lo = math.ceil(seconds[0] * FPS / SEGMENT_FRAMES - 1e-9)
    hi = max(lo, math.floor(seconds[1] * FPS / SEGMENT_FRAMES + 1e-9))
    frames = SEGMENT_FRAMES * int(rng.integers(lo, hi + 1))
    count = max(len(labels), int(rng.choice(INSTANCE_COUNTS, p=INSTANCE_COUNT_P)))
    inst_labels = list(labels)
    inst_labels += [labels[int(rng.integers(len(labels)))] for _ in range(count - len(labels))]
    inst_labels = [inst_labels[i] for i in rng.permutation(len(inst_labels))]
    # Each instance: phase lengths, holds and style (drawn even if dropped below: stable).
    drafts = []
    for c in inst_labels:
        lengths = [_frames(rng.uniform(*PHASE_SECONDS[p])) for p in CLASS_PHASES[c]]
        holds = [
            _frames(rng.uniform(*HOLD_S)) if rng.random() < HOLD_PROBABILITY else 0
            for _ in range(2)
        ]
        drafts.append((c, lengths, holds, _style(rng, c)))

    def room(ds: list) -> int:
        blocks = sum(sum(d[1]) + sum(d[2]) for d in ds)
        gaps = _frames(MIN_GAP_S) * (len(ds) - 1) + 2 * _frames(EDGE_GAP_S)
        return frames - blocks - gaps

    def too_long(ds: list) -> bool:
        return sum(sum(d[1]) for d in ds) > MAX_COVERAGE * frames or room(ds) < 0

    # Too much action for the video: drop repeated-label instances, then second labels.
    while too_long(drafts) and len(drafts) > 1:
        repeated = [i for i, d in enumerate(drafts) if [x[0] for x in drafts].count(d[0]) > 1]
        del drafts[repeated[-1] if repeated else len(drafts) - 1]
    if too_long(drafts):  # one instance, in a short video: no holds, shorter phases
        c, lengths, _, style = drafts[0]
        budget = min(MAX_COVERAGE * frames, frames - 2 * _frames(EDGE_GAP_S))
        lengths = [max(1, int(x * budget / sum(lengths))) for x in lengths]
        drafts = [(c, lengths, [0, 0], style)]
    labels = tuple(sorted({d[0] for d in drafts}, key=CLASSES.index))
    free = room(drafts)
    n = len(drafts)
    extra = np.floor(rng.dirichlet(np.ones(n + 1)) * free).astype(int)
    instances = []
    background = []  # (start, end) stretches free of instances and holds
    pos = _frames(EDGE_GAP_S) + int(extra[0])
    background.append((0, pos))
    for i, (c, lengths, holds, style) in enumerate(drafts):
        start = pos + holds[0]
        split = start + lengths[0]
        end = split + lengths[1]
        first, second = CLASS_PHASES[c]
        phases = (
            Phase(first, start, split, first == SHARED_PHASE),
            Phase(second, split, end, second == SHARED_PHASE),
        )
        instances.append(Instance(c, start, end, phases, style, holds[0], holds[1]))
        after = end + holds[1]
        pos = after + (_frames(MIN_GAP_S) + int(extra[i + 1]) if i + 1 < n else 0)
        background.append((after, pos if i + 1 < n else frames))
    # Distractors: in background stretches with room; at least one per video when possible.
    margin, min_room = _frames(DISTRACTOR_MARGIN_S), _frames(DISTRACTOR_MIN_ROOM_S)
    usable = [(a + margin, b - margin) for a, b in background if b - a - 2 * margin >= min_room]
    draws = rng.random(len(usable))
    if len(usable) and not np.any(draws < DISTRACTOR_PROBABILITY):
        draws[int(np.argmax([b - a for a, b in usable]))] = 0.0
    distractors = []
    for (a, b), u in zip(usable, draws, strict=True):
        kind = DISTRACTORS[int(rng.integers(len(DISTRACTORS)))]
        length = min(b - a, _frames(rng.uniform(*DISTRACTOR_S)))
        start = a + int(rng.integers(b - a - length + 1))
        style = _style(rng, kind)
        if u < DISTRACTOR_PROBABILITY:
            distractors.append(Distractor(kind, start, start + length, style))
    prefix = "video_validation_" if subset == TRAIN_SUBSET else "video_test_"
    return VideoPlan(
        video_id=f"{prefix}{index + 1:07d}",
        subset=subset,
        index=index,
        frames=frames,
        labels=labels,
        instances=tuple(instances),
        distractors=tuple(distractors),
    )


def plan_videos(
    videos: int = DEFAULTS.videos,
    test_videos: int = DEFAULTS.test_videos,
    seed: int = 0,
    seconds: tuple[float, float] = DEFAULTS.seconds,
) -> list[VideoPlan]:
    """Every video's plan: training (``validation``) videos first, then ``test``."""
    check_arguments(videos, test_videos, seed, seconds=seconds)
    plans = []
    for subset_index, (subset, n) in enumerate(
        ((TRAIN_SUBSET, videos - test_videos), (TEST_SUBSET, test_videos))
    ):
        for index, labels in enumerate(_video_labels(seed, subset_index, n)):
            plans.append(_plan_video(seed, subset, subset_index, index, labels, seconds))
    return plans


# ---------------------------------------------------------------------------------------------
# Shapes: what is on screen at one instant, in pixels.
