"""TV-L1 optical flow in PyTorch, step for step the algorithm of OpenCV contrib's
``cv2.optflow.DualTVL1OpticalFlow`` (its CPU path), batched over frame pairs, on any device.

What is reproduced, each part checked against OpenCV 5.0 in ``tests/extract/test_tvl1.py``:

- the pyramid: each level is the previous one resized by ``scale_step`` with
  ``cv::resize(..., fx=fy=scale_step, INTER_LINEAR)`` (size ``round(n * scale_step)``, source
  position ``(d + 0.5) / scale_step - 0.5``, edges clamped); it stops before the first level
  narrower or lower than 16 px; the flow goes to the next finer level by the same bilinear
  resize to that level's exact size (positions scaled by the size ratio) times
  ``1 / scale_step``;
- per level, ``warps`` times: warp the second image and its centred gradient by the current
  flow with ``cv::remap(INTER_CUBIC)`` (Keys cubic, a = -0.75, at the exact sub-pixel position:
  OpenCV 5 no longer rounds it to 1/32 px; outside the image counts as 0), then up to
  ``outer_iterations`` times a 5x5 median of the flow (replicated edges) followed by up to
  ``inner_iterations`` primal-dual steps (thresholding, divergence, primal update, forward
  gradient, dual update); the dual variables start at 0 on each level;
- the stopping rule: a pair stops iterating within a warp once the summed squared change of
  its flow in one step is ``<= epsilon**2 * H * W`` (of that level). Each pair of a batch stops
  exactly where OpenCV stops on it alone: at each check for convergence (a host sync: every
  step on CPU, every ``check_every`` steps elsewhere) converged pairs leave the working
  batch, and between checks masks freeze them; a warp ends when no pair is left.

Not implemented (refused with ``ValueError``): ``gamma != 0`` (the illumination term) and
``useInitialFlow``. Input grey levels are used as given (0..255, uint8 or float32); note that
OpenCV's ``calc`` multiplies *float* inputs by 255, so its float input is 0..1.

Every building block agrees with OpenCV to float rounding (the median exactly). The
iteration amplifies rounding differences: OpenCV itself moves by 0.004-0.11 px mean
end-point error when its input moves by 1e-4 grey levels, and this implementation differs from
it by about that much (0.008 px at short side 256 with OpenCV's defaults, 1e-4 px with the
``fast`` preset; figures in ``benchmarks/bench_tvl1.py``'s output).

Speed: one inner step is about 25 element-wise operations over ``(B, 2, H, W)`` tensors; the
median is a min/max network. ``compiled=True`` runs the inner step and the median through
``torch.compile`` (a C++ compiler on CPU, Triton on CUDA; the warp, a few calls per level,
stays eager). ``compiled=None`` follows :data:`COMPILE_BY_DEFAULT`.

Memory: at the peak (the warp's gathers) about 50 float32 planes of the frame size per pair,
16 MB at 256 x 340 (torch's CPU profiler, OpenCV's defaults); the process's resident memory
grew by 28-41 MB per pair on CPU (the allocator keeps freed blocks).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

#: OpenCV's DualTVL1OpticalFlow_create keyword -> TVL1Params field (its misspelling included).
OPENCV_KEYWORDS: dict[str, str] = {
    "tau": "tau",
    "lambda_": "lambda_",
    "theta": "theta",
    "nscales": "nscales",
    "warps": "warps",
    "epsilon": "epsilon",
    "innnerIterations": "inner_iterations",
    "outerIterations": "outer_iterations",
    "scaleStep": "scale_step",
    "gamma": "gamma",
    "medianFiltering": "median_filtering",
}

#: Whether ``compiled=None`` uses torch.compile, per device type. CPU: no. Measured on the
#: 2-core EPYC test machine (bikes, 256 x 602, fast preset, 1 thread): compiled steps run
#: 1.5x faster than eager (1.71 vs 1.14 pairs/s), but each process first spends 35-45 s
#: compiling with a warm inductor cache (2-5 min cold), so eager is faster below about 140
#: pairs per process; tests and the pipeline's per-video processes are mostly below that.
#: Long CPU runs should pass ``compiled=True``. CUDA: yes, where Triton is installed (a
#: couple of fused kernels per step instead of ~25 launches, the median one kernel instead
#: of ~140); not measured here, as no GPU was available: ``benchmarks/bench_tvl1.py --device
#: cuda`` measures it.
COMPILE_BY_DEFAULT: dict[str, bool] = {"cpu": False, "cuda": True}

#: The smallest pyramid level OpenCV keeps (in width and in height).
MIN_LEVEL_SIZE = 16
_CUBIC_A = -0.75


@dataclass(frozen=True)
class TVL1Params:
    """The parameters of ``cv2.optflow.DualTVL1OpticalFlow_create``; defaults are OpenCV's."""

    tau: float = 0.25
    lambda_: float = 0.15
    theta: float = 0.3
    nscales: int = 5
    warps: int = 5
    epsilon: float = 0.01
    inner_iterations: int = 30
    outer_iterations: int = 10
    scale_step: float = 0.8
    gamma: float = 0.0
    median_filtering: int = 5

    def __post_init__(self) -> None:
        for name in ("tau", "lambda_", "theta"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"TV-L1 {name} = {value!r}: must be a finite number > 0")
        if not (isinstance(self.epsilon, int | float) and 0 <= self.epsilon < math.inf):
            raise ValueError(f"TV-L1 epsilon = {self.epsilon!r}: must be a finite number >= 0")
        for name in ("nscales", "warps", "inner_iterations", "outer_iterations"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"TV-L1 {name} = {value!r}: must be an integer >= 1")
        if not (isinstance(self.scale_step, int | float) and 0 < self.scale_step <= 1):
            raise ValueError(f"TV-L1 scale_step = {self.scale_step!r}: must be in (0, 1]")
        if self.gamma != 0:
            raise ValueError(
                f"TV-L1 gamma = {self.gamma!r}: the illumination term (gamma != 0) is not "
                "implemented in the torch TV-L1; use OpenCV for it"
            )
        if isinstance(self.median_filtering, bool) or self.median_filtering not in (0, 1, 3, 5):
            raise ValueError(
                f"TV-L1 median_filtering = {self.median_filtering!r}: must be 0 or 1 (off), "
                "3 or 5 (the float32 median sizes OpenCV supports)"
            )

    @classmethod
    def from_opencv(cls, keywords: dict[str, Any]) -> TVL1Params:
        """The parameters an OpenCV ``DualTVL1OpticalFlow_create(**keywords)`` call makes."""
        values: dict[str, Any] = {}
        for key, value in keywords.items():
            if key == "useInitialFlow":
                if value:
                    raise ValueError(
                        "TV-L1 useInitialFlow=True is not implemented in the torch TV-L1"
                    )
                continue
            if key not in OPENCV_KEYWORDS:
                raise ValueError(
                    f"unknown OpenCV TV-L1 keyword {key!r} (known: "
                    f"{', '.join([*OPENCV_KEYWORDS, 'useInitialFlow'])})"
                )
            values[OPENCV_KEYWORDS[key]] = value
        return cls(**values)

    def to_opencv(self) -> dict[str, Any]:
        """The keywords of ``DualTVL1OpticalFlow_create`` for these parameters."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {key: fields[name] for key, name in OPENCV_KEYWORDS.items()}


def pyramid_sizes(height: int, width: int, params: TVL1Params) -> list[tuple[int, int]]:
    """(H, W) of every level OpenCV uses, finest first: ``round(n * scale_step)`` of the level
    above (round half to even, as ``cvRound``), stopping before a level under 16 px."""
    sizes = [(height, width)]
    for _ in range(1, params.nscales):
        h, w = sizes[-1]
        h, w = round(h * params.scale_step), round(w * params.scale_step)
        if h < MIN_LEVEL_SIZE or w < MIN_LEVEL_SIZE:
            break
        sizes.append((h, w))
    return sizes


# ---------------------------------------------------------------------------------------------
# Building blocks, each the counterpart of one OpenCV function.


def _linear_taps(source: int, target: int, step: float) -> tuple[np.ndarray, ...]:
    """Indices and weights of cv::resize INTER_LINEAR along one axis, where ``step`` is the
    source distance between target pixels. The fraction is taken in double precision before
    rounding to float (what OpenCV 5 does; float-first differs by up to 1e-5 px)."""
    position = (np.arange(target) + 0.5) * step - 0.5
    low = np.floor(position)
    fraction = (position - low).astype(np.float32)
    low = low.astype(np.int64)
    before, after = low < 0, low >= source - 1
    fraction[before | after] = 0
    low = np.clip(low, 0, source - 1)
    high = np.minimum(low + 1, source - 1)
    return low, high, np.float32(1) - fraction, fraction


def _resize_axis(x: torch.Tensor, dim: int, size: int, step: float) -> torch.Tensor:
    low, high, w0, w1 = _linear_taps(x.shape[dim], size, step)
    shape = [1] * x.dim()
    shape[dim] = size

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a).to(x.device)

    a = x.index_select(dim, tensor(low)) * tensor(w0).view(shape)
    return a + x.index_select(dim, tensor(high)) * tensor(w1).view(shape)


def resize_linear(
    x: torch.Tensor, size: tuple[int, int], scale: float | None = None
) -> torch.Tensor:
    """``cv2.resize(x, (W, H), INTER_LINEAR)`` of float ``(..., h, w)`` to ``size = (H, W)``.

    ``scale`` given: the mapping of ``cv2.resize(x, None, fx=scale, fy=scale)`` (source step
    ``1 / scale``); omitted: that of ``dsize`` (source step ``h / H`` and ``w / W``).
    """
    h, w = x.shape[-2:]
    height, width = size
    step_y = 1.0 / scale if scale is not None else 1.0 / (height / h)
    step_x = 1.0 / scale if scale is not None else 1.0 / (width / w)
    return _resize_axis(_resize_axis(x, x.dim() - 1, width, step_x), x.dim() - 2, height, step_y)


def centered_gradient(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Half the central difference along x and y of ``(..., H, W)``; at the edges half the
    one-sided difference (OpenCV's centeredGradient = replicate the edge, then central)."""
    padded_x = F.pad(x.unsqueeze(-3), (1, 1, 0, 0), mode="replicate").squeeze(-3)
    padded_y = F.pad(x.unsqueeze(-3), (0, 0, 1, 1), mode="replicate").squeeze(-3)
    dx = 0.5 * (padded_x[..., 2:] - padded_x[..., :-2])
    dy = 0.5 * (padded_y[..., 2:, :] - padded_y[..., :-2, :])
    return dx, dy


def _cubic_weights(t: torch.Tensor) -> list[torch.Tensor]:
    """Keys' cubic kernel (a = -0.75) at offsets -1-t, -t, 1-t, 2-t, as OpenCV's table."""
    a = _CUBIC_A
    t1 = t + 1
    s = 1 - t
    w0 = ((a * t1 - 5 * a) * t1 + 8 * a) * t1 - 4 * a
    w1 = ((a + 2) * t - (a + 3)) * t * t + 1
    w2 = ((a + 2) * s - (a + 3)) * s * s + 1
    return [w0, w1, w2, 1 - w0 - w1 - w2]


def remap_cubic(images: torch.Tensor, map_x: torch.Tensor, map_y: torch.Tensor) -> torch.Tensor:
    """``cv2.remap(images[b, c], map_x[b], map_y[b], INTER_CUBIC)`` (BORDER_CONSTANT 0) for
    float ``(B, C, H, W)`` images and float ``(B, h, w)`` source positions in pixels."""
    batch, channels, height, width = images.shape
    # Far outside, every tap reads 0 whatever the position: clamping keeps the taps within
    # 4 px of the image, where a border of zeros lets them read without further checks.
    map_x = map_x.clamp(-3.0, width + 1.0)
    map_y = map_y.clamp(-3.0, height + 1.0)
    x0, y0 = map_x.floor(), map_y.floor()
    wx, wy = _cubic_weights(map_x - x0), _cubic_weights(map_y - y0)
    border = 4
    stride = width + 2 * border
    flat = F.pad(images, (border,) * 4).reshape(batch, channels, -1)
    # Index of tap (-1, -1) of each position in the padded image.
    base = ((y0.long() + (border - 1)) * stride + (x0.long() + (border - 1))).reshape(batch, 1, -1)
    del x0, y0
    out_shape = (batch, channels, *map_x.shape[1:])
    total = images.new_zeros(out_shape)
    row = images.new_empty(out_shape)
    for i in range(4):
        row.zero_()
        for j in range(4):
            index = (base + (i * stride + j)).expand(batch, channels, -1)
            row.addcmul_(flat.gather(2, index).view(out_shape), wx[j].unsqueeze(1))
        total.addcmul_(row, wy[i].unsqueeze(1))
    return total


# The 5x5 (or 3x3) median as a min/max network: sort every k-pixel column once (shared by
# the k windows that contain it), then merge the k sorted columns of a window with Batcher's
# odd-even merges, keeping only the comparisons the middle rank depends on. It is exact
# (the same value as any median), vectorises, and fuses into one kernel under torch.compile.


def _odd_even_merge(lo: int, n: int, r: int) -> list[tuple[int, int]]:
    """Comparisons (i, j), i < j, that sort positions lo..lo+n-1 whose even- and odd-indexed
    halves of stride ``r`` are each sorted (Batcher); n a power of two."""
    step = 2 * r
    if step >= n:
        return [(lo, lo + r)]
    pairs = _odd_even_merge(lo, n, step) + _odd_even_merge(lo + r, n, step)
    return pairs + [(i, i + r) for i in range(lo + r, lo + n - r, step)]


class _Program:
    """A straight-line program of min/max operations over numbered values."""

    def __init__(self, inputs: int) -> None:
        self.count = inputs
        self.ops: list[tuple[int, bool, int, int]] = []  # (result, is_max, a, b)

    def compare(self, a: int | None, b: int | None) -> tuple[int | None, int | None]:
        """(min, max) of two values; None stands for +infinity (padding)."""
        if a is None or b is None:
            return (b, None) if a is None else (a, None)
        low, high = self.count, self.count + 1
        self.count += 2
        self.ops += [(low, False, a, b), (high, True, a, b)]
        return low, high

    def merge(self, x: list[int | None], y: list[int | None]) -> list[int | None]:
        """Merge two sorted lists (padded with +infinity to a power of two)."""
        size = 1 << max(len(x), len(y), 1).bit_length() - 1
        size = size if size >= max(len(x), len(y)) else 2 * size
        wires = [*x, *[None] * (size - len(x)), *y, *[None] * (size - len(y))]
        for i, j in _odd_even_merge(0, 2 * size, 1):
            wires[i], wires[j] = self.compare(wires[i], wires[j])
        return wires[: len(x) + len(y)]

    def sort(self, values: list[int | None]) -> list[int | None]:
        if len(values) <= 1:
            return values
        half = len(values) // 2
        return self.merge(self.sort(values[:half]), self.sort(values[half:]))

    def needed(self, outputs: list[int]) -> list[tuple[int, bool, int, int]]:
        """The operations the outputs depend on, in order."""
        need, kept = set(outputs), []
        for op in reversed(self.ops):
            if op[0] in need:
                kept.append(op)
                need.update(op[2:])
        return kept[::-1]


@functools.cache
def _median_networks(k: int) -> tuple[tuple[Any, ...], tuple[int, ...], tuple[Any, ...], int]:
    """(column sort ops, its k outputs in rank order, window ops, window output) for a k x k
    median. Window inputs are numbered ``column * k + rank``."""
    column = _Program(k)
    ranks = column.sort(list(range(k)))
    window = _Program(k * k)

    def merged(columns: list[int]) -> list[int | None]:
        if len(columns) == 1:
            return [columns[0] * k + r for r in range(k)]
        half = len(columns) // 2
        return window.merge(merged(columns[:half]), merged(columns[half:]))

    middle = merged(list(range(k)))[k * k // 2]
    assert middle is not None and all(r is not None for r in ranks)
    return (
        tuple(column.needed(ranks)),  # type: ignore[arg-type]
        tuple(ranks),  # type: ignore[arg-type]
        tuple(window.needed([middle])),
        middle,
    )


def _run(ops: tuple[Any, ...], values: dict[int, torch.Tensor]) -> dict[int, torch.Tensor]:
    last_use: dict[int, int] = {}
    for n, (_, _, a, b) in enumerate(ops):
        last_use[a] = last_use[b] = n
    for n, (out, is_max, a, b) in enumerate(ops):
        values[out] = (
            torch.maximum(values[a], values[b]) if is_max else torch.minimum(values[a], values[b])
        )
        for v in (a, b):
            if last_use[v] == n and v in values:
                del values[v]
    return values


def median_blur(x: torch.Tensor, ksize: int = 5) -> torch.Tensor:
    """``cv2.medianBlur(x[...], ksize)`` on float ``(..., H, W)``, ksize 3 or 5 (replicated
    edges, as OpenCV's float median). Eager: in bands of rows that stay in the CPU's cache."""
    networks = _median_networks(ksize)
    padded = _pad_for_median(x, ksize)
    planes, height = padded.shape[0], x.shape[-2]
    rows = max(4, _MEDIAN_BAND // (planes * padded.shape[-1]))
    if rows >= height:
        return _median_of_padded(padded, networks).reshape(x.shape)
    bands = [
        _median_of_padded(padded[:, top : min(top + rows, height) + ksize - 1], networks)
        for top in range(0, height, rows)
    ]
    return torch.cat(bands, dim=1).reshape(x.shape)


#: Elements per tensor in a band of :func:`median_blur`: 128 kB of float32, about twice as
#: fast as whole planes at 256 x 340 on the 2-core EPYC test machine.
_MEDIAN_BAND = 1 << 15


def _pad_for_median(x: torch.Tensor, ksize: int) -> torch.Tensor:
    r = ksize // 2
    flat = x.reshape(-1, 1, *x.shape[-2:])
    return F.pad(flat, (r, r, r, r), mode="replicate").squeeze(1)


def _median_of_padded(padded: torch.Tensor, networks: tuple[Any, ...]) -> torch.Tensor:
    """The k x k medians of (N, h + k - 1, w + k - 1) padded planes: (N, h, w)."""
    column_ops, ranks, window_ops, middle = networks
    ksize = len(ranks)
    height, width = padded.shape[1] - ksize + 1, padded.shape[2] - ksize + 1
    rows = {i: padded[:, i : i + height] for i in range(ksize)}
    rows = _run(column_ops, rows)
    sorted_columns = [rows[i] for i in ranks]  # (N, h, w + k - 1) each, rank order
    values = {
        c * ksize + rank: sorted_columns[rank][..., c : c + width]
        for c in range(ksize)
        for rank in range(ksize)
    }
    return _run(window_ops, values)[middle]


def divergence(px: torch.Tensor, py: torch.Tensor, in_place: bool = True) -> torch.Tensor:
    """Backward-difference divergence of the field ``(px, py)`` (0 beyond the top/left).
    ``in_place``: through slice updates (fastest eager); else by padding (what
    torch.compile turns into good code); the values are the same."""
    if not in_place:
        return (px - F.pad(px[..., :-1], (1, 0))) + (py - F.pad(py[..., :-1, :], (0, 0, 1, 0)))
    dx = px.clone()
    dx[..., 1:] -= px[..., :-1]
    dy = py.clone()
    dy[..., 1:, :] -= py[..., :-1, :]
    return dx.add_(dy)


def forward_gradient(u: torch.Tensor, in_place: bool = True) -> torch.Tensor:
    """Forward differences of ``(..., H, W)`` as ``(..., 2, H, W)`` (x, y), 0 on the last
    column (x) and row (y); ``in_place`` as in :func:`divergence`."""
    if not in_place:
        dx = F.pad(u[..., 1:] - u[..., :-1], (0, 1))
        dy = F.pad(u[..., 1:, :] - u[..., :-1, :], (0, 0, 0, 1))
        return torch.stack((dx, dy), dim=-3)
    gradient = u.new_zeros((*u.shape[:-2], 2, *u.shape[-2:]))
    gradient[..., 0, :, :-1].copy_(u[..., 1:]).sub_(u[..., :-1])
    gradient[..., 1, :-1, :].copy_(u[..., 1:, :]).sub_(u[..., :-1, :])
    return gradient


# ---------------------------------------------------------------------------------------------
# The solver: one warp's set-up, one primal-dual step, the median step.


def warp_step(
    i0: torch.Tensor, i1_stack: torch.Tensor, u: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Warp ``[I1, I1x, I1y]`` (B, 3, H, W) by the flow ``u`` (B, 2, H, W) (OpenCV's
    buildFlowMap, remap and calcGradRho). Returns what every inner step of this warp uses:
    the warped gradient (B, 2, H, W), the constant part of the residual (B, H, W) and
    ``-|grad|^2`` (B, H, W), with 1 where the gradient is 0 (no step is taken there)."""
    height, width = i0.shape[-2:]
    xs = torch.arange(width, device=u.device, dtype=u.dtype)
    ys = torch.arange(height, device=u.device, dtype=u.dtype).unsqueeze(1)
    warped = remap_cubic(i1_stack, xs + u[:, 0], ys + u[:, 1])
    i1w, gx, gy = warped[:, 0], warped[:, 1], warped[:, 2]
    grad = gx * gx + gy * gy
    rho_c = i1w - gx * u[:, 0] - gy * u[:, 1] - i0
    return warped[:, 1:], rho_c, torch.where(grad == 0, 1.0, -grad)


def inner_step(
    u: torch.Tensor,
    p: torch.Tensor,
    active: torch.Tensor | None,
    warp: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    sizes: tuple[float, float, float],
    threshold: float,
    in_place: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One primal-dual iteration (OpenCV's estimateV, divergence, estimateU, forwardGradient,
    estimateDualVariables).

    u: (B, 2, H, W) flow; p: (B, 2, 2, H, W) dual variables (flow component, x/y); warp:
    :func:`warp_step`'s output; sizes: the steps ``(l_t, theta, taut)`` (``lambda * theta``,
    ``theta``, ``tau / theta``). With ``active`` (B,) bool, pairs not active keep their
    state; None means all are. Returns the new (u, p) and which pairs are (still) active:
    those whose flow this step changed by more than ``threshold`` (summed squares).

    OpenCV's thresholding step is ``l_t`` if ``rho < -l_t g``, ``-l_t`` if ``rho > l_t g``,
    else ``-rho / g`` (``g = |grad|^2``), which is ``clamp(-rho / g, -l_t, l_t)``: the same
    but within one rounding at the two bounds. Where ``0 < g <= FLT_EPSILON`` OpenCV takes no
    step inside the bounds; the clamp then moves ``u`` by at most ``l_t sqrt(g)`` (< 2e-5 px).
    """
    i1w_grad, rho_c, neg_grad = warp
    l_t, theta, taut = sizes
    rho = rho_c + torch.addcmul(i1w_grad[:, 0] * u[:, 0], i1w_grad[:, 1], u[:, 1])
    step = (rho / neg_grad).clamp_(-l_t, l_t)
    v = torch.addcmul(u, step.unsqueeze(1), i1w_grad)
    new_u = torch.add(v, divergence(p[:, :, 0], p[:, :, 1], in_place), alpha=theta)
    change = (new_u - u).square().sum(dim=(1, 2, 3))
    gradient = forward_gradient(new_u, in_place)
    norm = torch.hypot(gradient[:, :, 0], gradient[:, :, 1]).mul_(taut).add_(1.0)
    new_p = torch.add(p, gradient, alpha=taut).div_(norm.unsqueeze(2))
    if active is None:
        return new_u, new_p, change > threshold
    keep = active.view(-1, 1, 1, 1)
    u = torch.where(keep, new_u, u)
    p = torch.where(keep.unsqueeze(-1), new_p, p)
    return u, p, active & (change > threshold)


@dataclass(frozen=True)
class _Steps:
    warp: Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
    inner: Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
    median: Callable[..., torch.Tensor]


def _inner_step_functional(*args: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return inner_step(*args, in_place=False)


def _median_fused(x: torch.Tensor, networks: tuple[Any, ...]) -> torch.Tensor:
    """:func:`median_blur` in one piece (no bands), for torch.compile to fuse."""
    return _median_of_padded(_pad_for_median(x, len(networks[1])), networks).reshape(x.shape)


@functools.cache
def _steps(compiled: bool) -> _Steps:
    """The step functions, eager or through torch.compile (made once per process). The
    warp runs ``warps`` times a level and compiling its gathers takes minutes: always eager.
    """
    if not compiled:
        return _Steps(warp_step, inner_step, median_blur)
    inner = torch.compile(_inner_step_functional, dynamic=True)
    median = torch.compile(_median_fused, dynamic=True)
    return _Steps(warp_step, inner, lambda x, ksize: median(x, _median_networks(ksize)))


class _Subset:
    """The pairs of a batch still iterating in the current warp, as a compacted sub-batch.

    Converged pairs are written back into the full state and dropped, so no work is spent
    on them; in between the (host-synchronising) compactions, pairs that converge are
    frozen by the masks of :func:`inner_step`.
    """

    def __init__(self, u: torch.Tensor, p: torch.Tensor, warp: tuple[torch.Tensor, ...]) -> None:
        self.u, self.p = u, p  # full batch
        self.index: torch.Tensor | None = None  # batch indices of the subset; None: all
        self.su, self.sp, self.warp = u, p, warp
        self.active: torch.Tensor | None = None  # None: every pair of the subset is active

    def compact(self) -> bool:
        """Drop the converged pairs; False when none is left."""
        if self.active is None:
            return True
        keep = self.active.nonzero().squeeze(1)  # the host synchronisation
        self.active = None
        if keep.numel() == self.su.shape[0]:
            return True
        self.write_back()
        if keep.numel() == 0:
            return False
        self.index = keep if self.index is None else self.index[keep]
        self.su, self.sp = self.su[keep], self.sp[keep]
        self.warp = tuple(x[keep] for x in self.warp)
        return True

    def write_back(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.index is None:
            self.u, self.p = self.su, self.sp
        else:
            self.u = self.u.index_copy(0, self.index, self.su)
            self.p = self.p.index_copy(0, self.index, self.sp)
        return self.u, self.p


def _one_level(
    i0: torch.Tensor,
    i1: torch.Tensor,
    u: torch.Tensor,
    params: TVL1Params,
    steps: _Steps,
    check_every: int,
) -> torch.Tensor:
    """OpenCV's procOneScale for a batch: ``warps`` warps of up to outer x inner steps."""
    batch, height, width = i0.shape
    threshold = float(np.float32(params.epsilon * params.epsilon * height * width))
    l_t = float(np.float32(params.lambda_ * params.theta))
    taut = float(np.float32(params.tau / params.theta))
    theta = float(np.float32(params.theta))
    sizes = (l_t, theta, taut)
    i1x, i1y = centered_gradient(i1)
    i1_stack = torch.stack((i1, i1x, i1y), dim=1)
    p = u.new_zeros((batch, 2, 2, height, width))
    for _ in range(params.warps):
        subset = _Subset(u, p, steps.warp(i0, i1_stack, u))
        for _ in range(params.outer_iterations):
            if not subset.compact():
                break
            if params.median_filtering > 1:
                subset.su = steps.median(subset.su, params.median_filtering)
            for n in range(params.inner_iterations):
                if n % check_every == 0 and not subset.compact():
                    break
                subset.su, subset.sp, subset.active = steps.inner(
                    subset.su, subset.sp, subset.active, subset.warp, sizes, threshold
                )
            else:
                continue
            break
        u, p = subset.write_back()
    return u


def _check_frames(first: torch.Tensor, second: torch.Tensor) -> None:
    for name, x in (("first", first), ("second", second)):
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"tvl1_flow: {name} is a {type(x).__name__}, not a torch.Tensor")
        if x.dim() != 3:
            raise ValueError(
                f"tvl1_flow: {name} has shape {tuple(x.shape)}; expected (B, H, W) grey frames"
            )
        if x.dtype not in (torch.uint8, torch.float32):
            raise ValueError(f"tvl1_flow: {name} is {x.dtype}; expected uint8 or float32")
    if first.shape != second.shape:
        raise ValueError(
            f"tvl1_flow: first {tuple(first.shape)} and second {tuple(second.shape)} differ"
        )
    if first.device != second.device:
        raise ValueError(f"tvl1_flow: first on {first.device}, second on {second.device}")
    if first.shape[1] < 3 or first.shape[2] < 3:
        raise ValueError(f"tvl1_flow: frames of {tuple(first.shape[1:])} are under 3x3 pixels")


def resolve_compiled(device: torch.device, compiled: bool | None) -> bool:
    """What ``compiled`` means on ``device``: None -> :data:`COMPILE_BY_DEFAULT` for its
    type, and on CUDA only where Triton (which torch.compile needs there) is installed."""
    if compiled is not None:
        return bool(compiled)
    if device.type == "cuda" and importlib.util.find_spec("triton") is None:
        return False
    return COMPILE_BY_DEFAULT.get(device.type, False)


def tvl1_flow(
    first: torch.Tensor,
    second: torch.Tensor,
    params: TVL1Params = TVL1Params(),
    *,
    compiled: bool | None = None,
    check_every: int | None = None,
) -> torch.Tensor:
    """TV-L1 flow from ``first`` to ``second``: OpenCV's ``calc(first[b], second[b])``.

    first, second: (B, H, W) uint8 or float32 grey levels 0..255 on any device; returns
    (B, H, W, 2) float32 flow (x then y, pixels) on the same device. ``compiled``: use
    torch.compile (None: :data:`COMPILE_BY_DEFAULT` for the device type). ``check_every``:
    inner steps between checks that every pair has converged (a host sync on GPUs; default 1
    on CPU, where it costs nothing, and 10 elsewhere); it changes no result, only how much
    masked work is done after the last pair converged.
    """
    _check_frames(first, second)
    device = first.device
    steps = _steps(resolve_compiled(device, compiled))
    if check_every is None:
        check_every = 1 if device.type == "cpu" else 10
    if check_every < 1:
        raise ValueError(f"tvl1_flow: check_every = {check_every}: must be >= 1")
    batch, height, width = first.shape
    sizes = pyramid_sizes(height, width, params)
    with torch.no_grad():
        levels = [torch.stack((first, second), dim=1).to(torch.float32)]
        for size in sizes[1:]:
            levels.append(resize_linear(levels[-1], size, scale=params.scale_step))
        u = levels[-1].new_zeros((batch, 2, *sizes[-1]))
        upscale = float(np.float32(1.0 / params.scale_step))
        for s in range(len(sizes) - 1, -1, -1):
            frames = levels[s]
            u = _one_level(frames[:, 0], frames[:, 1], u, params, steps, check_every)
            if s:
                u = resize_linear(u, sizes[s - 1]) * upscale
        return u.permute(0, 2, 3, 1).contiguous()
