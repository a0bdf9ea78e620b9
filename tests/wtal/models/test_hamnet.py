"""HAM-Net as a base model: its layers, the hybrid attention, its losses on hand-made
tensors, the registry and checkpoint round trip, and the four-step update with VLC."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from tests.wtal.training.toy import toy_config, toy_dataset
from wtal.errors import ConfigError
from wtal.models.checkpoint import load_model, read_checkpoint
from wtal.models.hamnet import HAMNet, HAMNetOutput, attended, hamnet_objective, hybrid_masks
from wtal.models.registry import base_model, build_model
from wtal.models.settings import TextInputs
from wtal.training.loop import train
from wtal.training.step import train_step

CONFIG = toy_config(model={"base": "hamnet"})


def names(classes: int = 4) -> torch.Tensor:
    return torch.randn(classes, 2, 50)


@pytest.mark.parametrize("mode", ["baseline", "text"])
def test_shapes_widths_and_attention_range(mode):
    torch.manual_seed(0)
    model = HAMNet(4, 64, mode=mode, name_vectors=names() if mode == "text" else None).eval()
    out = model(torch.randn(3, 17, 64), reconstruct=False)
    assert isinstance(out, HAMNetOutput)
    assert out.cas.shape == (3, 17, 5) and out.attention.shape == (3, 17)
    assert out.foreground is out.attention
    assert ((out.attention > 0) & (out.attention < 1)).all()
    hidden = model.attention[0]
    assert (hidden.in_channels, hidden.out_channels, hidden.kernel_size) == (64, 16, (3,))
    assert [m.p for m in model.embedding if isinstance(m, nn.Dropout)] == [0.7]
    branches = [*model.embedding, *model.attention]
    slopes = [m.negative_slope for m in branches if isinstance(m, nn.LeakyReLU)]
    assert slopes == [0.2] * 4
    if mode == "text":
        assert model.head.classifier is None
        assert "head.text.name_vectors" in model.state_dict()
    else:
        final = model.head.classifier
        assert (final.in_channels, final.out_channels, final.kernel_size) == (64, 5, (1,))
        assert final.bias is not None


def test_kaiming_uniform_with_gain_sqrt2_and_zero_biases():
    torch.manual_seed(0)
    model = HAMNet(4, 64)
    for conv in (m for m in model.modules() if isinstance(m, nn.Conv1d)):
        fan_in = conv.in_channels * conv.kernel_size[0]
        bound = math.sqrt(6 / fan_in)  # sqrt(2) x sqrt(3 / fan_in)
        assert conv.weight.abs().max().item() <= bound
        if conv.weight.numel() >= 1000:  # PyTorch's default would give bound / sqrt(6)
            assert conv.weight.abs().max().item() > 0.95 * bound
            assert conv.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05)
        assert torch.equal(conv.bias, torch.zeros_like(conv.bias))


def test_eval_is_deterministic_and_training_draws_dropout():
    torch.manual_seed(0)
    model = HAMNet(4, 64)
    x = torch.randn(2, 20, 64)
    model.eval()
    with torch.no_grad():
        a, b = model(x), model(x)
    assert torch.equal(a.cas, b.cas) and torch.equal(a.attention, b.attention)
    model.train()
    with torch.no_grad():
        c, d = model(x), model(x)
    assert not torch.equal(c.cas, d.cas)
    assert torch.equal(c.attention, a.attention)  # the attention branch has no dropout


def test_hybrid_masks_by_hand():
    a = torch.tensor([[0.1, 0.5, 0.9, 0.3, 0.2], [0.0, 0.2, 1.0, 0.6, 0.1]])
    theta, semi_soft, hard = hybrid_masks(a, 0.2)
    # theta = min + 0.2 (max - min): 0.1 + 0.2 x 0.8 = 0.26; 0 + 0.2 x 1 = 0.2.
    assert torch.allclose(theta, torch.tensor([[0.26], [0.2]]))
    # Strictly above theta: 0.2 = theta in the second video is dropped.
    assert torch.equal(hard, torch.tensor([[0.0, 1, 1, 1, 0], [0, 0, 1, 1, 0]]))
    assert torch.equal(semi_soft, torch.tensor([[0.0, 0.5, 0.9, 0.3, 0], [0, 0, 1.0, 0.6, 0]]))


def test_attended_cas_by_hand():
    cas = torch.tensor([[[2.0, 0.0, 1.0], [0.0, 1.0, -1.0]]])
    mask = torch.tensor([[0.5, 0.0]])
    assert torch.equal(attended(cas, mask, shift=False), torch.tensor([[[1.0, 0, 0.5], [0, 0, 0]]]))
    # Shifted by each segment's minimum over the classes (0, then -1).
    assert torch.equal(
        attended(cas, mask, shift=True), torch.tensor([[[1.0, 0, 0.5], [-1, -1, -1]]])
    )


def ce(logits: list[float], target: list[float]) -> float:
    """-sum_j t_j log softmax(v)_j with t = target / (sum + 1e-4), by hand."""
    norm = sum(target) + 1e-4
    log_z = math.log(sum(math.exp(v) for v in logits))
    return -sum(t / norm * (v - log_z) for v, t in zip(logits, target, strict=True))


def test_objective_on_hand_made_tensors():
    # One video, T = 2 segments (k = max(1, 2 // 10) = 1: the top-1 is the maximum), classes
    # (c1, c2, background), label c1.
    cas = torch.tensor([[[2.0, 0.0, 1.0], [0.0, 1.0, -1.0]]])
    a = torch.tensor([[0.8, 0.2]])
    labels = torch.tensor([[1.0, 0.0]])
    # theta = 0.2 + 0.2 x 0.6 = 0.32: segment 0 kept; a_ss = (0.8, 0), a_h = (1, 0).
    l_b = ce([2.0, 1.0, 1.0], [1, 0, 1])  # max over time of S
    l_s = ce([1.6, 0.2, 0.8], [1, 0, 0])  # a S = [[1.6, 0, 0.8], [0, 0.2, -0.2]]
    l_ss = ce([1.6, 0.0, 0.8], [1, 0, 0])  # [[1.6, 0, 0.8], [-1, -1, -1]]
    l_h = ce([2.0, 0.0, 1.0], [1, 0, 1])  # [[2, 0, 1], [-1, -1, -1]]
    sparsity = 0.5
    bg0 = math.exp(1) / (math.exp(2) + 1 + math.exp(1))
    bg1 = math.exp(-1) / (1 + math.exp(1) + math.exp(-1))
    guide = (abs(1 - 0.8 - bg0) + abs(1 - 0.2 - bg1)) / 2
    terms, total = hamnet_objective(HAMNetOutput(cas, a), labels, CONFIG)
    expected = {
        "mil_base": l_b + l_s,
        "mil_drop": l_h + l_ss,
        "sparsity": sparsity,
        "guide": guide,
    }
    assert terms.keys() == expected.keys()
    for name, value in expected.items():
        assert terms[name].item() == pytest.approx(value, rel=1e-5), name
    hand_total = 0.8 * (l_b + l_s) + 0.2 * (l_h + l_ss) + 0.8 * sparsity + 0.8 * guide
    assert total.item() == pytest.approx(hand_total, rel=1e-5)
    # The weights are the config's.
    config = toy_config(
        model={"base": "hamnet", "hamnet": {"weights": {"mil": 1, "drop": 0, "guide": 0}}}
    )
    _, total = hamnet_objective(HAMNetOutput(cas, a), labels, config)
    assert total.item() == pytest.approx(l_b + l_s + 0.8 * sparsity, rel=1e-5)


def test_objective_uses_hamnets_k_and_is_a_batch_mean():
    torch.manual_seed(0)
    cas, a = torch.randn(2, 30, 5), torch.rand(2, 30)
    labels = torch.tensor([[1.0, 0, 0, 0], [0, 1, 1, 0]])
    # L_b + L_s of the first video with k = 30 // 10 = 3 (model.k_divisor, TSM's 7,
    # would give 4), targets [y, 1] / 2.0001 and [y, 0] / 1.0001.
    base = cas[0].topk(3, dim=0).values.mean(dim=0).log_softmax(dim=0)
    soft = (a[0, :, None] * cas[0]).topk(3, dim=0).values.mean(dim=0).log_softmax(dim=0)
    by_hand = -(base[0] + base[4]) / 2.0001 - soft[0] / 1.0001
    terms, _ = hamnet_objective(HAMNetOutput(cas[:1], a[:1]), labels[:1], CONFIG)
    assert terms["mil_base"].item() == pytest.approx(by_hand.item(), rel=1e-6)
    both, total = hamnet_objective(HAMNetOutput(cas, a), labels, CONFIG)
    each = [
        hamnet_objective(HAMNetOutput(cas[i : i + 1], a[i : i + 1]), labels[i : i + 1], CONFIG)
        for i in range(2)
    ]
    assert total.item() == pytest.approx((each[0][1] + each[1][1]).item() / 2, rel=1e-5)
    for name in both:
        assert both[name].item() == pytest.approx(
            (each[0][0][name] + each[1][0][name]).item() / 2, rel=1e-5
        )


@pytest.mark.parametrize("mode", ["baseline", "text"])
def test_build_model_from_the_config(mode):
    config = toy_config(model={"base": "hamnet", "mode": mode})
    assert base_model(config["model"]).proposals == "attention"
    torch.manual_seed(0)
    model = build_model(config["model"], 4, 64, TextInputs(names(), None))
    assert isinstance(model, HAMNet) and model.mode == mode
    assert model.attention[0].out_channels == 16
    assert (model.head.text is not None) == (mode == "text")
    assert model(torch.randn(1, 9, 64)).cas.shape == (1, 9, 5)


@pytest.mark.parametrize(("mode", "vlc"), [("baseline", False), ("text", True)])
def test_checkpoint_round_trip(tmp_path, mode, vlc):
    config = toy_config(
        model={"base": "hamnet", "mode": mode, "vlc": {"enabled": vlc}},
        training={"iterations": 2, "checkpoint_every": 2, "selection": "last"},
    )
    torch.manual_seed(0)
    result = train(config, toy_dataset(), tmp_path, validation=None, progress=False)
    last = read_checkpoint(tmp_path / "checkpoints" / "last.pt")
    untrained = read_checkpoint(tmp_path / "checkpoints" / "untrained.pt")
    loaded = load_model(result.selected)
    assert isinstance(loaded.model, HAMNet) and loaded.model.mode == mode
    assert loaded.config["model"]["base"] == "hamnet"
    state = loaded.model.state_dict()
    assert state.keys() == last["model"].keys()
    assert all(torch.equal(state[k], last["model"][k]) for k in state)
    assert any(not torch.equal(last["model"][k], untrained["model"][k]) for k in state)
    # A model built from the checkpoint's weights by hand says the same.
    rebuilt = build_model(
        last["config"]["model"],
        4,
        64,
        TextInputs(last["model"].get("head.text.name_vectors"), None),
    )
    rebuilt.load_state_dict(last["model"])
    rebuilt.eval()
    x = torch.randn(2, 31, 64)
    with torch.no_grad():
        a, b = loaded.model(x, reconstruct=False), rebuilt(x)
    assert torch.equal(a.cas, b.cas) and torch.equal(a.attention, b.attention)


def test_four_step_update_with_vlc():
    """HAM-Net learns from the base-model side only; the consistency term reaches its
    attention branch and leaves its classifier alone."""
    from tests.wtal.training.test_step import grads, setup

    def run(weight: float):
        config = toy_config(model={"base": "hamnet"}, losses={"consistency": weight})
        assert config["model"]["vlc"]["consistency"] == "mse"
        model, vlc, optimizers, x, y, sentences, rng = setup(config)
        assert isinstance(model, HAMNet)
        torch.manual_seed(1)
        seen = {}
        for name, optimizer in vars(optimizers).items():

            def step(*args, _name=name, _original=optimizer.step, **kwargs):
                seen[_name] = grads(list(model.parameters()))
                return _original(*args, **kwargs)

            optimizer.step = step
        values = train_step(model, vlc, optimizers, x, y, sentences, config, rng, 1)
        return model, seen, values

    model, seen, values = run(1.5)
    assert values["consistency_tsm"] > 0
    # VLC's two steps leave every HAM-Net gradient empty.
    assert all(g is None for g in seen["reconstructor"])
    assert all(g is None for g in seen["attention"])
    assert all(g is not None and g.abs().sum() > 0 for g in seen["tsm"])
    # The same iteration (same seeds) without the consistency term: only the attention
    # branch's gradients differ.
    _, plain, _ = run(0.0)
    params = dict(model.named_parameters())
    for (name, _), with_term, without in zip(
        params.items(), seen["tsm"], plain["tsm"], strict=True
    ):
        if name.startswith("attention."):
            assert not torch.allclose(with_term, without), name
        else:
            assert name.startswith(("embedding.", "head.")), name
            assert torch.allclose(with_term, without, rtol=1e-6, atol=1e-9), name


def test_share_consistency_is_refused_for_hamnet():
    from tests.wtal.training.test_step import setup

    config = toy_config(model={"base": "hamnet", "vlc": {"consistency": "share"}})
    with pytest.raises(ValueError, match="share needs a base model with TSM's attention"):
        setup(config)


def test_hamnet_is_in_the_schema_enum():
    with pytest.raises(ConfigError, match=r"'model\.base': 'hamnett' is not one of .*'hamnet'"):
        toy_config(model={"base": "hamnett"})
    assert np.isclose(CONFIG["model"]["hamnet"]["drop_threshold"], 0.2)
    assert CONFIG["model"]["hamnet"]["k_divisor"] == 10
    assert CONFIG["model"]["hamnet"]["weights"] == {
        "mil": 0.8,
        "drop": 0.2,
        "sparsity": 0.8,
        "guide": 0.8,
    }


@pytest.mark.slow
def test_training_beats_the_untrained_model(tmp_path):
    """HAM-Net baseline on the tiny synthetic set, with the reductions of
    tests/wtal/training/test_learning.py (128-d features, 64-segment batches, lr 1e-3), no
    VLC, 150 iterations (measured: average mAP 0.003 untrained, 0.46 after 150 iterations and
    0.27 after 300 with another dropout sequence; the test takes 17 s on an idle 2-core
    machine, 45 s of training when the cores are shared)."""
    from wtal.data.normalize import FeatureNorm
    from wtal.generate.synthetic_files import make_dataset
    from wtal.training.selection import evaluate_split
    from wtal.training.setup import build_models, text_assets

    data = make_dataset("tiny", seed=0, feature_dim=128)
    train_set, test_set = data.subset("validation"), data.subset("test")
    config = toy_config(
        model={"base": "hamnet", "mode": "baseline", "vlc": {"enabled": False}},
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
    assert isinstance(untrained, HAMNet)
    before = evaluate_split(untrained, test_set, FeatureNorm(), config, device)["metrics"]
    result = train(config, train_set, tmp_path, validation=None, progress=False)
    model = load_model(result.selected)
    after = evaluate_split(model.model, test_set, model.norm, config, device)["metrics"]
    assert before.average_map < 0.03
    assert after.average_map > 0.15
    assert after.average_map > 5 * max(before.average_map, 0.01)
    assert after.classification_map > before.classification_map
