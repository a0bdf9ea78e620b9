"""VLC inputs, targets, per-video losses and initialisation, as in the authors' code."""

from __future__ import annotations

import math

import pytest
import torch

from wtal.models.video_branch import AttentionOutput
from wtal.models.vlc import VLC, SentenceBatch, VLCInputs, reconstruction_nll


def model(**kwargs) -> VLC:
    torch.manual_seed(0)
    vectors = torch.randn(12, 50)
    vectors[0] = 0  # PAD / end
    return VLC(vectors, feature_dim=64, **kwargs)


def attention_output(batch: int = 2, t: int = 6) -> AttentionOutput:
    torch.manual_seed(1)
    a = torch.rand(batch, t)
    return AttentionOutput(a, a, a, torch.randn(batch, 64, t), torch.tensor(0.0))


SENTENCES = SentenceBatch(
    torch.tensor([[3, 4, 5, 6], [7, 8, 0, 0]]),  # lengths 4 and 2, PAD-padded
    torch.tensor([4, 2]),
    torch.zeros(2, 4, dtype=torch.bool),
)


def test_causal_targets_end_with_the_end_token_and_start_is_a_projected_zero_word():
    vlc = model().eval()
    inputs = vlc.inputs(attention_output(), SENTENCES, "causal", None)
    assert inputs.tokens.shape == (2, 5, 16)
    # [START, w1..wM] predict [w1..wM, END]: the end token (id 0) follows the last word.
    assert inputs.target_ids.tolist() == [[3, 4, 5, 6, 0], [7, 8, 0, 0, 0]]
    assert inputs.targets.tolist() == [[True] * 5, [True, True, True, False, False]]
    # START is a zero word vector through the word projection: its bias, no free vector.
    assert torch.count_nonzero(vlc.start) == 0 and vlc.start.shape == (50,)
    assert torch.allclose(inputs.tokens[:, 0], vlc.word_in[1].bias.expand(2, -1))
    # No positional encoding on the words by default: a word's token is its projection.
    assert vlc.positions is None
    projected = vlc.word_in[1](vlc.word_vectors[SENTENCES.ids])
    assert torch.allclose(inputs.tokens[:, 1:], projected)


def test_word_positions_are_an_option():
    vlc = model(word_positions=True).eval()
    assert vlc.positions is not None
    inputs = vlc.inputs(attention_output(), SENTENCES, "causal", None)
    projected = vlc.word_in[1](vlc.word_vectors[SENTENCES.ids])
    assert not torch.allclose(inputs.tokens[:, 1:], projected)


def test_masked_objective_predicts_only_the_masked_words_at_their_positions():
    vlc = model().eval()
    masked = torch.tensor([[False, True, False, False], [True, False, False, False]])
    inputs = vlc.inputs(attention_output(), SENTENCES, "masked", masked)
    assert inputs.targets.tolist() == [
        [False, False, True, False, False],
        [False, True] + [False] * 3,
    ]
    assert inputs.target_ids[0, 2] == 4 and inputs.target_ids[1, 1] == 7
    mask_token = vlc.word_in[1](vlc.mask_token)
    assert torch.allclose(inputs.tokens[0, 2], mask_token)


def test_nll_is_averaged_per_video_then_over_videos():
    # Two videos with 3 and 1 target positions; uniform logits over V = 4 words give
    # NLL log 4 everywhere except where one logit is raised.
    logits = torch.zeros(2, 3, 4)
    logits[1, 0, 2] = 2.0  # video 1's only target: word 2, favoured
    inputs = VLCInputs(
        video=torch.zeros(2, 1, 1),
        tokens=torch.zeros(2, 3, 1),
        target_ids=torch.tensor([[1, 2, 3], [2, 0, 0]]),
        targets=torch.tensor([[True, True, True], [True, False, False]]),
        causal=True,
    )
    eps = 0.1
    log_p = torch.log_softmax(torch.tensor([0.0, 0.0, 2.0, 0.0]), 0)
    favoured = (1 - eps) * -log_p[2] + eps / 4 * -log_p.sum()
    per_video = reconstruction_nll(logits, inputs, smoothing=eps)
    assert per_video.tolist() == pytest.approx([math.log(4), favoured.item()], abs=1e-6)
    # The loss is the mean of the two, not the mean over the 4 target tokens.
    token_mean = (3 * math.log(4) + favoured.item()) / 4
    assert per_video.mean().item() == pytest.approx((math.log(4) + favoured.item()) / 2)
    assert abs(per_video.mean().item() - token_mean) > 0.05


def test_passes_of_one_step_share_their_inputs_and_the_layers_have_no_dropout():
    vlc = model().train()  # dropout active on the inputs
    out = attention_output()
    first = vlc.inputs(out, SENTENCES, "causal", None)
    second = vlc.inputs(out, SENTENCES, "causal", None)
    assert not torch.equal(first.tokens, second.tokens)  # each call is one dropout draw
    ones = torch.ones(2, 6)
    # The same inputs decode identically in training mode: no dropout inside the layers.
    assert torch.equal(vlc.decode(first, ones), vlc.decode(first, ones))


def test_vlc_attention_projections_are_xavier_uniform_with_zero_bias():
    vlc = model()
    layer = vlc.reconstructor.encoder[0].attention
    dim = 16
    stacked = torch.cat([layer.query.weight, layer.key.weight, layer.value.weight])
    assert stacked.abs().max() <= math.sqrt(6 / (dim + 3 * dim)) + 1e-7
    assert layer.out.weight.abs().max() <= math.sqrt(6 / (2 * dim)) + 1e-7
    for part in (layer.query, layer.key, layer.value, layer.out):
        assert torch.count_nonzero(part.bias) == 0
