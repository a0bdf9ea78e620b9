"""The synthetic features: the world of prototypes, and a video's ``(T, D)`` features from its
plan (:mod:`wtal.generate.synthetic_plan`) with what they were made of."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wtal.data.dataset import SEGMENT_SECONDS
from wtal.errors import UsageError
from wtal.generate.synthetic_plan import (
    CLASS_PHASES,
    DEFAULT_PHASES,
    FAMILIES,
    RENDER_STREAM,
    SHARED_PHASES,
    THUMOS14_CLASSES,
    TRAIN_SUBSET,
    VENUES,
    WORLD_STREAM,
    VideoPlan,
    stream,
)

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
GENERIC_SCENES = 6
CAMERA_PROTOTYPES = 4
CAMERA_AMP = (0.35, 0.65)  # x ACTION_FLOW_AMP
NUISANCE_AMP = 1.5  # per half; AR(1) low-rank nuisance
NUISANCE_RANK = 16
NUISANCE_RHO = 0.8
NOISE_NORM = 6.0  # white noise, over all D channels
SMOOTHING = np.array([0.25, 0.5, 0.25])


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


def make_world(seed: int = 0, feature_dim: int = 2048) -> World:
    """The prototypes (they depend on the seed and the dimension, not on the size)."""
    if feature_dim < 8 or feature_dim % 2:
        raise UsageError(f"feature_dim must be even and at least 8, got {feature_dim}")
    half = feature_dim // 2
    rng = stream(seed, WORLD_STREAM, feature_dim)

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
    rng = stream(seed, RENDER_STREAM, world.feature_dim, subset_index, plan.index)
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
