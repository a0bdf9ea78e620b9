"""The demo videos' pixels: what each class, distractor and scene draws at one instant, and a
video's frames from its plan (:mod:`wtal.generate.demo_plan`)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from wtal.generate.demo_plan import (
    DEFAULTS,
    FPS,
    NOISE_STREAM,
    SCENE_STREAM,
    Style,
    VideoPlan,
    stream,
)

# Drawing constants: x in frame widths, y in frame heights, sizes in S = min(width, height).
GROUND_Y = 0.74  # athlete's body centre when standing
FLOOR_Y = 0.86  # where things rest on the ground
BODY_HALF = (0.055, 0.12)  # body ellipse half-axes (x S)
HEAD_RADIUS = 0.045
SKIN = (232, 190, 160)
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

    rng = stream(seed, SCENE_STREAM, plan.subset_index, plan.index)
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
    noise = stream(seed, NOISE_STREAM, plan.subset_index, plan.index)
    for f in range(plan.frames):
        frame = _shift(texture, float(offsets[f]), margin, width)
        for shape in _frame_shapes(plan, f, width, height):
            _draw(frame, shape)
        frame += noise.standard_normal(frame.shape, dtype=np.float32) * np.float32(SENSOR_NOISE)
        yield np.clip(np.rint(frame), 0, 255).astype(np.uint8)
