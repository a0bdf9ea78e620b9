"""The VLC learning-rate schedule: linear warm-up from 1e-7, then inverse-sqrt decay."""

from __future__ import annotations

import math


def warmup_inverse_sqrt(step: int, peak: float, warmup: int, start: float = 1e-7) -> float:
    """Learning rate at ``step`` (1-based): ``start`` -> ``peak`` over ``warmup`` steps, then
    ``peak x sqrt(warmup / step)``."""
    if warmup <= 0:
        return peak / math.sqrt(max(step, 1))
    if step <= warmup:
        return start + (peak - start) * step / warmup
    return peak * math.sqrt(warmup / step)
