"""Inference on CUDA gives the CPU's detections: one checkpoint loaded on each device, through
the prediction path training and ``wtal infer`` share, and through ``wtal infer --device``.
All of it needs CUDA (without it the module is skipped); its CPU half, a checkpoint saved on
CUDA loading and predicting on a machine without CUDA, is in tests/wtal/training/test_cuda.py.

Tolerances (float32, TF32 off): raw outputs (CAS, attention) ``rtol 1e-5, atol 1e-6``,
detections with the same labels and segments and scores to ``1e-5``
(``assert_same_predictions``), mAP to 1e-6.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest
import torch
import yaml

from tests.wtal.training.test_cuda import assert_same_predictions, tf32_off
from wtal.cli import main
from wtal.data.open import open_dataset
from wtal.generate.synthetic_files import generate
from wtal.inference.predict import predict_videos, settings_from_config
from wtal.inference.run import evaluate_predictions
from wtal.models.checkpoint import load_model

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
DEVICE = "cuda"  # the device compared with the CPU


@pytest.fixture
def exact_float32() -> Iterator[None]:
    with tf32_off():
        yield


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A checkpoint trained on the CPU (4 iterations of the tiny synthetic set) and its
    config file."""
    root = tmp_path_factory.mktemp("cuda_infer")
    annotations = generate(root / "data", "tiny", seed=1, feature_dim=64)
    config = {
        "results_dir": str(root / "results"),
        "dataset": {
            "name": "tiny",
            "format": "activitynet",
            "annotations": str(annotations),
            "features": str(root / "data" / "features"),
            "train_subset": "validation",
            "test_subset": "test",
        },
        "training": {"iterations": 4, "max_seqlen": 32, "checkpoint_every": 2, "device": "cpu"},
        "evaluation": {"ambiguous_filter": False},
    }
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["train", "--config", str(path), "--no-progress"]) == 0
    checkpoint = root / "results" / "tiny" / "train" / "checkpoints" / "last.pt"
    return checkpoint, path


def test_cuda_outputs_and_detections_equal_the_cpu_ones(trained, exact_float32):
    checkpoint, _ = trained
    results, outputs = {}, {}
    for device in ("cpu", DEVICE):
        loaded = load_model(checkpoint, device)
        assert {p.device.type for p in loaded.model.parameters()} == {device}
        spec = loaded.config["dataset"]
        split = open_dataset(spec).subset(spec["test_subset"])
        outputs[device] = {}
        results[device] = predict_videos(
            loaded.model,
            split.videos,
            split.classes,
            loaded.norm,
            settings_from_config(loaded.config),
            torch.device(device),
            outputs=outputs[device],
        )
    assert outputs[DEVICE].keys() == outputs["cpu"].keys() and outputs["cpu"]
    for video, expected in outputs["cpu"].items():
        found = outputs[DEVICE][video]
        assert found.cas.dtype == np.float32 and found.attention.dtype == np.float32
        np.testing.assert_allclose(found.cas, expected.cas, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(found.attention, expected.attention, rtol=1e-5, atol=1e-6)
    assert_same_predictions(results[DEVICE], results["cpu"])
    assert any(results["cpu"]["results"].values())  # there were detections to compare
    cpu = evaluate_predictions(results["cpu"], split, loaded.config)
    cuda = evaluate_predictions(results[DEVICE], split, loaded.config)
    np.testing.assert_allclose(cuda.map, cpu.map, atol=1e-6)


def test_wtal_infer_on_cuda_writes_the_cpu_results(trained, tmp_path, exact_float32):
    checkpoint, config = trained
    written = {}
    for device in ("cpu", DEVICE):
        out = tmp_path / device
        args = ["--checkpoint", str(checkpoint), "--config", str(config), "--output", str(out)]
        assert main(["infer", *args, "--device", device, "--timelines", "0", "--no-progress"]) == 0
        written[device] = (
            json.loads((out / "predictions.json").read_text()),
            json.loads((out / "metrics.json").read_text()),
        )
    (cpu_predictions, cpu_metrics), (cuda_predictions, cuda_metrics) = (
        written["cpu"],
        written[DEVICE],
    )
    assert_same_predictions(cuda_predictions, cpu_predictions)
    np.testing.assert_allclose(cuda_metrics["mAP"], cpu_metrics["mAP"], atol=1e-6)
