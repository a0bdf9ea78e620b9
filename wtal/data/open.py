"""Open the dataset a configuration's ``dataset`` section describes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from wtal.data.activitynet import read_activitynet
from wtal.data.dataset import Dataset
from wtal.data.wtalc import read_wtalc
from wtal.evaluation.tables import load_ambiguous_file


def open_dataset(spec: dict[str, Any], with_features: bool = True) -> Dataset:
    """``spec`` is a validated ``dataset`` config section."""
    features = spec.get("features") if with_features else None
    if spec["format"] == "wtalc":
        return read_wtalc(spec["annotations"], features, spec.get("name"), spec.get("ambiguous"))
    dataset = read_activitynet(spec["annotations"], features, spec.get("name"))
    if spec.get("ambiguous"):
        intervals = load_ambiguous_file(spec["ambiguous"])
        videos = tuple(
            replace(v, ambiguous=intervals.get(v.video_id, np.zeros((0, 2))))
            for v in dataset.videos
        )
        dataset = replace(dataset, videos=videos)
    return dataset
