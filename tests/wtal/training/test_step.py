"""The four-step update: which parameters get gradients at each optimizer step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.wtal.training.toy import toy_config, toy_dataset
from wtal.config.sections import TrainingSettings, read_section
from wtal.models.vlc import SentenceBatch
from wtal.training.batches import gather_batch, sample_batch
from wtal.training.setup import build_models, sentence_table, text_assets
from wtal.training.step import make_optimizers, sample_masks, train_step


def setup(config):
    torch.manual_seed(0)
    data = toy_dataset()
    text = text_assets(data, config)
    tsm, vlc = build_models(len(data.classes), 64, text, config)
    optimizers = make_optimizers(tsm, vlc, read_section(config, TrainingSettings))
    rng = np.random.default_rng(0)
    labels = data.label_matrix()
    batch = sample_batch(labels, rng)
    x = torch.from_numpy(gather_batch([v.features for v in data.videos], batch, 24, rng))
    ids, key, lengths = sentence_table(data, config["model"]["vlc"]["template"], text.vocabulary)
    sentences = SentenceBatch(
        torch.from_numpy(ids[batch]), torch.from_numpy(lengths[batch]), torch.from_numpy(key[batch])
    )
    return tsm, vlc, optimizers, x, torch.from_numpy(labels[batch]), sentences, rng


def grads(params):
    return [None if p.grad is None else p.grad.clone() for p in params]


@pytest.mark.parametrize("preset", ["official", "paper"])
def test_each_optimizer_step_sees_exactly_its_own_gradients(preset):
    config = toy_config(model={"preset": preset})
    tsm, vlc, optimizers, x, y, sentences, rng = setup(config)
    groups = {
        "tsm": list(tsm.parameters()),
        "reconstructor": vlc.reconstructor_parameters(),
        "attention": list(vlc.attention.parameters()),
    }
    # Optimisers own disjoint groups that cover every parameter.
    owned = {
        name: {id(p) for g in opt.param_groups for p in g["params"]}
        for name, opt in vars(optimizers).items()
    }
    assert owned["tsm"] == {id(p) for p in groups["tsm"]}
    assert owned["reconstructor"] == {id(p) for p in groups["reconstructor"]}
    assert owned["attention"] == {id(p) for p in groups["attention"]}
    seen = {}

    def recorder(name, optimizer):
        original = optimizer.step

        def step(*args, **kwargs):
            seen[name] = {g: grads(ps) for g, ps in groups.items()}
            return original(*args, **kwargs)

        optimizer.step = step

    for name, optimizer in vars(optimizers).items():
        recorder(name, optimizer)
    before = {g: [p.detach().clone() for p in ps] for g, ps in groups.items()}
    train_step(tsm, vlc, optimizers, x, y, sentences, config, rng, 1)

    def has(grad_list):
        return any(g is not None and g.abs().sum() > 0 for g in grad_list)

    # (2) reconstructor step: the frozen VLC attention and TSM got no gradient.
    assert has(seen["reconstructor"]["reconstructor"])
    assert all(g is None for g in seen["reconstructor"]["attention"])
    assert all(g is None for g in seen["reconstructor"]["tsm"])
    # (3) attention step: the frozen reconstructor's gradients are those of step (2).
    assert has(seen["attention"]["attention"])
    for a, b in zip(
        seen["attention"]["reconstructor"], seen["reconstructor"]["reconstructor"], strict=True
    ):
        assert (a is None and b is None) or torch.equal(a, b)
    assert all(g is None for g in seen["attention"]["tsm"])  # sg(att_m) in the VLC loss
    # (4) TSM step: sg(att_r) in the TSM loss leaves the VLC attention's gradients alone.
    assert has(seen["tsm"]["tsm"])
    for a, b in zip(seen["tsm"]["attention"], seen["attention"]["attention"], strict=True):
        assert (a is None and b is None) or torch.equal(a, b)
    # Every group moved.
    for name, params in groups.items():
        assert any(not torch.equal(p, q) for p, q in zip(params, before[name], strict=True)), name


def test_shared_attention_is_trained_by_the_tsm_optimizer_only():
    config = toy_config(model={"vlc": {"consistency": "share"}})
    tsm, vlc, optimizers, x, y, sentences, rng = setup(config)
    assert vlc.attention is tsm.attention and optimizers.attention is None
    values = train_step(tsm, vlc, optimizers, x, y, sentences, config, rng, 1)
    assert "consistency_tsm" not in values and "contrast" in values


def test_masks_cover_a_third_and_prefer_the_class_words():
    rng = np.random.default_rng(0)
    ids = torch.ones(4000, 9, dtype=torch.long)
    key = torch.zeros(4000, 9, dtype=torch.bool)
    key[:, 4:6] = True  # "a video of the high jump ..." style: 2 key words of 9
    lengths = torch.full((4000,), 9)
    lengths[:1000] = 2  # short sentences still get one masked word
    masks = sample_masks(SentenceBatch(ids, lengths, key), 1 / 3, 3.0, rng).numpy()
    assert (masks[:1000].sum(1) == 1).all() and not masks[:1000, 2:].any()
    assert (masks[1000:].sum(1) == 3).all()
    per_position = masks[1000:].mean(0)
    assert per_position[4:6].mean() > 2 * per_position[[0, 1, 2, 3, 6, 7, 8]].mean()


@pytest.mark.parametrize(("preset", "scope"), [("official", "whole"), ("paper", "own")])
def test_vlc_clipping_scope_and_one_set_of_inputs_per_step(preset, scope, monkeypatch):
    import wtal.training.step as step_module

    config = toy_config(model={"preset": preset})
    tsm, vlc, optimizers, x, y, sentences, rng = setup(config)
    clipped: list[set[int]] = []
    original_clip = step_module.nn.utils.clip_grad_norm_

    def clip(parameters, max_norm):
        parameters = list(parameters)
        clipped.append({id(p) for p in parameters})
        return original_clip(parameters, max_norm)

    calls = []
    original_inputs = vlc.inputs

    def inputs(*args, **kwargs):
        calls.append(1)
        return original_inputs(*args, **kwargs)

    monkeypatch.setattr(step_module.nn.utils, "clip_grad_norm_", clip)
    monkeypatch.setattr(vlc, "inputs", inputs)
    for iteration in (1, 2):
        train_step(tsm, vlc, optimizers, x, y, sentences, config, rng, iteration)
    everything = {id(p) for p in vlc.parameters()}
    reconstructor = {id(p) for p in vlc.reconstructor_parameters()}
    attention = {id(p) for p in vlc.attention.parameters()}
    if scope == "whole":  # the norm includes the other step's (stale) gradients
        assert clipped == [everything] * 4
    else:
        assert clipped == [reconstructor, attention] * 2
    assert len(calls) == 4  # the passes of each step share one set of inputs (one dropout draw)
