"""A toy feature dataset (fixed seed) and a small config for fast training tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from wtal.config.overrides import merge
from wtal.config.schema import validate_config
from wtal.data.dataset import Dataset, VideoRecord

CLASSES = ("HighJump", "LongJump", "Billiards", "CleanAndJerk")


def toy_dataset(
    videos: int = 16, dim: int = 64, seed: int = 0, subset: str = "validation"
) -> Dataset:
    rng = np.random.default_rng(seed)
    records = []
    for i in range(videos):
        name = CLASSES[i % len(CLASSES)]
        t = int(rng.integers(40, 90))
        features = rng.standard_normal((t, dim)).astype(np.float32)
        s = int(rng.integers(5, t - 20))
        features[s : s + 10, : dim // 2] += 1.5 * (i % len(CLASSES) + 1) / len(CLASSES)
        records.append(
            VideoRecord(
                f"{subset}_{i:03d}",
                subset,
                t * 0.64,
                (name,),
                np.array([[s * 0.64, (s + 10) * 0.64]]),
                (name,),
                np.zeros((0, 2)),
                features,
            )
        )
    return Dataset("toy", CLASSES, tuple(records))


def toy_config(**sections: Any) -> dict[str, Any]:
    base = {
        "dataset": {"name": "toy", "format": "activitynet", "annotations": "unused.json"},
        "training": {"iterations": 4, "max_seqlen": 24, "checkpoint_every": 2, "log_every": 1},
    }
    return validate_config(merge(base, sections))
