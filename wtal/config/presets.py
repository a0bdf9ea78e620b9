"""Where the paper and the authors' code disagree (docs/method.md), ``model.preset`` decides;
any value set explicitly in the config wins over the preset. The schema leaves these keys
null; :func:`wtal.config.schema.validate_config` fills them in as a config is loaded."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

PRESETS: dict[str, dict[tuple[str, ...], Any]] = {
    "paper": {
        ("model", "vlc", "objective"): "masked",
        ("model", "vlc", "template"): "a video of the [CLS]",
        ("model", "vlc", "video_causal"): False,
        ("model", "vlc", "word_positions"): True,
        ("losses", "autoencoder"): 0.0,
        ("losses", "gamma2"): 0.2,
        ("losses", "mil_epsilon"): 0.0,
        ("training", "tsm_lr"): 5e-4,
        ("training", "vlc_clip"): "own",
        ("training", "vlc_adam"): "torch",
        ("inference", "lone_first_segment"): "keep",
        ("inference", "soft_nms_order"): "first",
    },
    "official": {
        ("model", "vlc", "objective"): "causal",
        ("model", "vlc", "template"): "one video of the [CLS].",
        ("model", "vlc", "video_causal"): True,
        ("model", "vlc", "word_positions"): False,
        ("losses", "autoencoder"): 1.5,
        ("losses", "gamma2"): 0.15,
        ("losses", "mil_epsilon"): 1e-4,
        ("training", "tsm_lr"): 5e-5,
        ("training", "vlc_clip"): "whole",
        ("training", "vlc_adam"): "fairseq",
        ("inference", "lone_first_segment"): "drop",
        ("inference", "soft_nms_order"): "swap",
    },
}


def resolve_preset(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` (the schema's defaults filled in) with every preset-dependent
    ``null`` filled in by ``model.preset``'s value."""
    out = copy.deepcopy(config)
    for path, value in PRESETS[out["model"]["preset"]].items():
        node = out
        for key in path[:-1]:
            node = node[key]
        if node.get(path[-1]) is None:
            node[path[-1]] = value
    return out


def unresolved(section: str, values: Mapping[str, Any]) -> list[str]:
    """The preset's keys directly in the top-level ``section`` that ``values`` (that
    section) leaves null, as dotted keys."""
    keys = [path for path in PRESETS["official"] if len(path) == 2 and path[0] == section]
    return [".".join(path) for path in keys if values.get(path[1]) is None]
