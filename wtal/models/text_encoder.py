"""Class text queries (docs/method.md §2.2): prompt context + class-name word vectors -> one 2048-d
query per class, through a pointwise projection and one transformer block without
LayerNorm. Tokens attend only within their own class."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from wtal.errors import UsageError
from wtal.models.init import kaiming_uniform_init
from wtal.models.settings import TextSettings


class DropPath(nn.Module):
    """Stochastic depth: drop a whole residual branch per sample (here: per class)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        keep = torch.rand((x.shape[0],) + (1,) * (x.dim() - 1), device=x.device) >= self.p
        return x * keep.to(x.dtype) / (1 - self.p)


def sinusoidal_positions(length: int, dim: int) -> Tensor:
    """(length, dim) fixed positions in the tensor2tensor layout the authors use: sines of all
    frequencies in the first half of the channels, cosines in the second, frequencies
    10000^(-i / (dim/2 - 1)). Row 0 is all zeros (their table is built with padding index 0),
    so the query position carries no fixed offset and the classes' queries can differ from
    the start."""
    half = dim // 2
    step = math.log(10000.0) / max(half - 1, 1)
    frequency = torch.exp(torch.arange(half, dtype=torch.float32) * -step)
    angles = torch.arange(length, dtype=torch.float32)[:, None] * frequency[None]
    table = torch.cat([torch.sin(angles), torch.cos(angles), torch.zeros(length, dim % 2)], dim=1)
    table[0] = 0
    return table


def fixed_positions(length: int, dim: int, scale: str) -> Tensor:
    """:func:`sinusoidal_positions` as they are (``one``) or divided by sqrt(dim)
    (``inverse_sqrt_width``; in float32, as the authors divide their float32 table)."""
    table = sinusoidal_positions(length, dim)
    if scale == "one":
        return table
    if scale == "inverse_sqrt_width":
        return table / math.sqrt(dim)
    raise UsageError(f"unknown sinusoid_scale {scale!r} (known: one, inverse_sqrt_width)")


class TextEncoder(nn.Module):
    """Queries for C classes + background from fixed class-name word vectors.

    ``name_vectors``: (C, slots, word_dim) GloVe vectors of each class name (fixed).
    ``context``: ``learnable`` (N_p class-specific vectors) or a fixed (N_p, word_dim) tensor
    of handcrafted prompt words shared by all classes (e.g. "a video of").
    """

    def __init__(
        self,
        name_vectors: Tensor,
        context_length: int = 9,
        dim: int = 2048,
        handcrafted_context: Tensor | None = None,
        settings: TextSettings | None = None,
    ) -> None:
        super().__init__()
        settings = settings or TextSettings()
        classes, slots, word_dim = name_vectors.shape
        self.register_buffer("name_vectors", name_vectors.float(), persistent=True)
        if handcrafted_context is not None:
            context_length = handcrafted_context.shape[0]
        # Learnable context: Kaiming-uniform as the authors draw it over one
        # (C + 1, word_dim, N_p) tensor, whose fan-in is word_dim x N_p.
        bound = math.sqrt(6.0 / (word_dim * context_length))
        if handcrafted_context is None:
            self.context = nn.Parameter(
                torch.empty(classes, context_length, word_dim).uniform_(-bound, bound)
            )
            self.register_buffer("fixed_context", None)
        else:
            self.context = None
            self.register_buffer("fixed_context", handcrafted_context.float())
        # Background: its own learnable context and learnable word slots starting at zero.
        self.background_context = nn.Parameter(
            torch.empty(1, context_length, word_dim).uniform_(-bound, bound)
        )
        self.background_words = nn.Parameter(torch.zeros(1, slots, word_dim))
        length = context_length + slots
        self.project = nn.Sequential(nn.Linear(word_dim, dim), nn.LeakyReLU(0.2), nn.Dropout(0.5))
        # Learnable positions, one table per class (background included), N(0, std^2).
        self.positions = nn.Parameter(torch.randn(classes + 1, length, dim) * settings.position_std)
        table = fixed_positions(length, dim, settings.sinusoid_scale)
        self.register_buffer("fixed_positions", table, persistent=False)
        self.attention = nn.MultiheadAttention(dim, settings.heads, dropout=0.0, batch_first=True)
        self.mlp = nn.Sequential(
            nn.Linear(dim, 4 * dim),
            nn.GELU(),
            nn.Dropout(0.1),
            nn.Linear(4 * dim, dim),
            nn.Dropout(0.1),
        )
        self.scale_attention = nn.Parameter(torch.full((dim,), 1e-4))
        self.scale_mlp = nn.Parameter(torch.full((dim,), 1e-4))
        self.drop_path = DropPath(0.1)
        kaiming_uniform_init(self)  # the context above keeps its own draw

    def tokens(self) -> Tensor:
        """(C + 1, L, word_dim): context then name words, background last."""
        classes = self.name_vectors.shape[0]
        if self.context is not None:
            context = self.context
        else:
            context = self.fixed_context.unsqueeze(0).expand(classes, -1, -1)
        foreground = torch.cat([context, self.name_vectors], dim=1)
        background = torch.cat([self.background_context, self.background_words], dim=1)
        return torch.cat([foreground, background], dim=0)

    def forward(self) -> Tensor:
        """(C + 1, dim): the query of each class (output at position 0), background last."""
        x = self.project(self.tokens()) + self.positions + self.fixed_positions
        attended, _ = self.attention(x, x, x, need_weights=False)
        x = x + self.drop_path(self.scale_attention * attended)
        x = x + self.drop_path(self.scale_mlp * self.mlp(x))
        return x[:, 0]
