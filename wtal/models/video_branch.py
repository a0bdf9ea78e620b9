"""The per-stream video branch (docs/method.md §2.1): cross-modal autoencoder, gated filtering, and
the attention head; two of them (RGB main / flow aux and the reverse) make one attention
module. TSM and VLC each own one."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def conv_block(cin: int, cout: int, kernel: int, dropout: float) -> nn.Sequential:
    """Conv1d (same length) -> LeakyReLU(0.2) -> Dropout."""
    return nn.Sequential(
        nn.Conv1d(cin, cout, kernel, padding=kernel // 2), nn.LeakyReLU(0.2), nn.Dropout(dropout)
    )


class StreamBranch(nn.Module):
    """One stream: ``main`` is filtered with a gate built from the ``aux`` stream."""

    def __init__(self, dim: int = 1024) -> None:
        """Widths follow the stream: ``dim`` 1024 (paper) gives hidden and head widths 512."""
        super().__init__()
        hidden = head = dim // 2
        self.encode = conv_block(dim, hidden, 3, 0.5)  # z from the auxiliary stream
        self.decode = conv_block(hidden, dim, 3, 0.5)  # aux -> main reconstruction
        self.global_gate = conv_block(dim, dim, 3, 0.5)
        self.local_gate = conv_block(hidden, dim, 3, 0.5)
        self.head = nn.Sequential(
            nn.Conv1d(dim, head, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Dropout(0.5),
            nn.Conv1d(head, head, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv1d(head, 1, 1),
            nn.Dropout(0.5),
        )

    def forward(
        self, main: Tensor, aux: Tensor, reconstruct: bool = True
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """``main``, ``aux``: (B, D, T). Returns attention (B, T), filtered main (B, D, T)
        and the reconstruction of main from aux (B, D, T), or None without ``reconstruct``
        (it only feeds the autoencoder loss: inference and the frozen VLC pass skip it)."""
        z = self.encode(aux)
        reconstruction = self.decode(z) if reconstruct else None
        g = self.global_gate(main.mean(dim=2, keepdim=True))  # (B, D, 1)
        local = self.local_gate(z)  # (B, D, T)
        gate = F.cosine_similarity(g, local, dim=1).unsqueeze(1)  # r_t, (B, 1, T)
        filtered = torch.sigmoid(local * gate) * main
        attention = torch.sigmoid(self.head(filtered)).squeeze(1)
        return attention, filtered, reconstruction


@dataclass
class AttentionOutput:
    attention: Tensor  # (B, T): mean of the two streams
    rgb: Tensor  # (B, T)
    flow: Tensor  # (B, T)
    filtered: Tensor  # (B, 2D, T): filtered RGB then filtered flow
    reconstruction_loss: Tensor | None  # MSE(aux -> main) summed over the streams, if made


class AttentionModule(nn.Module):
    """Both streams: RGB filtered by flow and flow filtered by RGB."""

    def __init__(self, stream_dim: int = 1024) -> None:
        super().__init__()
        self.stream_dim = stream_dim
        self.rgb = StreamBranch(stream_dim)
        self.flow = StreamBranch(stream_dim)

    def forward(self, features: Tensor, reconstruct: bool = True) -> AttentionOutput:
        """``features``: (B, 2D, T), RGB channels first."""
        rgb, flow = features[:, : self.stream_dim], features[:, self.stream_dim :]
        a_rgb, f_rgb, rec_rgb = self.rgb(rgb, flow, reconstruct)
        a_flow, f_flow, rec_flow = self.flow(flow, rgb, reconstruct)
        reconstruction = None
        if rec_rgb is not None and rec_flow is not None:
            reconstruction = F.mse_loss(rec_rgb, rgb) + F.mse_loss(rec_flow, flow)
        return AttentionOutput(
            attention=(a_rgb + a_flow) / 2,
            rgb=a_rgb,
            flow=a_flow,
            filtered=torch.cat([f_rgb, f_flow], dim=1),
            reconstruction_loss=reconstruction,
        )
