"""config/activitynet13.yaml trains and tests out of the box: ``wtal train --test`` on an
ActivityNet-shaped set made from the real annotations (the class list, a few dozen real
videos' labels, durations and instances, in the W-TALC layout the config reads) with seeded
synthetic features, the default word vectors and no other file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.wtal.data.fixtures import object_array
from tests.wtal.test_cli import run_cli
from tests.wtal.training.test_text_assets import ANET_MISSING

ROOT = Path(__file__).resolve().parents[3]
ACTIVITYNET = ROOT.parent / "shared" / "data" / "activitynet13"
FILES = ("videoname", "subset", "duration", "classlist", "labels_all", "segments", "labels")
WIDTH = 64  # synthetic I3D-like features: 32 "RGB" then 32 "flow" channels
SHORT = 10  # segments: the config's min_segments (11) leaves these videos out


def annotations() -> dict[str, np.ndarray]:
    if not (ACTIVITYNET / "classlist.npy").is_file():
        pytest.skip(f"real ActivityNet1.3 annotations not found at {ACTIVITYNET}")
    return {name: np.load(ACTIVITYNET / f"{name}.npy", allow_pickle=True) for name in FILES}


def segments_of(duration: float) -> int:
    return int(duration * 25 / 16)  # the features' timing: 16 frames at 25 fps


def choose(data: dict[str, np.ndarray]) -> tuple[list[int], set[int]]:
    """(rows of the chosen videos, rows of the short ones): the first two short training
    videos and the first short validation video, with their classes and Playing flauta (a
    class word the default vectors lack), four longer training and two longer validation
    videos of each of those classes; single-label videos with instances only."""
    subset, labels = data["subset"], data["labels_all"]
    lengths = np.array([segments_of(float(d)) for d in data["duration"]])
    usable = [i for i in range(len(subset)) if len(labels[i]) == 1 and len(data["labels"][i])]
    short = [i for i in usable if lengths[i] <= SHORT and subset[i] == "training"][:2]
    short += [i for i in usable if lengths[i] <= SHORT and subset[i] == "validation"][:1]
    classes = list(dict.fromkeys([labels[i][0] for i in short] + ["Playing flauta"]))
    rows = list(short)
    for name in classes:
        for part, count in (("training", 4), ("validation", 2)):
            found = [
                i
                for i in usable
                if labels[i][0] == name and subset[i] == part and 30 < lengths[i] < 200
            ]
            rows += found[:count]
    return sorted(rows), set(short)


def write_dataset(folder: Path) -> tuple[list[str], list[str], set[str]]:
    """Write the chosen videos' annotations (W-TALC layout) and features; (their names,
    their subsets, the short ones)."""
    data = annotations()
    rows, short = choose(data)
    folder.mkdir(parents=True)
    for name in FILES:
        kept = data[name] if name == "classlist" else data[name][rows]
        np.save(folder / f"{name}.npy", kept, allow_pickle=True)
    rng = np.random.default_rng(13)
    lengths = [segments_of(float(data["duration"][i])) for i in rows]
    features = [rng.standard_normal((t, WIDTH)).astype(np.float32) for t in lengths]
    subsets = [str(data["subset"][i]) for i in rows]
    empty = next(k for k, i in enumerate(rows) if i not in short and subsets[k] == "training")
    features[empty][:] = 0  # an all-zero video: never in the similar pairs
    np.save(folder / "features.npy", object_array(features), allow_pickle=True)
    names = [str(data["videoname"][i]) for i in rows]
    return names, subsets, {names[k] for k, i in enumerate(rows) if i in short}


@pytest.mark.slow
def test_the_activitynet13_config_trains_and_tests_out_of_the_box(tmp_path):
    names, subsets, short = write_dataset(tmp_path / "annotations")
    validation = [n for n, s in zip(names, subsets, strict=True) if s == "validation"]
    assert len(short) == 3 and len(set(validation) & short) == 1 and len(names) > 24
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "base": str(ROOT / "config" / "activitynet13.yaml"),
                "results_dir": str(tmp_path / "results"),
                "dataset": {
                    "annotations": str(tmp_path / "annotations"),
                    "features": str(tmp_path / "annotations" / "features.npy"),
                },
                "training": {"device": "cpu"},
            }
        )
    )
    done = run_cli(
        "train", "--config", str(config), "--set", "training.iterations=3", "--no-progress",
        "--test",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    words = [line for line in done.stderr.splitlines() if "zero vectors" in line]
    assert len(words) == 1 and words[0].endswith(": " + ", ".join(ANET_MISSING))
    assert "have fewer than 11 segments" in done.stderr  # training (1 or 2 of them)
    assert f"1 of {len(validation)} videos of 'activitynet13' have fewer" in done.stderr  # test
    out = tmp_path / "results" / "activitynet13" / "train"
    summary = json.loads((out / "training.json").read_text())
    assert summary["substituted_words"] == ANET_MISSING
    assert summary["iterations_done"] == 3
    metrics = json.loads((out / "test_metrics.json").read_text())["selected"]
    assert metrics["average_mAP"] is not None
    assert len(metrics["mAP"]) == 10  # tIoU 0.5:0.95:0.05
    predicted = json.loads((out / "test_predictions.json").read_text())["results"]
    assert set(predicted) == set(validation) - short
