"""The VLC learning-rate schedule: linear warm-up from 1e-7, then inverse-sqrt decay, on the
authors' timing: their scheduler sets the rate after each iteration's steps, from the index
of the iteration just done, so the first two iterations run at the start rate."""

from __future__ import annotations

import math


def warmup_inverse_sqrt(update: int, peak: float, warmup: int, start: float = 1e-7) -> float:
    """The fairseq inverse-sqrt rule at ``update`` (0-based): ``start + update x (peak -
    start) / warmup`` before ``warmup``, then ``peak x sqrt(warmup / update)``."""
    if warmup <= 0:
        return peak / math.sqrt(max(update, 1))
    if update < warmup:
        return start + (peak - start) * update / warmup
    return peak * math.sqrt(warmup / update)


def vlc_learning_rate(iteration: int, peak: float, warmup: int, start: float = 1e-7) -> float:
    """The rate used at training ``iteration`` (1-based): ``start`` at iterations 1 and 2,
    then the rule at ``iteration - 2`` (the authors' 0-based iteration i runs at f(i - 1))."""
    if iteration <= 2:
        return start
    return warmup_inverse_sqrt(iteration - 2, peak, warmup, start)
