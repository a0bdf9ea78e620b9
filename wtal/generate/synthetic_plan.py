"""A seeded, THUMOS14-shaped synthetic *feature* dataset, for training and testing on a CPU.

What it models (every number is a constant below; all of it is synthetic, nothing is measured
from real videos, and the THUMOS-like counts and lengths are approximations, not statistics):

- **Videos and labels.** THUMOS14's 20 class names and subsets (``validation`` = train, ``test``).
  Each video has one primary class (classes are dealt out evenly); cricket videos usually hold
  both cricket classes (as in THUMOS14) and a few others a second class from the same venue, so
  ~12% of videos have two labels (~24% in ``tiny``, where the cricket pair is 2 of 8 classes).
  Time base: one segment = 16 frames at 25 fps = 0.64 s; ``T`` segments last ``T x 0.64`` s.
- **Instances.** Per-class mean counts and median lengths (e.g. CricketShot ~1.4 s,
  CleanAndJerk ~9 s), counts ``1 + negative binomial``, lengths log-normal; instances never
  overlap, are at least one segment apart, cover at most 60% of a video and are annotated to
  0.1 s. Each instance is two **phases** (sub-actions). HighJump, LongJump and PoleVault share
  the *run-up* phase; HammerThrow, ThrowDiscus and Shotput share the *spin* phase: a shared
  phase carries almost no class evidence (``synthetic_features.SHARED_CLASS_WEIGHT``), so a
  model that only finds the discriminative part localises these classes incompletely.
- **Features** (:mod:`wtal.generate.synthetic_features`) ``(T, D)`` float32, first half
  "RGB", second half "flow":
  RGB = action appearance (per phase) + the shot's scene; a video is a sequence of shots whose
  scene is either its venue (a context vector correlated with the class: the athletics stadium,
  the pool, the cricket ground, ... plus a class-specific part) or a generic scene (crowd,
  studio, graphics). Shots that contain an action are always venue shots. So context carries
  class evidence outside the instances and over-complete localisation happens.
  Flow = action motion (per phase) + occasional camera-motion distractors on background shots;
  otherwise near zero-mean. Everywhere: temporally correlated low-rank nuisance (AR(1)) and white
  Gaussian noise. Action weights are the exact overlap of each phase with each segment,
  smoothed by a 3-segment kernel (I3D's receptive field is wider than one segment), so
  boundaries ramp. Each instance has its own style (a perturbed prototype) and strength.
- **Scale.** Amplitudes do not depend on ``D`` (noise is ``NOISE_NORM / sqrt(D)`` per
  channel), so the per-segment L2 norm of the joint feature is ~10 at any ``D`` (background
  ~9.5, inside actions ~11), like real I3D joint features (docs/method.md §8).
  Features are not non-negative: the signal is not a ReLU'd average.

Reproducibility: the "world" (every prototype) depends on ``(seed, feature_dim)``; the video
plans (labels, durations, instances, phases) depend on ``(seed, size)`` only, so the
annotations of a size are the same for every ``D``; each video has its own random streams, so
the same arguments give byte-identical files (with the same numpy, on the same platform).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Bumped whenever the same arguments would give different data.
from wtal.data.dataset import SEGMENT_SECONDS
from wtal.errors import UsageError

#: Bumped whenever the same arguments would give different data.
GENERATOR_VERSION = 1

THUMOS14_CLASSES = (
    "BaseballPitch",
    "BasketballDunk",
    "Billiards",
    "CleanAndJerk",
    "CliffDiving",
    "CricketBowling",
    "CricketShot",
    "Diving",
    "FrisbeeCatch",
    "GolfSwing",
    "HammerThrow",
    "HighJump",
    "JavelinThrow",
    "LongJump",
    "PoleVault",
    "Shotput",
    "SoccerPenalty",
    "TennisSwing",
    "ThrowDiscus",
    "VolleyballSpiking",
)
TRAIN_SUBSET = "validation"
TEST_SUBSET = "test"

#: class -> (mean instances per video, median instance length in seconds); THUMOS-like guesses.
CLASS_INSTANCES: dict[str, tuple[float, float]] = {
    "BaseballPitch": (12, 2.6),
    "BasketballDunk": (15, 1.9),
    "Billiards": (19, 1.7),
    "CleanAndJerk": (8, 9.0),
    "CliffDiving": (10, 3.4),
    "CricketBowling": (18, 1.6),
    "CricketShot": (18, 1.4),
    "Diving": (20, 2.6),
    "FrisbeeCatch": (11, 1.6),
    "GolfSwing": (12, 2.9),
    "HammerThrow": (16, 6.0),
    "HighJump": (20, 5.0),
    "JavelinThrow": (16, 4.8),
    "LongJump": (19, 6.2),
    "PoleVault": (16, 7.2),
    "Shotput": (19, 5.0),
    "SoccerPenalty": (12, 3.1),
    "TennisSwing": (22, 1.8),
    "ThrowDiscus": (16, 5.4),
    "VolleyballSpiking": (20, 1.8),
}

#: Venues: the context scene of each class is its venue's vector plus a class-specific part.
VENUES: dict[str, tuple[str, ...]] = {
    "stadium": (
        "HammerThrow",
        "HighJump",
        "JavelinThrow",
        "LongJump",
        "PoleVault",
        "Shotput",
        "ThrowDiscus",
    ),
    "cricket-ground": ("CricketBowling", "CricketShot"),
    "water": ("CliffDiving", "Diving"),
    "gym": ("BasketballDunk", "CleanAndJerk", "VolleyballSpiking"),
    "field": ("BaseballPitch", "FrisbeeCatch", "GolfSwing", "SoccerPenalty"),
    "court": ("TennisSwing",),
    "hall": ("Billiards",),
}
#: Appearance families: related classes' action prototypes are mildly correlated.
FAMILIES: dict[str, tuple[str, ...]] = {
    "jumps": ("HighJump", "LongJump", "PoleVault"),
    "throws": ("HammerThrow", "JavelinThrow", "Shotput", "ThrowDiscus"),
    "cricket": ("CricketBowling", "CricketShot"),
    "diving": ("CliffDiving", "Diving"),
    "ball": ("BaseballPitch", "BasketballDunk", "SoccerPenalty", "VolleyballSpiking"),
    "swing": ("GolfSwing", "TennisSwing"),
    "other": ("Billiards", "CleanAndJerk", "FrisbeeCatch"),
}
#: class -> (first phase, second phase, mean fraction of the instance in the first phase).
#: Phases named in SHARED_PHASES are the same sub-action for every class that has them.
CLASS_PHASES: dict[str, tuple[str, str, float]] = {
    "HighJump": ("run-up", "jump", 0.55),
    "LongJump": ("run-up", "jump", 0.6),
    "PoleVault": ("run-up", "vault", 0.5),
    "HammerThrow": ("spin", "release", 0.6),
    "ThrowDiscus": ("spin", "release", 0.55),
    "Shotput": ("spin", "put", 0.5),
}
DEFAULT_PHASES = ("prepare", "execute", 0.4)
SHARED_PHASES = ("run-up", "spin")
#: The pairs that usually come together (THUMOS14's cricket videos hold both classes).
PAIRED_CLASSES = (("CricketBowling", "CricketShot"),)
PAIR_PROBABILITY = 0.75
#: Chance that another video also holds a second class from its venue.
SECOND_CLASS_PROBABILITY = 0.06

# Shots (seconds, probabilities).
VENUE_SHOT_PROBABILITY = 0.6
SHOT_MEDIAN_S = 6.0
CAMERA_PROBABILITY = 0.25  # of a background shot having camera motion
MAX_COVERAGE = 0.6
MIN_GAP_S = 0.7  # at least one segment (0.64 s), in the 0.1 s annotation grid
LENGTH_SIGMA = 0.4
LENGTH_RANGE_S = (0.8, 30.0)
COUNT_DISPERSION = 2.0

# Random-stream keys (one independent stream per purpose, per video).
WORLD_STREAM, _ASSIGN, _PLAN, RENDER_STREAM = 101, 202, 303, 404


@dataclass(frozen=True)
class SizeSpec:
    """How many videos of which classes, and how long."""

    classes: tuple[str, ...]
    train_videos: int
    test_videos: int
    segments_median: float
    segments_sigma: float
    segments_range: tuple[int, int]
    count_scale: float  # x the classes' mean instance counts (short videos hold fewer)


#: tiny: the 8 classes of the two shared-phase families plus the cricket pair (multi-label),
#: 40 + 40 videos of 60-200 segments (38-128 s); small: all 20 classes, 100 + 100 videos of
#: 100-600 segments; thumos: THUMOS14's 200 + 212 videos, median 190 s, 30 s to 26 min.
SIZES: dict[str, SizeSpec] = {
    "tiny": SizeSpec(
        classes=tuple(
            c
            for c in THUMOS14_CLASSES
            if c in CLASS_PHASES or c in ("CricketBowling", "CricketShot")
        ),
        train_videos=40,
        test_videos=40,
        segments_median=120,
        segments_sigma=0.4,
        segments_range=(60, 200),
        count_scale=0.4,
    ),
    "small": SizeSpec(
        classes=THUMOS14_CLASSES,
        train_videos=100,
        test_videos=100,
        segments_median=250,
        segments_sigma=0.5,
        segments_range=(100, 600),
        count_scale=0.9,
    ),
    "thumos": SizeSpec(
        classes=THUMOS14_CLASSES,
        train_videos=200,
        test_videos=212,
        segments_median=300,
        segments_sigma=0.65,
        segments_range=(47, 2440),
        count_scale=1.1,
    ),
}


@dataclass(frozen=True)
class Phase:
    """One sub-action of an instance (seconds)."""

    name: str
    start: float
    end: float
    shared: bool


@dataclass(frozen=True)
class Instance:
    label: str
    start: float
    end: float
    phases: tuple[Phase, Phase]


@dataclass(frozen=True)
class VideoPlan:
    """Everything about one video except its features (depends on seed and size only)."""

    video_id: str
    subset: str
    index: int
    num_segments: int
    labels: tuple[str, ...]
    instances: tuple[Instance, ...]
    shots: tuple[tuple[float, float, str], ...]  # (start s, end s, venue class or "generic")
    camera: tuple[bool, ...]  # per shot: camera motion distractor

    @property
    def duration(self) -> float:
        return round(self.num_segments * SEGMENT_SECONDS, 2)


def stream(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(list(key)))


def check_arguments(size: str, seed: int, feature_dim: int) -> SizeSpec:
    if size not in SIZES:
        raise UsageError(f"unknown size {size!r} (one of {', '.join(SIZES)})")
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise UsageError(f"seed must be a non-negative integer, got {seed!r}")
    if feature_dim < 8 or feature_dim % 2:
        raise UsageError(f"feature_dim must be even and at least 8, got {feature_dim}")
    return SIZES[size]


# ---------------------------------------------------------------------------------------------
# Plans: labels, durations, instances, phases, shots.


def _video_labels(spec: SizeSpec, seed: int, subset_index: int, n: int) -> list[tuple[str, ...]]:
    rng = stream(seed, _ASSIGN, subset_index)
    classes = list(spec.classes)
    primary = [classes[i] for i in rng.permutation(np.resize(np.arange(len(classes)), n))]
    venue_of = {c: v for v, members in VENUES.items() for c in members}
    partner = {a: b for pair in PAIRED_CLASSES for a, b in (pair, pair[::-1])}
    out = []
    for c in primary:
        labels = [c]
        u = rng.random()
        if c in partner and partner[c] in classes:
            if u < PAIR_PROBABILITY:
                labels.append(partner[c])
        elif u < SECOND_CLASS_PROBABILITY:
            mates = [m for m in classes if m != c and venue_of[m] == venue_of[c]]
            mates = [m for m in mates if m not in partner]
            if mates:
                labels.append(mates[int(rng.integers(len(mates)))])
        out.append(tuple(sorted(labels, key=THUMOS14_CLASSES.index)))
    return out


def _count(rng: np.random.Generator, mean: float) -> int:
    extra = max(mean - 1.0, 0.0)
    if extra == 0:
        return 1
    p = COUNT_DISPERSION / (COUNT_DISPERSION + extra)
    return 1 + int(rng.negative_binomial(COUNT_DISPERSION, p))


def _plan_video(
    spec: SizeSpec, seed: int, subset: str, subset_index: int, index: int, labels: tuple[str, ...]
) -> VideoPlan:
    rng = stream(seed, _PLAN, subset_index, index)
    lo, hi = spec.segments_range
    t = int(
        np.clip(round(spec.segments_median * np.exp(spec.segments_sigma * rng.normal())), lo, hi)
    )
    duration = t * SEGMENT_SECONDS
    # Instance labels and lengths: every video label gets at least one instance.
    inst_labels: list[str] = []
    for i, c in enumerate(labels):
        share = 1.0 if i == 0 or len(labels) == 1 else 0.7
        inst_labels += [c] * _count(rng, CLASS_INSTANCES[c][0] * spec.count_scale * share)
    lengths = [
        float(np.clip(CLASS_INSTANCES[c][1] * np.exp(LENGTH_SIGMA * rng.normal()), *LENGTH_RANGE_S))
        for c in inst_labels
    ]
    order = rng.permutation(len(inst_labels))
    inst_labels = [inst_labels[i] for i in order]
    lengths = [lengths[i] for i in order]
    # At most MAX_COVERAGE of the video is action: drop instances, then shrink.
    cap = MAX_COVERAGE * duration
    while sum(lengths) + MIN_GAP_S * (len(lengths) - 1) > cap and len(lengths) > len(labels):
        droppable = [i for i, c in enumerate(inst_labels) if inst_labels.count(c) > 1]
        drop = droppable[-1]
        del inst_labels[drop], lengths[drop]
    room = cap - MIN_GAP_S * (len(lengths) - 1)
    if sum(lengths) > room:
        lengths = [max(0.5, x * room / sum(lengths)) for x in lengths]
    # Placement in tenths of a second (the annotation precision): no rounding drift.
    tenths = [max(5, round(x * 10)) for x in lengths]
    gap = int(np.ceil(MIN_GAP_S * 10))
    n = len(tenths)
    free = int(np.floor(duration * 10 + 1e-6)) - sum(tenths) - gap * (n - 1)
    gaps = np.floor(rng.dirichlet(np.ones(n + 1)) * max(free, 0)).astype(int)
    instances = []
    pos = int(gaps[0])
    for i, (c, length) in enumerate(zip(inst_labels, tenths, strict=True)):
        start, end = pos / 10, (pos + length) / 10
        first, second, fraction = CLASS_PHASES.get(c, DEFAULT_PHASES)
        fraction = float(np.clip(fraction + rng.uniform(-0.1, 0.1), 0.25, 0.75))
        split = round(start + fraction * (end - start), 2)
        phases = (
            Phase(first, start, split, first in SHARED_PHASES),
            Phase(second, split, end, second in SHARED_PHASES),
        )
        instances.append(Instance(c, start, end, phases))
        pos += length + gap + int(gaps[i + 1])
    # Shots: log-normal lengths; those holding an action are venue shots of its class.
    shots = []
    s = 0.0
    while s < duration - 1e-9:
        length = max(1.3, SHOT_MEDIAN_S * np.exp(0.6 * rng.normal()))
        shots.append([s, min(duration, s + length)])
        s += length
    kinds, camera = [], []
    for a, b in shots:
        inside = [x.label for x in instances if x.start < b and x.end > a]
        if inside:
            kinds.append(inside[0])
            camera.append(False)
        else:
            venue, cam = rng.random(2)
            venue_class = labels[int(rng.integers(len(labels)))]
            kinds.append(venue_class if venue < VENUE_SHOT_PROBABILITY else "generic")
            camera.append(bool(cam < CAMERA_PROBABILITY))
    prefix = "video_validation_" if subset == TRAIN_SUBSET else "video_test_"
    return VideoPlan(
        video_id=f"{prefix}{index + 1:07d}",
        subset=subset,
        index=index,
        num_segments=t,
        labels=labels,
        instances=tuple(instances),
        shots=tuple((round(a, 3), round(b, 3), k) for (a, b), k in zip(shots, kinds, strict=True)),
        camera=tuple(camera),
    )


def plan_videos(size: str = "tiny", seed: int = 0) -> list[VideoPlan]:
    """Every video's plan: train (``validation``) videos first, then ``test``."""
    spec = check_arguments(size, seed, 8)
    plans = []
    for subset_index, (subset, n) in enumerate(
        ((TRAIN_SUBSET, spec.train_videos), (TEST_SUBSET, spec.test_videos))
    ):
        for index, labels in enumerate(_video_labels(spec, seed, subset_index, n)):
            plans.append(_plan_video(spec, seed, subset, subset_index, index, labels))
    return plans
