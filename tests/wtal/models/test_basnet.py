"""BaSNet as a base model (docs/method.md §9.1, §9.3): shapes, the shared CAS module, the
losses on hand-made tensors, the registry, a checkpoint round trip, its place in the VLC
training step, and a short training on the synthetic set."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tests.wtal.training.toy import toy_config, toy_dataset
from wtal.config.sections import TrainingSettings, read_section
from wtal.data.normalize import FeatureNorm
from wtal.generate.synthetic_files import make_dataset
from wtal.inference.predict import settings_from_config
from wtal.models.basnet import BaSNet, BaSNetOutput, basnet_objective
from wtal.models.checkpoint import load_model, read_checkpoint
from wtal.models.registry import base_model, build_model
from wtal.models.settings import TextInputs
from wtal.models.vlc import SentenceBatch
from wtal.training.batches import gather_batch, sample_batch
from wtal.training.loop import train
from wtal.training.selection import evaluate_split
from wtal.training.setup import build_models, sentence_table, text_assets
from wtal.training.step import make_optimizers, train_step


def basnet_config(mode: str = "baseline", **sections):
    model = {"base": "basnet", "mode": mode, **sections.pop("model", {})}
    return toy_config(model=model, **sections)


@pytest.mark.parametrize("mode", ["baseline", "text"])
def test_shapes_and_foreground_weights(mode):
    torch.manual_seed(0)
    names = torch.randn(4, 2, 50) if mode == "text" else None
    model = BaSNet(4, names, feature_dim=64, context_length=3, mode=mode)
    out = model(torch.randn(2, 30, 64), reconstruct=False)
    assert isinstance(out, BaSNetOutput)
    for cas in (out.cas, out.base_cas, out.suppressed_cas):
        assert cas.shape == (2, 30, 5)
    assert out.cas is out.suppressed_cas  # inference localises with the suppression CAS
    assert out.foreground.shape == (2, 30)
    assert ((out.foreground > 0) & (out.foreground < 1)).all()
    # Widths follow feature_dim: filter 64 -> 16 -> 1, CAS 64 -> 64 -> 64 -> C + 1.
    assert model.filter_module.layers[0].out_channels == 16
    assert model.cas_module.embed[0].out_channels == 64
    assert model.cas_module.embed[4].p == 0.7
    head = model.cas_module.head
    if mode == "text":
        assert head.classifier is None and head.text is not None
        assert any(k.endswith("text.name_vectors") for k in model.state_dict())
    else:
        assert head.text is None and head.classifier.bias is None  # BaSNet's has no bias


@pytest.mark.parametrize("mode", ["baseline", "text"])
def test_both_branches_use_one_cas_module(mode):
    torch.manual_seed(0)
    names = torch.randn(4, 2, 50) if mode == "text" else None
    model = BaSNet(4, names, feature_dim=32, context_length=3, mode=mode).eval()
    with torch.no_grad():  # w = sigmoid(60) = 1 in float32: the suppression CAS is the base's
        model.filter_module.layers[2].weight.zero_()
        model.filter_module.layers[2].bias.fill_(60.0)
        out = model(torch.randn(2, 12, 32))
    assert torch.equal(out.foreground, torch.ones(2, 12))
    assert torch.equal(out.suppressed_cas, out.base_cas)
    # One set of CAS weights: the model holds the filter's and the CAS module's, nothing else.
    own = {id(p) for m in (model.filter_module, model.cas_module) for p in m.parameters()}
    assert own == {id(p) for p in model.parameters()}


def hand_output() -> tuple[BaSNetOutput, torch.Tensor]:
    """T = 4, k_divisor 2 -> k = 2: the top-2 mean of each column is v (v + 1 and v - 1)."""

    def cas(v):
        v = torch.tensor(v)
        return torch.stack([v + 1, v - 1, v - 10, v - 10]).expand(2, 4, 3).clone()

    base = cas([math.log(2), 0.0, 0.0])  # softmax [1/2, 1/4, 1/4]
    supp = cas([math.log(3), 0.0, 0.0])  # softmax [3/5, 1/5, 1/5]
    weights = torch.tensor([[0.5, 0.25, 0.25, 0.0], [1.0, 1.0, 0.0, 0.0]])  # L1: 1 and 2
    labels = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    return BaSNetOutput(supp, base, supp, weights), labels


def loss_config(kind):
    return {"model": {"basnet": {"alpha": 0.1, "k_divisor": 2, "loss": kind}}}


def test_bce_losses_by_hand():
    out, labels = hand_output()
    terms, total = basnet_objective(out, labels, loss_config("bce"))
    # base: p = [1/2, 1/4, 1/4], target [1, 0, 1] / 2; BCE averaged over the 3 entries.
    base = (math.log(2) - math.log(0.75) - 0.5 * math.log(0.25 * 0.75)) / 3
    # suppression: p = [3/5, 1/5, 1/5], target [1, 0, 0].
    supp = -(math.log(0.6) + 2 * math.log(0.8)) / 3
    assert terms["base"].item() == pytest.approx(base, rel=1e-5)
    assert terms["supp"].item() == pytest.approx(supp, rel=1e-5)
    assert terms["norm"].item() == pytest.approx(1.5)
    assert total.item() == pytest.approx(base + supp + 0.1 * 1.5, rel=1e-5)


def test_ce_losses_by_hand():
    out, labels = hand_output()
    terms, total = basnet_objective(out, labels, loss_config("ce"))
    base = -(0.5 * math.log(0.5) + 0.5 * math.log(0.25))  # = 1.5 ln 2
    supp = -math.log(0.6)
    assert terms["base"].item() == pytest.approx(base, rel=1e-5)
    assert terms["supp"].item() == pytest.approx(supp, rel=1e-5)
    assert total.item() == pytest.approx(base + supp + 0.15, rel=1e-5)
    with pytest.raises(ValueError, match=r"model\.basnet\.loss"):
        basnet_objective(out, labels, loss_config("hinge"))


def test_defaults_are_the_repository_s():
    spec = basnet_config()["model"]["basnet"]
    assert spec == {"alpha": 1e-4, "k_divisor": 8, "loss": "bce"}


@pytest.mark.parametrize("mode", ["baseline", "text"])
def test_built_from_the_config(mode):
    config = basnet_config(mode)
    data = toy_dataset()
    text = text_assets(data, config)
    model, vlc = build_models(len(data.classes), 64, text, config)
    assert isinstance(model, BaSNet) and model.mode == mode and vlc is not None
    assert base_model(config["model"]).proposals == "cas"
    assert settings_from_config(config).proposals == "cas"
    assert settings_from_config(config).cas_top_divisor == 8
    direct = build_model(config["model"], 4, 64, TextInputs(text.name_vectors, text.prompt_vectors))
    assert isinstance(direct, BaSNet)
    if mode == "text":
        assert torch.equal(direct.cas_module.head.text.name_vectors, text.name_vectors)


def test_inference_proposals_follow_the_config_over_the_base_model():
    config = basnet_config(inference={"proposals": "attention"})
    assert settings_from_config(config).proposals == "attention"
    assert settings_from_config(toy_config()).proposals == "attention"  # tsm's own


@pytest.mark.parametrize("mode", ["baseline", "text"])
def test_checkpoint_round_trip(tmp_path, mode):
    config = basnet_config(
        mode,
        model={"vlc": {"enabled": False}},
        training={"iterations": 2, "checkpoint_every": 2, "selection": "last"},
    )
    torch.manual_seed(0)
    result = train(config, toy_dataset(), tmp_path, validation=None, progress=False)
    loaded = load_model(result.selected)
    assert isinstance(loaded.model, BaSNet) and loaded.model.mode == mode
    saved = read_checkpoint(result.selected)["model"]
    state = loaded.model.state_dict()
    assert set(state) == set(saved)
    assert all(torch.equal(state[k], saved[k]) for k in saved)
    # A model built afresh from the registry with these weights says the same.
    fresh = build_model(
        config["model"],
        len(loaded.classes),
        loaded.feature_dim,
        TextInputs(saved.get("cas_module.head.text.name_vectors"), None),
    )
    fresh.load_state_dict(saved)
    fresh.eval()
    x = torch.randn(1, 20, 64)
    with torch.no_grad():
        a, b = loaded.model(x, reconstruct=False), fresh(x)
    assert torch.equal(a.cas, b.cas) and torch.equal(a.foreground, b.foreground)
    # Training moved the weights away from the untrained ones.
    untrained = read_checkpoint(tmp_path / "checkpoints" / "untrained.pt")["model"]
    assert any(not torch.equal(untrained[k], saved[k]) for k in saved)


def step_setup(config):
    torch.manual_seed(0)
    data = toy_dataset()
    text = text_assets(data, config)
    model, vlc = build_models(len(data.classes), 64, text, config)
    optimizers = make_optimizers(model, vlc, read_section(config, TrainingSettings))
    rng = np.random.default_rng(0)
    labels = data.label_matrix()
    batch = sample_batch(labels, rng)
    x = torch.from_numpy(gather_batch([v.features for v in data.videos], batch, 24, rng))
    ids, key, lengths = sentence_table(data, config["model"]["vlc"]["template"], text.vocabulary)
    sentences = SentenceBatch(
        torch.from_numpy(ids[batch]), torch.from_numpy(lengths[batch]), torch.from_numpy(key[batch])
    )
    return model, vlc, optimizers, x, torch.from_numpy(labels[batch]), sentences, rng


def recorded_step(config):
    """One train_step; the BaSNet gradients each optimiser step saw."""
    model, vlc, optimizers, x, y, sentences, rng = step_setup(config)
    seen = {}
    for name, optimizer in vars(optimizers).items():
        original = optimizer.step

        def step(*args, _name=name, _original=original, **kwargs):
            seen[_name] = {
                n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()
            }
            return _original(*args, **kwargs)

        optimizer.step = step
    values = train_step(model, vlc, optimizers, x, y, sentences, config, rng, 1)
    return seen, values


@pytest.mark.parametrize("mode", ["baseline", "text"])
def test_vlc_steps_leave_basnet_alone_and_the_consistency_pulls_its_weights(mode):
    config = basnet_config(mode)
    assert config["model"]["vlc"]["consistency"] == "mse"
    seen, values = recorded_step(config)
    assert "consistency_tsm" in values and "consistency_vlc" in values
    for step in ("reconstructor", "attention"):  # the VLC steps write nothing into BaSNet
        assert all(g is None for g in seen[step].values()), step
    tsm_step = seen["tsm"]
    assert all(g is not None for g in tsm_step.values())
    # The same step with lambda = 0 (same draws): the CAS module's gradients are the same,
    # the filtering module's differ by the consistency term's pull on w.
    quiet = basnet_config(mode, losses={"consistency": 0.0})
    without, _ = recorded_step(quiet)
    for name, grad in tsm_step.items():
        if name.startswith("cas_module."):
            assert torch.allclose(grad, without["tsm"][name], atol=1e-7), name
    assert any(
        not torch.allclose(grad, without["tsm"][name], atol=1e-7)
        for name, grad in tsm_step.items()
        if name.startswith("filter_module.")
    )


def test_shared_consistency_is_refused():
    config = basnet_config(model={"vlc": {"consistency": "share"}})
    data = toy_dataset()
    with pytest.raises(ValueError, match=r"share needs .* not 'basnet'"):
        build_models(len(data.classes), 64, text_assets(data, config), config)


@pytest.mark.slow
def test_training_beats_the_untrained_model(tmp_path):
    """200 iterations on the tiny synthetic set, 128-d, 64-segment batches, lr 1e-3 (as the
    TSM learning test; BaSNet's own 1e-4 learns too slowly for a test): measured avg mAP
    (tIoU 0.1:0.7) 0 untrained (no class reaches 0.25 of 8) -> 0.29; 6 s of training on an
    idle 2-core CPU, 51 s for the whole test on a loaded one."""
    data = make_dataset("tiny", seed=0, feature_dim=128)
    train_set, test_set = data.subset("validation"), data.subset("test")
    config = basnet_config(
        model={"vlc": {"enabled": False}},
        training={
            "iterations": 200,
            "max_seqlen": 64,
            "selection": "last",
            "tsm_lr": 1e-3,
            "tsm_weight_decay": 5e-4,
            "checkpoint_every": 200,
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
    assert before.average_map < 0.03
    assert after.average_map > 0.15
    assert after.average_map > 5 * max(before.average_map, 0.01)
    assert after.classification_map > before.classification_map
