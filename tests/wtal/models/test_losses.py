"""Loss values on hand-made cases."""

from __future__ import annotations

import math

import pytest
import torch

from wtal.models import losses as L
from wtal.models.tsm import topk_video_logits


def test_topk_mean_uses_floor_t_over_divisor():
    cas = torch.tensor([[[5.0, 0.0], [1.0, 2.0], [3.0, 4.0], [0.0, 1.0]]])  # (1, T=4, 2)
    assert topk_video_logits(cas, 2).tolist() == [[4.0, 3.0]]  # k = 2
    assert topk_video_logits(cas, 7).tolist() == [[5.0, 4.0]]  # k = max(1, 0) = 1


def test_mil_loss_hand_computed():
    # One video, C = 1 (+ background), T = 1 so the top-k mean is the value itself.
    cas = torch.tensor([[[2.0, 0.0]]])
    suppressed = torch.tensor([[[1.0, -1.0]]])
    labels = torch.tensor([[1.0]])
    # p(S) = softmax([2, 0]); target [1, 1] / 2.  p(S_bar) = softmax([1, -1]); target [1, 0].
    log_p = torch.log_softmax(torch.tensor([2.0, 0.0]), 0)
    log_q = torch.log_softmax(torch.tensor([1.0, -1.0]), 0)
    expected = -(0.5 * log_p[0] + 0.5 * log_p[1]) - log_q[0]
    assert L.mil_loss(cas, suppressed, labels, 7).item() == pytest.approx(expected.item(), abs=1e-6)


def test_sparsity_and_guide():
    a = torch.tensor([[0.2, 0.4]])
    r, f = torch.tensor([[0.0, 1.0]]), torch.tensor([[0.5, 0.5]])
    assert L.sparsity_loss(a, r, f).item() == pytest.approx((0.3 + 0.5 + 0.5) / 3)
    cas = torch.zeros(1, 2, 2)  # softmax background probability 0.5 everywhere
    expected = (abs(1 - 0.2 - 0.5) + abs(1 - 0.4 - 0.5)) / 2
    expected = (expected + (0.5 + 0.5) / 2 + 0.0) / 3
    assert L.guide_loss(a, r, f, cas).item() == pytest.approx(expected)


def test_contrast_hinges():
    p, h, e = torch.tensor(1.0), torch.tensor(1.5), torch.tensor(2.0)
    assert L.contrast_loss(p, h, e, 0.1, 0.2).item() == 0.0  # both margins met
    p = torch.tensor(1.45)  # 1.45 - 1.5 + 0.1 = 0.05; 1.45 - 2.0 + 0.2 < 0
    assert L.contrast_loss(p, h, e, 0.1, 0.2).item() == pytest.approx(0.05)


def test_consistency_variants():
    a, b = torch.tensor([0.2, 0.8]), torch.tensor([0.4, 0.8])
    assert L.consistency(a, b, "mse").item() == pytest.approx(0.02)
    assert L.consistency(a, b, "mae").item() == pytest.approx(0.1)
    kl = 0.4 * math.log(0.4 / 0.2) + 0.6 * math.log(0.6 / 0.8)
    assert L.consistency(a, b, "kl").item() == pytest.approx(kl / 2, abs=1e-5)
    with pytest.raises(ValueError):
        L.consistency(a, b, "huber")


def test_co_activity_prefers_shared_high_attention_features():
    torch.manual_seed(0)
    t, d = 6, 8
    common = torch.randn(d)
    labels = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    # Both videos: the action (segments 0-2) shares one feature, background differs.
    x = torch.randn(2, t, d)
    x[:, :3] = common
    good = torch.full((2, t, 3), -5.0)
    good[:, :3, 0] = 5.0  # attention on the shared part
    bad = torch.full((2, t, 3), -5.0)
    bad[:, 3:, 0] = 5.0  # attention on the differing background
    assert L.co_activity_loss(x, good, labels, 1) < L.co_activity_loss(x, bad, labels, 1)
    # Pairs without a shared class contribute nothing.
    assert L.co_activity_loss(x, good, torch.tensor([[1.0, 0.0], [0.0, 1.0]]), 1).item() == 0.0


def test_contrast_is_per_video_then_averaged():
    # Video 0 meets its margins, video 1 does not: the mean of per-video hinges (0.15)
    # is not the hinge of the batch means (0.0).
    p, h, e = torch.tensor([0.0, 1.0]), torch.tensor([1.0, 0.8]), torch.tensor([2.0, 2.0])
    per_video = L.contrast_loss(p, h, e, 0.1, 0.2)
    assert per_video.tolist() == pytest.approx([0.0, 0.3])
    assert per_video.mean().item() == pytest.approx(0.15)
    assert L.contrast_loss(p.mean(), h.mean(), e.mean(), 0.1, 0.2).item() == 0.0


def test_mil_targets_with_the_authors_epsilon():
    cas = torch.tensor([[[2.0, 0.0]]])
    suppressed = torch.tensor([[[1.0, -1.0]]])
    labels = torch.tensor([[1.0]])
    log_p = torch.log_softmax(torch.tensor([2.0, 0.0]), 0)
    log_q = torch.log_softmax(torch.tensor([1.0, -1.0]), 0)
    # Targets y / (sum + 1e-4): [1, 1] / 2.0001 and [1, 0] / 1.0001.
    expected = -(log_p.sum() / 2.0001) - log_q[0] / 1.0001
    value = L.mil_loss(cas, suppressed, labels, 7, epsilon=1e-4).item()
    assert value == pytest.approx(expected.item(), abs=1e-6)
    assert value != pytest.approx(L.mil_loss(cas, suppressed, labels, 7).item(), abs=1e-6)
