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

import contextlib
import math
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wtal.data.dataset import Dataset, VideoRecord
from wtal.utils.files import UMASK, write_json

#: Bumped whenever the same arguments would give different data.
GENERATOR_VERSION = 1

FPS = 25
SEGMENT_FRAMES = 16
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

# Drawing constants: x in frame widths, y in frame heights, sizes in S = min(width, height).
GROUND_Y = 0.74  # athlete's body centre when standing
FLOOR_Y = 0.86  # where things rest on the ground
BODY_HALF = (0.055, 0.12)  # body ellipse half-axes (x S)
HEAD_RADIUS = 0.045
SKIN = (232, 190, 160)
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
SCENE_COLOURS = (
    (90, 120, 80),
    (110, 100, 80),
    (80, 100, 130),
    (120, 120, 115),
    (70, 90, 60),
    (130, 110, 90),
    (95, 110, 140),
    (60, 75, 95),
)
TEXTURE_AMP = (7.0, 14.0)  # fine / coarse smooth noise, grey levels (std)
BOARD_WIDTH = (0.05, 0.15)  # billboards along the horizon (x width)
BOARD_HEIGHT = 0.12  # x height
BOARD_AMP = 30.0  # grey levels
SENSOR_NOISE = 2.0  # grey levels, Gaussian, every pixel of every frame
PAN_MARGIN = 0.5  # texture extends this much (x width) on each side for pans
WATER = (150, 200, 245)

# Random-stream keys (one independent stream per purpose, per video).
_ASSIGN, _PLAN, _SCENE, _NOISE = 11, 22, 33, 44


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


def _rng(*key: int) -> np.random.Generator:
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
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not 0 <= test_videos < videos:
        raise ValueError(f"test videos must be in [0, {videos}), got {test_videos}")
    if videos - test_videos < len(CLASSES):
        raise ValueError(
            f"{videos - test_videos} training videos: at least {len(CLASSES)} needed "
            "(one per class)"
        )
    if width < 32 or height < 32 or width % 2 or height % 2:
        raise ValueError(f"frame size must be even and at least 32x32, got {width}x{height}")
    lo, hi = seconds
    if not 6.0 <= lo <= hi <= 600.0:
        raise ValueError(f"seconds must satisfy 6 <= min <= max <= 600, got {lo}-{hi}")


# ---------------------------------------------------------------------------------------------
# Plans: labels, durations, instances, phases, holds, distractors (no pixels).


def _video_labels(seed: int, subset_index: int, n: int) -> list[tuple[str, ...]]:
    """Primary classes dealt evenly (shuffled); some videos get a second class."""
    rng = _rng(seed, _ASSIGN, subset_index)
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
    rng = _rng(seed, _PLAN, subset_index, index)
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


@dataclass(frozen=True)
class Shape:
    """``ellipse``: centre, half-axes ``(a, b)``, angle (radians); ``segment``: two end points
    and a half width (in ``a``); ``ring``: an elliptic ring, half-axes and half width ``w``."""

    kind: str
    x: float
    y: float
    a: float
    b: float
    angle: float
    colour: tuple[int, int, int]
    opacity: float = 1.0
    x2: float = 0.0
    y2: float = 0.0
    w: float = 0.0


def _smoothstep(u: float) -> float:
    u = min(max(u, 0.0), 1.0)
    return u * u * (3.0 - 2.0 * u)


class _Canvas:
    """Normalised coordinates -> pixels."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.s = float(min(width, height))

    def athlete(
        self,
        x: float,
        y: float,
        style: Style,
        angle: float = 0.0,
        squash: float = 1.0,
        narrow: float = 1.0,
        colour: tuple[int, int, int] | None = None,
    ) -> list[Shape]:
        """Body ellipse centred at (x W, y H) plus head, rotated by ``angle``."""
        s = self.s * style.scale
        a, b = BODY_HALF[0] * s * narrow, BODY_HALF[1] * s * squash
        r = HEAD_RADIUS * s
        cx, cy = x * self.width, y * self.height
        hx = cx + math.sin(angle) * (b + 0.8 * r)
        hy = cy - math.cos(angle) * (b + 0.8 * r)
        body = Shape("ellipse", cx, cy, a, b, angle, colour or style.colour)
        return [body, Shape("ellipse", hx, hy, r, r, 0.0, SKIN)]

    def ball(self, x: float, y: float, radius: float, colour: tuple[int, int, int]) -> Shape:
        r = radius * self.s
        return Shape("ellipse", x * self.width, y * self.height, r, r, 0.0, colour)

    def segment(
        self,
        x: float,
        y: float,
        x2: float,
        y2: float,
        colour: tuple[int, int, int],
        half_width: float = 0.7,
    ) -> Shape:
        w, h = self.width, self.height
        return Shape("segment", x * w, y * h, half_width, 0.0, 0.0, colour, x2=x2 * w, y2=y2 * h)


def _run_up(c: _Canvas, p: float, st: Style) -> tuple[list[Shape], float, float]:
    """The shared sub-action; also returns where it ends (x, y)."""
    d = st.direction
    x0 = 0.5 - d * 0.38 + st.x
    x = x0 + d * 0.34 * p
    y = GROUND_Y + st.y - 0.025 * abs(math.sin(math.pi * st.rate * p))
    return c.athlete(x, y, st, angle=d * math.radians(12)), x0 + d * 0.34, GROUND_Y + st.y


def _high_jump(c: _Canvas, p: float, st: Style) -> list[Shape]:
    _, x1, y1 = _run_up(c, 1.0, st)
    d = st.direction
    x = x1 + d * 0.1 * p
    y = y1 + 0.06 * _smoothstep(p) - 0.42 * math.sin(math.pi * p)
    angle = -d * math.radians(90) * _smoothstep(p / 0.5)
    return c.athlete(x, y, st, angle=angle)


def _long_jump(c: _Canvas, p: float, st: Style) -> list[Shape]:
    _, x1, y1 = _run_up(c, 1.0, st)
    d = st.direction
    q = min(p / 0.7, 1.0)
    land = _smoothstep((p - 0.7) / 0.3)
    x = x1 + d * (0.3 * q + 0.04 * land)
    squash = 1.0 - 0.4 * land
    y = y1 - 0.13 * math.sin(math.pi * q) + (1.0 - squash) * BODY_HALF[1] * c.s / c.height
    shapes = []
    if p > 0.7:
        puff = (p - 0.7) / 0.3
        sand = c.ball(x1 + d * 0.3, FLOOR_Y, 0.02 + 0.07 * puff, (200, 170, 110))
        shapes.append(
            Shape("ellipse", sand.x, sand.y, sand.a, sand.a * 0.5, 0.0, sand.colour, 1.0 - puff)
        )
    return shapes + c.athlete(
        x, y, st, angle=d * math.radians(25) * math.sin(math.pi * q), squash=squash
    )


def _hammer_angle(p: float, st: Style) -> float:
    return 2 * math.pi * st.direction * st.rate * (p + 0.5 * p * p) / 1.5


def _hammer_throw(c: _Canvas, phase: int, p: float, st: Style) -> list[Shape]:
    cx, cy = 0.5 + st.x, GROUND_Y + st.y
    radius = 0.26 * c.s
    ox, oy = cx * c.width, cy * c.height - 0.02 * c.s
    if phase == 0:
        phi = _hammer_angle(p, st)
        bx, by = ox + radius * math.cos(phi), oy + 0.45 * radius * math.sin(phi)
        body = c.athlete(cx, cy, st, narrow=0.5 + 0.5 * abs(math.cos(phi)))
        wire = Shape("segment", ox, oy, 0.6, 0.0, 0.0, (40, 40, 40), x2=bx, y2=by)
        ball = Shape("ellipse", bx, by, 0.045 * c.s, 0.045 * c.s, 0.0, st.accent)
        return [wire, *body, ball]
    phi = _hammer_angle(1.0, st)
    bx, by = ox + radius * math.cos(phi), oy + 0.45 * radius * math.sin(phi)
    tx, ty = -math.sin(phi) * st.direction, 0.45 * math.cos(phi) * st.direction
    norm = math.hypot(tx, ty)
    travel = 0.7 * c.s * p
    bx, by = bx + tx / norm * travel, by + ty / norm * travel + 0.2 * c.s * p * p
    slow = _hammer_angle(1.0, st) + st.direction * 2 * math.pi * p  # one more turn
    body = c.athlete(cx, cy, st, narrow=0.5 + 0.5 * abs(math.cos(slow)))
    r = 0.045 * c.s * (1.0 - 0.5 * p)
    return [*body, Shape("ellipse", bx, by, r, r, 0.0, st.accent)]


def _clean_and_jerk(c: _Canvas, phase: int, p: float, st: Style) -> list[Shape]:
    cx = 0.5 + st.x
    floor, shoulder, overhead = FLOOR_Y, 0.62, 0.40
    squash = 1.0
    if phase == 0:
        rise = _smoothstep((p - 0.15) / 0.45)
        bar = floor + (shoulder - floor) * rise
        squash = 1.0 - 0.3 * math.sin(math.pi * min(p / 0.8, 1.0))  # bend, grab, stand up
    elif p < 0.2:
        bar = shoulder + 0.03 * math.sin(math.pi * p / 0.2)
        squash = 1.0 - 0.1 * math.sin(math.pi * p / 0.2)
    elif p < 0.5:
        bar = shoulder + (overhead - shoulder) * _smoothstep((p - 0.2) / 0.3)
    elif p < 0.8:
        bar = overhead + 0.015 * math.sin(2 * math.pi * (p - 0.5) / 0.15)  # a shaky hold
    else:
        fall = ((p - 0.8) / 0.2) ** 2
        bar = overhead + (floor - overhead) * min(fall, 1.0)
    y = GROUND_Y + st.y + (1.0 - squash) * BODY_HALF[1] * c.s * st.scale / c.height
    half = 0.3
    plate = 0.028 * c.s, 0.09 * c.s
    shapes = c.athlete(cx, y, st, squash=squash)
    shapes.append(c.segment(cx - half, bar + st.y, cx + half, bar + st.y, (210, 210, 210), 0.9))
    for end in (-1, 1):
        px, py = (cx + end * half) * c.width, (bar + st.y) * c.height
        shapes.append(Shape("ellipse", px, py, plate[0], plate[1], 0.0, st.accent))
    return shapes


def _diving(c: _Canvas, phase: int, p: float, st: Style) -> list[Shape]:
    x0 = 0.5 + 3 * st.x
    water = 0.76
    if phase == 0:
        y = 0.14 + (water - 0.14) * p * p
        x = x0 + st.direction * 0.06 * p
        angle = st.direction * 2 * math.pi * st.rate * p
        tuck = 1.0 - 0.35 * math.sin(math.pi * p)
        return c.athlete(x, y, st, angle=angle, squash=tuck)
    x = (x0 + st.direction * 0.06) * c.width
    y = water * c.height
    shapes = []
    for i in range(2):
        q = max(0.0, p - 0.25 * i) / (1.0 - 0.25 * i)
        if q <= 0.0:
            continue
        rx = 0.34 * c.s * q
        shapes.append(Shape("ring", x, y, rx, 0.3 * rx, 0.0, WATER, 1.0 - q, w=1.0))
    height = 0.24 * c.s * abs(math.sin(3 * math.pi * p)) * (1.0 - 0.6 * p)
    if height > 0.5:
        column = Shape("ellipse", x, y - height / 2, 0.035 * c.s, height / 2, 0.0, (240, 245, 255))
        shapes.append(column)
    return shapes


def instance_shapes(
    label: str, phase: int, p: float, style: Style, width: int, height: int
) -> list[Shape]:
    """What ``label``'s phase ``phase`` (0 or 1) draws at progress ``p`` in [0, 1]."""
    c = _Canvas(width, height)
    if label in ("HighJump", "LongJump"):
        if phase == 0:
            return _run_up(c, p, style)[0]
        return _high_jump(c, p, style) if label == "HighJump" else _long_jump(c, p, style)
    if label == "HammerThrow":
        return _hammer_throw(c, phase, p, style)
    if label == "CleanAndJerk":
        return _clean_and_jerk(c, phase, p, style)
    if label == "Diving":
        return _diving(c, phase, p, style)
    raise ValueError(f"unknown class {label!r}")


def distractor_shapes(
    kind: str, p: float, seconds: float, style: Style, width: int, height: int
) -> list[Shape]:
    """A walker or a ball, ``p`` in [0, 1] through a distractor lasting ``seconds``."""
    c = _Canvas(width, height)
    travel = style.direction * style.rate * seconds * p  # rate: frame widths per second
    if kind == "walker":
        start = 0.5 - style.direction * 0.3 + 3 * style.x
        y = GROUND_Y - 0.06 + style.y - 0.012 * abs(math.sin(2 * math.pi * seconds * p))
        return c.athlete(start + travel, y, style)
    if kind == "ball":
        start = 0.5 - style.direction * 0.4 + style.x
        hop = abs(math.sin(math.pi * 1.6 * seconds * p))
        y = FLOOR_Y - 0.03 - 0.22 * (1.0 - 0.5 * p) * hop
        return [c.ball(start + travel, y, 0.03, style.colour)]
    return []


# ---------------------------------------------------------------------------------------------
# Pixels.


def _draw(frame: np.ndarray, shape: Shape) -> None:
    """Alpha-blend one anti-aliased shape into ``frame`` (float32, H x W x 3) in place."""
    h, w = frame.shape[:2]
    if shape.kind == "segment":
        pad = shape.a + 1.5
        x0, x1 = min(shape.x, shape.x2) - pad, max(shape.x, shape.x2) + pad
        y0, y1 = min(shape.y, shape.y2) - pad, max(shape.y, shape.y2) + pad
    else:
        reach = max(shape.a, shape.b) + shape.w + 1.5
        x0, x1, y0, y1 = shape.x - reach, shape.x + reach, shape.y - reach, shape.y + reach
    c0, c1 = max(0, math.floor(x0)), min(w, math.ceil(x1) + 1)
    r0, r1 = max(0, math.floor(y0)), min(h, math.ceil(y1) + 1)
    if c0 >= c1 or r0 >= r1 or shape.opacity <= 0:
        return
    # Pixel centres at integer + 0.5.
    dx = (np.arange(c0, c1, dtype=np.float32) + 0.5 - shape.x)[None, :]
    dy = (np.arange(r0, r1, dtype=np.float32) + 0.5 - shape.y)[:, None]
    if shape.kind == "segment":
        vx, vy = shape.x2 - shape.x, shape.y2 - shape.y
        length2 = max(vx * vx + vy * vy, 1e-9)
        t = np.clip((dx * vx + dy * vy) / length2, 0.0, 1.0)
        dist = np.hypot(dx - t * vx, dy - t * vy)
        alpha = np.clip(shape.a + 0.5 - dist, 0.0, 1.0)
    else:
        cos, sin = math.cos(shape.angle), math.sin(shape.angle)
        u = dx * cos + dy * sin
        v = -dx * sin + dy * cos
        a, b = max(shape.a, 0.5), max(shape.b, 0.5)
        r = np.sqrt((u / a) ** 2 + (v / b) ** 2)
        if shape.kind == "ring":
            dist = np.abs(r - 1.0) * 0.5 * (a + b)
            alpha = np.clip(shape.w + 0.5 - dist, 0.0, 1.0)
        else:
            alpha = np.clip(0.5 + (1.0 - r) * min(a, b), 0.0, 1.0)
    alpha = (alpha * shape.opacity).astype(np.float32)[..., None]
    region = frame[r0:r1, c0:c1]
    region += alpha * (np.asarray(shape.colour, dtype=np.float32) - region)


def _scene(plan: VideoPlan, seed: int, width: int, height: int) -> np.ndarray:
    """The video's background texture, wider than the frame by ``PAN_MARGIN`` each side."""
    import cv2  # OpenCV loads to render only: the workflow's DAG build plans without it

    rng = _rng(seed, _SCENE, plan.subset_index, plan.index)
    margin = round(PAN_MARGIN * width)
    full = width + 2 * margin
    picks = rng.choice(len(SCENE_COLOURS), 2, replace=False)
    sky, ground = (np.asarray(SCENE_COLOURS[i], np.float32) for i in picks)
    horizon = float(rng.uniform(0.35, 0.5))
    rows = (np.arange(height, dtype=np.float32) + 0.5) / height
    mix = np.clip((rows - horizon) / 0.06 + 0.5, 0.0, 1.0)[:, None, None]
    base = np.broadcast_to(sky * (1 - mix) + ground * mix, (height, full, 3)).copy()
    for amp, cell in zip(TEXTURE_AMP, (4, 16), strict=True):
        small = rng.standard_normal(
            (max(2, height // cell + 2), max(2, full // cell + 2), 3)
        ).astype(np.float32)
        grey = small.mean(axis=2, keepdims=True)
        small = 0.85 * grey + 0.15 * small  # mostly luminance, a little colour
        up = cv2.resize(small, (full, height), interpolation=cv2.INTER_CUBIC)
        base += amp * up / max(float(up.std()), 1e-6)
    # Billboards along the horizon: sharp vertical edges, so that a pan is plain to see.
    columns = np.zeros((full, 3), np.float32)
    x = 0
    while x < full:
        step = max(2, round(rng.uniform(*BOARD_WIDTH) * width))
        columns[x : x + step] = rng.uniform(-BOARD_AMP, BOARD_AMP) + rng.uniform(-8, 8, 3)
        x += step
    top = max(0, round((horizon - BOARD_HEIGHT) * height))
    base[top : round(horizon * height)] += columns[None]
    return base


def _pan_offsets(plan: VideoPlan, width: int) -> np.ndarray:
    """Per frame, the camera's horizontal offset into the texture (pixels)."""
    offsets = np.zeros(plan.frames, dtype=np.float64)
    limit = PAN_MARGIN * width - 1.0
    current = 0.0
    for d in plan.distractors:
        if d.kind != "pan":
            continue
        distance = d.style.rate * width * d.style.direction
        if abs(current + distance) > limit:
            distance = -distance
        n = d.end - d.start
        ramp = np.array([_smoothstep((i + 1) / n) for i in range(n)])
        offsets[d.start : d.end] = current + distance * ramp
        current += distance
        offsets[d.end :] = current
    return offsets


def _shift(texture: np.ndarray, offset: float, margin: int, width: int) -> np.ndarray:
    """The ``width``-wide window of the texture at sub-pixel ``offset``."""
    left = margin + offset
    i = math.floor(left)
    frac = np.float32(left - i)
    a = texture[:, i : i + width]
    if frac == 0:
        return a.copy()
    b = texture[:, i + 1 : i + 1 + width]
    return a + frac * (b - a)


def _frame_shapes(plan: VideoPlan, f: int, width: int, height: int) -> list[Shape]:
    shapes: list[Shape] = []
    for x in plan.instances:
        if x.start - x.hold_before <= f < x.end + x.hold_after:
            if f < x.start:
                phase, p = 0, 0.0
            elif f >= x.end:
                phase, p = 1, 1.0
            else:
                phase = 0 if f < x.phases[1].start else 1
                ph = x.phases[phase]
                p = (f - ph.start) / (ph.end - ph.start)
            shapes += instance_shapes(x.label, phase, p, x.style, width, height)
    for d in plan.distractors:
        if d.start <= f < d.end and d.kind != "pan":
            n = d.end - d.start
            shapes += distractor_shapes(d.kind, (f - d.start) / n, n / FPS, d.style, width, height)
    return shapes


def render_frames(
    plan: VideoPlan, seed: int, width: int = DEFAULTS.width, height: int = DEFAULTS.height
) -> Iterator[np.ndarray]:
    """The video's frames, ``(height, width, 3)`` uint8 RGB, one at a time."""
    texture = _scene(plan, seed, width, height)
    margin = round(PAN_MARGIN * width)
    offsets = _pan_offsets(plan, width)
    noise = _rng(seed, _NOISE, plan.subset_index, plan.index)
    for f in range(plan.frames):
        frame = _shift(texture, float(offsets[f]), margin, width)
        for shape in _frame_shapes(plan, f, width, height):
            _draw(frame, shape)
        frame += noise.standard_normal(frame.shape, dtype=np.float32) * np.float32(SENSOR_NOISE)
        yield np.clip(np.rint(frame), 0, 255).astype(np.uint8)


@contextlib.contextmanager
def _atomic_path(path: Path) -> Iterator[Path]:
    """A temporary name beside ``path`` (same suffix, for the muxer); renamed on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp's 0o600 -> what open() would give
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_video(
    path: str | os.PathLike[str], frames: Iterator[np.ndarray] | Sequence[np.ndarray]
) -> int:
    """Write RGB uint8 frames as an ``mp4v`` ``.mp4`` at 25 fps, atomically; returns the count."""
    import cv2

    target = Path(path)
    count = 0
    with _atomic_path(target) as tmp:
        writer: Any = None
        try:
            for frame in frames:
                if writer is None:
                    h, w = frame.shape[:2]
                    fourcc = cv2.VideoWriter_fourcc(*FOURCC)
                    writer = cv2.VideoWriter(str(tmp), fourcc, float(FPS), (w, h))
                    if not writer.isOpened():
                        raise RuntimeError(f"OpenCV cannot write {FOURCC} video to {target}")
                writer.write(np.ascontiguousarray(frame[..., ::-1]))
                count += 1
        finally:
            if writer is not None:
                writer.release()
        if count == 0:
            raise ValueError(f"{target}: no frames to write")
    return count


# ---------------------------------------------------------------------------------------------
# Annotations and the whole dataset.


def _record(plan: VideoPlan) -> VideoRecord:
    return VideoRecord(
        video_id=plan.video_id,
        subset=plan.subset,
        duration=plan.duration,
        labels=plan.labels,
        segments=np.array([x.segment for x in plan.instances], dtype=np.float64).reshape(-1, 2),
        segment_labels=tuple(x.label for x in plan.instances),
    )


def dataset_name(seed: int) -> str:
    return f"demo-videos-seed{seed}"


def make_dataset(
    videos: int = DEFAULTS.videos,
    test_videos: int = DEFAULTS.test_videos,
    seed: int = 0,
    seconds: tuple[float, float] = DEFAULTS.seconds,
) -> Dataset:
    """The annotations in memory (no features, nothing written)."""
    plans = plan_videos(videos, test_videos, seed, seconds)
    return Dataset(
        name=dataset_name(seed), classes=CLASSES, videos=tuple(_record(p) for p in plans)
    )


def generator_info(
    videos: int, test_videos: int, seed: int, width: int, height: int, seconds: tuple[float, float]
) -> dict[str, Any]:
    return {
        "name": "wtal.data.demo_videos",
        "version": GENERATOR_VERSION,
        "seed": int(seed),
        "videos": int(videos),
        "train_videos": int(videos - test_videos),
        "test_videos": int(test_videos),
        "width": int(width),
        "height": int(height),
        "seconds": [float(seconds[0]), float(seconds[1])],
        "fps": FPS,
        "codec": FOURCC,
        "phases": {c: list(p) for c, p in CLASS_PHASES.items()},
        "shared_phase": {SHARED_PHASE: [c for c, p in CLASS_PHASES.items() if SHARED_PHASE in p]},
    }


def annotations_json(plans: Sequence[VideoPlan], info: dict[str, Any]) -> dict[str, Any]:
    """The project's ActivityNet JSON, with ``phases`` per annotation, the video's
    ``distractors`` and its file (``video``) per entry, and ``generator`` at the top."""
    dataset = Dataset(
        name=dataset_name(info["seed"]), classes=CLASSES, videos=tuple(_record(p) for p in plans)
    )
    data = dataset.to_activitynet()
    for plan in plans:
        entry = data["database"][plan.video_id]
        for annotation, x in zip(entry["annotations"], plan.instances, strict=True):
            annotation["phases"] = [
                {"name": p.name, "segment": p.segment, "shared": p.shared} for p in x.phases
            ]
        entry["distractors"] = [{"kind": d.kind, "segment": d.segment} for d in plan.distractors]
        entry["video"] = {
            "file": f"videos/{plan.video_id}.mp4",
            "frames": plan.frames,
            "fps": FPS,
            "width": info["width"],
            "height": info["height"],
        }
    data["generator"] = info
    return data


def generate(
    output_dir: str | os.PathLike[str],
    videos: int = DEFAULTS.videos,
    test_videos: int = DEFAULTS.test_videos,
    seed: int = 0,
    width: int = DEFAULTS.width,
    height: int = DEFAULTS.height,
    seconds: tuple[float, float] = DEFAULTS.seconds,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write ``videos/<video_id>.mp4`` and then ``annotations.json``; returns the JSON's path.

    Videos are rendered and encoded one at a time, each written atomically; the annotation
    file is written last, so an interrupted run never leaves a complete-looking dataset.
    Demo videos of an earlier, larger run (``video_{validation,test}_*.mp4`` not in this
    plan) are deleted, so that ``wtal extract DIR/videos`` sees this dataset only.
    """
    check_arguments(videos, test_videos, seed, width, height, seconds)
    out = Path(output_dir)
    plans = plan_videos(videos, test_videos, seed, seconds)
    wanted = {f"{plan.video_id}.mp4" for plan in plans}
    for pattern in ("video_validation_*.mp4", "video_test_*.mp4"):
        for stale in sorted((out / "videos").glob(pattern)):
            if stale.name not in wanted:
                stale.unlink()
    for i, plan in enumerate(plans):
        path = out / "videos" / f"{plan.video_id}.mp4"
        written = write_video(path, render_frames(plan, seed, width, height))
        if written != plan.frames:
            raise RuntimeError(f"{path}: wrote {written} frames, planned {plan.frames}")
        if progress is not None:
            progress(i + 1, len(plans))
    path = out / "annotations.json"
    write_json(
        path,
        annotations_json(plans, generator_info(videos, test_videos, seed, width, height, seconds)),
    )
    return path
