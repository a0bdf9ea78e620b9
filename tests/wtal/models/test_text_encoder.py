"""The class queries at initialisation, as the authors build them: tensor2tensor sinusoid with
a zero query row, one learnable position table per class, Kaiming-uniform weights."""

from __future__ import annotations

import math

import torch

from wtal.models.text_encoder import TextEncoder, sinusoidal_positions
from wtal.models.tsm import TSM


def test_fixed_positions_are_the_tensor2tensor_table_with_a_zero_query_row():
    table = sinusoidal_positions(11, 2048)
    assert table.shape == (11, 2048)
    assert torch.count_nonzero(table[0]) == 0  # position 0 gives the query: no fixed offset
    half = 1024
    # Sines of every frequency first, then cosines; frequency i is 10000^(-i / (half - 1)).
    for p, i in ((1, 0), (3, 0), (5, 511), (10, 1023)):
        f = 10000.0 ** (-i / (half - 1))
        assert table[p, i].item() == pytest_approx(math.sin(p * f))
        assert table[p, half + i].item() == pytest_approx(math.cos(p * f))
    odd = sinusoidal_positions(3, 5)  # odd widths end in a zero channel
    assert odd.shape == (3, 5) and torch.count_nonzero(odd[:, 4]) == 0


def pytest_approx(value: float):
    import pytest

    return pytest.approx(value, abs=2e-6)


def encoder(classes: int = 3, dim: int = 2048) -> TextEncoder:
    torch.manual_seed(0)
    names = torch.randn(classes, 2, 50) * 0.4  # GloVe-like scale
    return TextEncoder(names, context_length=9, dim=dim)


def test_initial_queries_of_different_classes_differ():
    text = encoder().eval()
    with torch.no_grad():
        queries = text()
    unit = queries / queries.norm(dim=1, keepdim=True)
    cosine = unit @ unit.T
    off_diagonal = cosine[~torch.eye(4, dtype=torch.bool)]
    # With a sinusoid row of norm 32 added to every query (the old layout) this was 1.000.
    assert off_diagonal.max() < 0.7
    # The authors' queries at initialisation have norm ~3.4 at 2048-d (measured).
    assert 2.0 < queries.norm(dim=1).mean() < 5.0


def test_one_learnable_position_table_per_class_and_the_background():
    text = encoder(classes=3)
    assert text.positions.shape == (4, 11, 2048)
    assert abs(text.positions.std().item() - 1 / 32) < 0.001


def bound(fan_in: int) -> float:
    return math.sqrt(6.0 / fan_in)  # Kaiming-uniform, a = 0


def test_tsm_layers_are_kaiming_uniform_with_zero_bias():
    torch.manual_seed(0)
    tsm = TSM(20, torch.randn(20, 2, 50), feature_dim=512, context_length=9)
    checked = 0
    for module in tsm.modules():
        if isinstance(module, (torch.nn.Conv1d, torch.nn.Linear)):
            weight = module.weight
            fan_in = weight[0].numel()
            assert weight.abs().max() <= bound(fan_in) + 1e-7
            if weight.numel() > 5000:  # a uniform(-b, b) draw has std b / sqrt(3)
                assert abs(weight.std().item() / (bound(fan_in) / math.sqrt(3)) - 1) < 0.05
            assert module.bias is None or torch.count_nonzero(module.bias) == 0
            checked += 1
    attention = tsm.text.attention
    assert attention.in_proj_weight.abs().max() <= bound(512) + 1e-7
    assert abs(attention.in_proj_weight.std().item() / (bound(512) / math.sqrt(3)) - 1) < 0.05
    assert torch.count_nonzero(attention.in_proj_bias) == 0
    assert checked >= 20  # 14 in the two stream branches, 2 embedding, 4 text encoder
    # The prompt context: Kaiming-uniform over the authors' (C + 1, word_dim, N_p) tensor.
    context = torch.cat([tsm.text.context, tsm.text.background_context])
    assert context.abs().max() <= bound(50 * 9)
    assert abs(context.std().item() / (bound(50 * 9) / math.sqrt(3)) - 1) < 0.05
