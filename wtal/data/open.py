"""Open the dataset a configuration's ``dataset`` section describes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from wtal.data.actionformer import read_actionformer
from wtal.data.activitynet import read_activitynet
from wtal.data.dataset import Dataset
from wtal.data.timing import FeatureTiming
from wtal.data.wtalc import read_wtalc
from wtal.utils.segments import load_ambiguous_file


def open_dataset(spec: dict[str, Any], with_features: bool = True) -> Dataset:
    """``spec`` is a validated ``dataset`` config section. Its optional ``timing`` is the
    features' timing (``wtal.data.timing``): null = what the features record (``wtal
    extract``'s meta.json) or the format's known one (W-TALC: 16 frames at 25 fps;
    ActionFormer: 16 frames every 4 at each video's fps); given, it replaces the format's and
    must agree with what the features record."""
    features = spec.get("features") if with_features else None
    timing = None
    if spec.get("timing") is not None:
        timing = FeatureTiming.from_meta(spec["timing"], "dataset.timing", where="")
    if spec["format"] == "wtalc":
        dataset = read_wtalc(spec["annotations"], features, spec.get("name"), spec.get("ambiguous"))
        return dataset if timing is None else replace(dataset, timing=timing)
    if spec["format"] == "actionformer":
        dataset = read_actionformer(spec["annotations"], features, spec.get("name"), timing=timing)
    else:
        dataset = read_activitynet(spec["annotations"], features, spec.get("name"), timing=timing)
    if spec.get("ambiguous"):
        intervals = load_ambiguous_file(spec["ambiguous"])
        videos = tuple(
            replace(v, ambiguous=intervals.get(v.video_id, np.zeros((0, 2))))
            for v in dataset.videos
        )
        dataset = replace(dataset, videos=videos)
    return dataset
