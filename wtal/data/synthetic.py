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
  phase carries almost no class evidence (see ``SHARED_CLASS_WEIGHT``), so a model that only
  finds the discriminative part localises these classes incompletely.
- **Features** ``(T, D)`` float32, first half "RGB", second half "flow":
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

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wtal.data.dataset import SEGMENT_SECONDS, Dataset, VideoRecord
from wtal.utils.files import write_json, write_npy

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

# Feature model (amplitudes are L2 norms in the joint feature; prototypes are unit vectors).
SCENE_AMP = 7.0  # RGB scene (venue context or generic) on background
SCENE_IN_ACTION = 0.6  # the scene's share while an action fills the frame
ACTION_RGB_AMP = 7.0
ACTION_FLOW_AMP = 7.0
INSTANCE_STRENGTH = (0.6, 1.1)  # per-instance amplitude factor (small, partly visible, ...)
INSTANCE_STYLE = 0.5  # per-instance perturbation of the phase prototype
SHARED_CLASS_WEIGHT = 0.2  # class appearance/motion mixed into a shared phase
PHASE_SPECIFIC = 0.5  # phase-specific part of a class's distinctive phase prototypes
FAMILY_WEIGHT = 0.5  # family part of a class's appearance/motion prototype
VENUE_WEIGHT = 0.75  # venue part of a class's context (the rest is class-specific)
VIDEO_VENUE_VARIATION = 0.5  # each video's venue differs from the class context
SHOT_VARIATION = 0.3
VENUE_SHOT_PROBABILITY = 0.6
GENERIC_SCENES = 6
SHOT_MEDIAN_S = 6.0
CAMERA_PROTOTYPES = 4
CAMERA_PROBABILITY = 0.25  # of a background shot having camera motion
CAMERA_AMP = (0.35, 0.65)  # x ACTION_FLOW_AMP
NUISANCE_AMP = 1.5  # per half; AR(1) low-rank nuisance
NUISANCE_RANK = 16
NUISANCE_RHO = 0.8
NOISE_NORM = 6.0  # white noise, over all D channels
SMOOTHING = np.array([0.25, 0.5, 0.25])
MAX_COVERAGE = 0.6
MIN_GAP_S = 0.7  # at least one segment (0.64 s), in the 0.1 s annotation grid
LENGTH_SIGMA = 0.4
LENGTH_RANGE_S = (0.8, 30.0)
COUNT_DISPERSION = 2.0

# Random-stream keys (one independent stream per purpose, per video).
_WORLD, _ASSIGN, _PLAN, _RENDER = 101, 202, 303, 404


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


@dataclass(frozen=True, eq=False)
class VideoTruth:
    """What the features were made of, per segment (for tests and diagnostics).

    ``phase``: index into ``phase_names`` / ``phase_classes`` (column ``k`` is instance
    ``k // 2``, its phase ``k % 2``) of the phase with the largest weight, -1 where no action
    weight reaches ``0.5``; ``phase_weight``: that weight (after smoothing);
    ``action``: total action weight in [0, 1]; ``venue``: the segment's shot is a venue shot
    (class context); ``camera``: the segment has camera-motion flow.
    """

    plan: VideoPlan
    phase_names: tuple[str, ...]
    phase_classes: tuple[str, ...]
    phase: np.ndarray
    phase_weight: np.ndarray
    action: np.ndarray
    venue: np.ndarray
    camera: np.ndarray


@dataclass(frozen=True, eq=False)
class World:
    """Every prototype of one ``(seed, feature_dim)``: unit vectors in one half (D/2)."""

    seed: int
    feature_dim: int
    appearance: dict[str, np.ndarray]  # class -> RGB prototype
    motion: dict[str, np.ndarray]  # class -> flow prototype
    context: dict[str, np.ndarray]  # class -> RGB context (venue) prototype
    phase_rgb: dict[tuple[str, str], np.ndarray]  # (class, phase) -> RGB prototype
    phase_flow: dict[tuple[str, str], np.ndarray]
    generic_scenes: np.ndarray  # (GENERIC_SCENES, D/2)
    camera: np.ndarray  # (CAMERA_PROTOTYPES, D/2)
    nuisance_rgb: np.ndarray  # (rank, D/2), orthonormal rows
    nuisance_flow: np.ndarray


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(list(key)))


def check_arguments(size: str, seed: int, feature_dim: int) -> SizeSpec:
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r} (one of {', '.join(SIZES)})")
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if feature_dim < 8 or feature_dim % 2:
        raise ValueError(f"feature_dim must be even and at least 8, got {feature_dim}")
    return SIZES[size]


def make_world(seed: int = 0, feature_dim: int = 2048) -> World:
    """The prototypes (they depend on the seed and the dimension, not on the size)."""
    if feature_dim < 8 or feature_dim % 2:
        raise ValueError(f"feature_dim must be even and at least 8, got {feature_dim}")
    half = feature_dim // 2
    rng = _rng(seed, _WORLD, feature_dim)

    def draw(n: int | None = None) -> np.ndarray:
        return _unit(rng.standard_normal(half if n is None else (n, half)))

    family_rgb = {name: draw() for name in FAMILIES}
    family_flow = {name: draw() for name in FAMILIES}
    venue_rgb = {name: draw() for name in VENUES}
    family_of = {c: f for f, members in FAMILIES.items() for c in members}
    venue_of = {c: v for v, members in VENUES.items() for c in members}
    shared_rgb = {p: draw() for p in SHARED_PHASES}
    shared_flow = {p: draw() for p in SHARED_PHASES}
    fw = FAMILY_WEIGHT
    vw = VENUE_WEIGHT
    appearance, motion, context, phase_rgb, phase_flow = {}, {}, {}, {}, {}
    for c in THUMOS14_CLASSES:
        appearance[c] = _unit(fw * family_rgb[family_of[c]] + np.sqrt(1 - fw**2) * draw())
        motion[c] = _unit(fw * family_flow[family_of[c]] + np.sqrt(1 - fw**2) * draw())
        context[c] = _unit(vw * venue_rgb[venue_of[c]] + np.sqrt(1 - vw**2) * draw())
        for p in CLASS_PHASES.get(c, DEFAULT_PHASES)[:2]:
            if p in SHARED_PHASES:
                w = SHARED_CLASS_WEIGHT
                phase_rgb[c, p] = _unit(shared_rgb[p] + w * appearance[c])
                phase_flow[c, p] = _unit(shared_flow[p] + w * motion[c])
            else:
                phase_rgb[c, p] = _unit(appearance[c] + PHASE_SPECIFIC * draw())
                phase_flow[c, p] = _unit(motion[c] + PHASE_SPECIFIC * draw())
    rank = min(NUISANCE_RANK, half // 2)
    nuisance = [np.linalg.qr(rng.standard_normal((half, rank)))[0].T for _ in range(2)]
    return World(
        seed=seed,
        feature_dim=feature_dim,
        appearance=appearance,
        motion=motion,
        context=context,
        phase_rgb=phase_rgb,
        phase_flow=phase_flow,
        generic_scenes=draw(GENERIC_SCENES),
        camera=draw(CAMERA_PROTOTYPES),
        nuisance_rgb=nuisance[0],
        nuisance_flow=nuisance[1],
    )


# ---------------------------------------------------------------------------------------------
# Plans: labels, durations, instances, phases, shots.


def _video_labels(spec: SizeSpec, seed: int, subset_index: int, n: int) -> list[tuple[str, ...]]:
    rng = _rng(seed, _ASSIGN, subset_index)
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
    rng = _rng(seed, _PLAN, subset_index, index)
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


# ---------------------------------------------------------------------------------------------
# Rendering: a plan + the world -> features.


def _coverage(intervals: np.ndarray, t: int) -> np.ndarray:
    """(t, K): the share of each segment inside each [start, end) interval (seconds)."""
    edges = np.arange(t + 1) * SEGMENT_SECONDS
    lo = np.maximum(edges[:-1, None], intervals[None, :, 0])
    hi = np.minimum(edges[1:, None], intervals[None, :, 1])
    return np.clip(hi - lo, 0.0, None) / SEGMENT_SECONDS


def _smooth(weights: np.ndarray) -> np.ndarray:
    padded = np.pad(weights, ((1, 1), (0, 0)))
    k = SMOOTHING
    return k[0] * padded[:-2] + k[1] * padded[1:-1] + k[2] * padded[2:]


def render_video(plan: VideoPlan, world: World, seed: int) -> tuple[np.ndarray, VideoTruth]:
    """The plan's ``(T, D)`` float32 features and what they were made of."""
    from scipy.signal import lfilter  # loads to render only: `wtal --help` stays quick

    subset_index = 0 if plan.subset == TRAIN_SUBSET else 1
    rng = _rng(seed, _RENDER, world.feature_dim, subset_index, plan.index)
    t, half = plan.num_segments, world.feature_dim // 2
    # White noise first, then every component added in place (float32 throughout).
    features = rng.standard_normal((t, world.feature_dim), dtype=np.float32)
    features *= np.float32(NOISE_NORM / np.sqrt(world.feature_dim))
    rgb, flow = features[:, :half], features[:, half:]
    # Actions: one column per phase, with this instance's style and strength.
    phases = [(x, p) for x in plan.instances for p in x.phases]
    names = tuple(p.name for _, p in phases)
    weights = np.zeros((t, 0))
    if phases:
        weights = _smooth(_coverage(np.array([[p.start, p.end] for _, p in phases]), t))
        strength = np.repeat(rng.uniform(*INSTANCE_STRENGTH, size=len(plan.instances)), 2)
        style_rgb = _unit(
            np.array([world.phase_rgb[x.label, p.name] for x, p in phases])
            + INSTANCE_STYLE * _unit(rng.standard_normal((len(phases), half)))
        )
        style_flow = _unit(
            np.array([world.phase_flow[x.label, p.name] for x, p in phases])
            + INSTANCE_STYLE * _unit(rng.standard_normal((len(phases), half)))
        )
        scaled = (weights * strength).astype(np.float32)
        rgb += scaled @ (ACTION_RGB_AMP * style_rgb).astype(np.float32)
        flow += scaled @ (ACTION_FLOW_AMP * style_flow).astype(np.float32)
    action = np.clip(weights.sum(axis=1), 0.0, 1.0)
    # Scenes: one vector per shot; the video's venue differs a little from the class context.
    venue = {
        c: _unit(world.context[c] + VIDEO_VENUE_VARIATION * _unit(rng.standard_normal(half)))
        for c in plan.labels
    }
    centres = (np.arange(t) + 0.5) * SEGMENT_SECONDS
    shot_of = np.searchsorted([b for _, b, _ in plan.shots], centres, side="right")
    shot_of = np.minimum(shot_of, len(plan.shots) - 1)
    scene = np.zeros((len(plan.shots), half), dtype=np.float32)
    camera = np.zeros((len(plan.shots), half), dtype=np.float32)
    for i, ((_, _, kind), cam) in enumerate(zip(plan.shots, plan.camera, strict=True)):
        if kind == "generic":
            base = world.generic_scenes[int(rng.integers(GENERIC_SCENES))]
        else:
            base = venue[kind]
        scene[i] = _unit(base + SHOT_VARIATION * _unit(rng.standard_normal(half)))
        direction = world.camera[int(rng.integers(CAMERA_PROTOTYPES))]
        amp = rng.uniform(*CAMERA_AMP) * ACTION_FLOW_AMP
        if cam:
            camera[i] = amp * _unit(direction + SHOT_VARIATION * rng.standard_normal(half))
    scene_amp = SCENE_AMP * (1.0 - (1.0 - SCENE_IN_ACTION) * action)
    rgb += scene_amp.astype(np.float32)[:, None] * scene[shot_of]
    if any(plan.camera):
        flow += camera[shot_of]
    # Nuisance: temporally correlated (AR(1)), low rank.
    for out, basis in ((rgb, world.nuisance_rgb), (flow, world.nuisance_flow)):
        rank = basis.shape[0]
        e = rng.standard_normal((t, rank))
        e[0] /= np.sqrt(1 - NUISANCE_RHO**2)
        z = lfilter([np.sqrt(1 - NUISANCE_RHO**2)], [1.0, -NUISANCE_RHO], e, axis=0)
        out += ((NUISANCE_AMP / np.sqrt(rank)) * z @ basis).astype(np.float32)
    if phases:
        best = weights.argmax(axis=1)
        best_weight = weights[np.arange(t), best]
        phase = np.where(best_weight >= 0.5, best, -1)
    else:
        best_weight = np.zeros(t)
        phase = np.full(t, -1)
    truth = VideoTruth(
        plan=plan,
        phase_names=names,
        phase_classes=tuple(x.label for x, _ in phases),
        phase=phase,
        phase_weight=best_weight,
        action=action,
        venue=np.array([plan.shots[i][2] != "generic" for i in shot_of], dtype=bool),
        camera=np.array([plan.camera[i] for i in shot_of], dtype=bool),
    )
    return features, truth


def _record(plan: VideoPlan, features: np.ndarray | None) -> VideoRecord:
    return VideoRecord(
        video_id=plan.video_id,
        subset=plan.subset,
        duration=plan.duration,
        labels=plan.labels,
        segments=np.array([[x.start, x.end] for x in plan.instances], dtype=np.float64).reshape(
            -1, 2
        ),
        segment_labels=tuple(x.label for x in plan.instances),
        features=features,
    )


def iter_videos(
    size: str = "tiny", seed: int = 0, feature_dim: int = 2048
) -> Iterator[tuple[VideoRecord, VideoTruth]]:
    """Each video's record (with features) and its truth, one at a time (train first)."""
    check_arguments(size, seed, feature_dim)
    world = make_world(seed, feature_dim)
    for plan in plan_videos(size, seed):
        features, truth = render_video(plan, world, seed)
        yield _record(plan, features), truth


def dataset_name(size: str, seed: int) -> str:
    return f"synthetic-{size}-seed{seed}"


def make_dataset(
    size: str = "tiny", seed: int = 0, feature_dim: int = 2048, with_features: bool = True
) -> Dataset:
    """The synthetic dataset in memory (nothing written); the same as ``generate`` reads back."""
    spec = check_arguments(size, seed, feature_dim)
    if with_features:
        records = [record for record, _ in iter_videos(size, seed, feature_dim)]
    else:
        records = [_record(plan, None) for plan in plan_videos(size, seed)]
    return Dataset(name=dataset_name(size, seed), classes=spec.classes, videos=tuple(records))


def generator_info(size: str, seed: int, feature_dim: int) -> dict[str, Any]:
    spec = check_arguments(size, seed, feature_dim)
    return {
        "name": "wtal.data.synthetic",
        "version": GENERATOR_VERSION,
        "size": size,
        "seed": int(seed),
        "feature_dim": int(feature_dim),
        "segment_seconds": SEGMENT_SECONDS,
        "train_videos": spec.train_videos,
        "test_videos": spec.test_videos,
        "shared_phases": {
            p: [c for c, spec_ in CLASS_PHASES.items() if p in spec_[:2]] for p in SHARED_PHASES
        },
    }


def annotations_json(plans: list[VideoPlan], size: str, seed: int, dim: int) -> dict[str, Any]:
    """The project's ActivityNet JSON; each annotation also lists its ``phases``."""
    spec = check_arguments(size, seed, dim)
    dataset = Dataset(
        name=dataset_name(size, seed),
        classes=spec.classes,
        videos=tuple(_record(p, None) for p in plans),
    )
    data = dataset.to_activitynet()
    for plan in plans:
        entry = data["database"][plan.video_id]
        for annotation, instance in zip(entry["annotations"], plan.instances, strict=True):
            annotation["phases"] = [
                {"name": p.name, "segment": [p.start, p.end], "shared": p.shared}
                for p in instance.phases
            ]
    data["generator"] = generator_info(size, seed, dim)
    return data


def generate(
    output_dir: str | os.PathLike[str],
    size: str = "tiny",
    seed: int = 0,
    feature_dim: int = 2048,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write ``annotations.json`` and ``features/<video_id>.npy``; returns the JSON's path.

    Videos are rendered and written one at a time (memory stays one video); the annotation
    file is written last, so an interrupted run never leaves a complete-looking dataset. Read
    it back with ``read_activitynet(path, path.parent / "features")``.
    """
    check_arguments(size, seed, feature_dim)
    out = Path(output_dir)
    features_dir = out / "features"
    features_dir.mkdir(parents=True, exist_ok=True)
    world = make_world(seed, feature_dim)
    plans = plan_videos(size, seed)
    for i, plan in enumerate(plans):
        features, _ = render_video(plan, world, seed)
        write_npy(features_dir / f"{plan.video_id}.npy", features)
        if progress is not None:
            progress(i + 1, len(plans))
    path = out / "annotations.json"
    write_json(path, annotations_json(plans, size, seed, feature_dim))
    return path
