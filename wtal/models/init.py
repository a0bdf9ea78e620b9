"""Weight initialisation as the authors' code does it (their THUMOS14 model files): every
convolution and linear layer of TSM Kaiming-uniform with zero bias; the VLC transformer's
attention projections Xavier-uniform with zero bias; everything else PyTorch's defaults."""

from __future__ import annotations

import torch
from torch import nn


def kaiming_uniform_init(module: nn.Module) -> None:
    """Kaiming-uniform weights (a = 0, fan-in) and zero biases for every convolution, linear
    layer and ``nn.MultiheadAttention`` projection under ``module``."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv1d, nn.Linear)):
            nn.init.kaiming_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.MultiheadAttention):
            # One (3 dim, dim) matrix holds the query, key and value projections; its fan-in
            # is that of each of them.
            nn.init.kaiming_uniform_(layer.in_proj_weight)
            nn.init.zeros_(layer.in_proj_bias)


def xavier_attention_init(
    query: nn.Linear, key: nn.Linear, value: nn.Linear, out: nn.Linear
) -> None:
    """Xavier-uniform over the stacked (3 dim, dim) input projection, as one matrix (so the
    bound is sqrt(6 / (dim + 3 dim)), not that of three square ones), Xavier-uniform output
    projection, zero biases."""
    stacked = torch.empty(3 * query.out_features, query.in_features)
    nn.init.xavier_uniform_(stacked)
    with torch.no_grad():
        for layer, rows in zip((query, key, value), stacked.chunk(3), strict=True):
            layer.weight.copy_(rows)
        nn.init.xavier_uniform_(out.weight)
        for layer in (query, key, value, out):
            nn.init.zeros_(layer.bias)
