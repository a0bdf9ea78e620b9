"""A short CPU training on the tiny synthetic set beats the untrained model by a wide margin
(mAP averaged over tIoU 0.1:0.7 by the project's evaluator, on the synthetic test videos)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.wtal.training.toy import toy_config
from wtal.data.normalize import FeatureNorm
from wtal.generate.synthetic_files import make_dataset
from wtal.models.checkpoint import load_model
from wtal.training.loop import train
from wtal.training.selection import evaluate_split
from wtal.training.setup import build_models, text_assets


@pytest.mark.slow
def test_training_beats_the_untrained_model(tmp_path):
    data = make_dataset("tiny", seed=0, feature_dim=128)
    train_set, test_set = data.subset("validation"), data.subset("test")
    # Reductions for a test: 128-d features, 64-segment batches, 150 iterations, and so a
    # larger TSM learning rate (1e-3) than the paper's. (2e-3 suited PyTorch's default
    # initialisation; with the authors' Kaiming-uniform weights, 2.4x larger, it overshoots:
    # mAP@0.5 0.014 vs 0.125 at 1e-3.)
    config = toy_config(
        training={
            "iterations": 150,
            "max_seqlen": 64,
            "selection": "last",
            "tsm_lr": 1e-3,
            "checkpoint_every": 150,
        },
        evaluation={"ambiguous_filter": False},
    )
    device = torch.device("cpu")
    torch.manual_seed(0)
    untrained, _ = build_models(len(data.classes), 128, text_assets(train_set, config), config)
    before = evaluate_split(untrained, test_set, FeatureNorm(), config, device)["metrics"]
    result = train(config, train_set, tmp_path, validation=None, progress=False)
    model = load_model(result.selected)
    after = evaluate_split(model.model, test_set, model.norm, config, device)["metrics"]
    at_05 = int(np.flatnonzero(np.isclose(after.tiou, 0.5))[0])
    assert before.map[at_05] < 0.02 and before.average_map < 0.03
    # The average over tIoU 0.1:0.7, not one threshold: on this tiny set mAP@0.5 after 150
    # iterations moves between 0.04 and 0.13 with the dropout draws alone (measured), the
    # average between 0.15 and 0.24.
    assert after.average_map > 0.10
    assert after.average_map > 5 * max(before.average_map, 0.01)
    assert after.classification_map > before.classification_map
