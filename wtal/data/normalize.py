"""What features go through before a model sees them (fitted on the training videos, saved
with the model so that inference normalises exactly as training did)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from wtal.errors import UsageError


@dataclass
class FeatureNorm:
    """What features go through before the model: optional channel pooling (``pool``
    consecutive channels averaged, never across the RGB/flow boundary when ``pool`` divides
    1024; a CPU reduction of the width), then per-channel standardisation fitted on the
    training videos (or none)."""

    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    pool: int = 1

    @classmethod
    def fit(cls, features: list[np.ndarray], mode: str, pool: int = 1) -> FeatureNorm:
        dims = {f.shape[1] for f in features}
        if any(d % pool for d in dims):
            raise UsageError(
                f"features.channel_pool {pool} does not divide the feature size {dims}"
            )
        if mode == "none":
            return cls(pool=pool)
        pooled = cls(pool=pool)
        stacked = np.concatenate([pooled(f) for f in features]).astype(np.float64)
        return cls(
            stacked.mean(axis=0).astype(np.float32),
            np.maximum(stacked.std(axis=0), 1e-6).astype(np.float32),
            pool,
        )

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if self.pool > 1:
            x = x.reshape(x.shape[0], x.shape[1] // self.pool, self.pool).mean(axis=2)
        if self.mean is None:
            return x
        return (x - self.mean) / self.std

    def state(self) -> dict[str, Any]:
        """Tensors and ints only, so that checkpoints load with ``weights_only=True``."""
        return {
            "mean": None if self.mean is None else torch.from_numpy(self.mean),
            "std": None if self.std is None else torch.from_numpy(self.std),
            "pool": self.pool,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> FeatureNorm:
        state = state or {}

        def array(value: Any) -> np.ndarray | None:
            if isinstance(value, torch.Tensor):
                value = value.detach().cpu().numpy()
            return None if value is None else np.asarray(value, dtype=np.float32)

        return cls(array(state.get("mean")), array(state.get("std")), int(state.get("pool", 1)))
