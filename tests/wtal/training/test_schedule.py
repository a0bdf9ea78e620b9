"""The VLC learning rate on the authors' timing, and their Adam."""

from __future__ import annotations

import pytest
import torch

from wtal.training.optim import FairseqAdam
from wtal.training.schedule import vlc_learning_rate


def test_vlc_rate_at_the_first_iterations_and_after_the_warm_up():
    rate = lambda i: vlc_learning_rate(i, 4e-4, 400)  # noqa: E731  (1-based iterations)
    # The authors' iterations 0 and 1 run at the start rate; iteration i at f(i - 1).
    assert rate(1) == rate(2) == 1e-7
    assert rate(3) == pytest.approx(1e-7 + (4e-4 - 1e-7) / 400, rel=1e-12)  # f(1)
    assert rate(401) == pytest.approx(1e-7 + 399 * (4e-4 - 1e-7) / 400, rel=1e-12)  # f(399)
    assert rate(402) == pytest.approx(4e-4, rel=1e-12)  # f(400): the peak
    assert rate(1602) == pytest.approx(2e-4, rel=1e-12)  # f(1600) = peak x sqrt(400 / 1600)


def first_step(optimizer_class, gradient: float) -> float:
    p = torch.nn.Parameter(torch.zeros(1))
    optimizer = optimizer_class([p], lr=1.0)
    p.grad = torch.tensor([gradient])
    optimizer.step()
    return -p.item()


def test_fairseq_adam_adds_epsilon_before_the_bias_correction():
    g = 1e-7
    # torch: g / (|g| + 1e-8); the authors': g / (|g| + 1e-8 / sqrt(1 - 0.999)).
    assert first_step(torch.optim.Adam, g) == pytest.approx(g / (g + 1e-8), rel=1e-5)
    assert first_step(FairseqAdam, g) == pytest.approx(g / (g + 1e-8 / 0.001**0.5), rel=1e-5)
    # For ordinary gradients the two agree.
    assert first_step(FairseqAdam, 0.3) == pytest.approx(first_step(torch.optim.Adam, 0.3))


def test_fairseq_adam_state_round_trips():
    p = torch.nn.Parameter(torch.ones(3))
    optimizer = FairseqAdam([p], lr=0.1)
    p.grad = torch.tensor([1.0, -2.0, 0.5])
    optimizer.step()
    clone = FairseqAdam([torch.nn.Parameter(p.detach().clone())], lr=0.1)
    clone.load_state_dict(optimizer.state_dict())
    assert clone.state_dict()["state"][0]["step"] == 1
