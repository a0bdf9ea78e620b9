"""The per-stream video branch (docs/method.md §2.1): cross-modal autoencoder, gated filtering, and
the attention head; two of them (RGB main / flow aux and the reverse) make one attention
module. TSM and VLC each own one. ``model.attention`` (:class:`AttentionSettings`) picks the
authors' THUMOS14 module (the defaults) or their ActivityNet1.3 one
(``BWA_fusion_dropout_feat_v3``: full-width bottleneck, channel gate, head dropout 0.7)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wtal.models.settings import AttentionSettings


def scaled_width(fraction: float, dim: int) -> int:
    """floor(fraction x dim), at least 1, immune to float noise (0.29 x 100 is 29, not 28)."""
    return max(1, int(round(fraction * dim, 6)))


def conv_block(cin: int, cout: int, kernel: int, dropout: float) -> nn.Sequential:
    """Conv1d (same length) -> LeakyReLU(0.2) -> Dropout."""
    return nn.Sequential(
        nn.Conv1d(cin, cout, kernel, padding=kernel // 2), nn.LeakyReLU(0.2), nn.Dropout(dropout)
    )


class StreamBranch(nn.Module):
    """One stream: ``main`` is filtered with a gate built from the ``aux`` stream."""

    def __init__(self, dim: int = 1024, settings: AttentionSettings | None = None) -> None:
        """Widths follow the stream: ``dim`` 1024 (paper) gives a head width of 512 and, by
        default, a bottleneck of 512."""
        super().__init__()
        settings = settings or AttentionSettings()
        hidden, head = scaled_width(settings.bottleneck, dim), dim // 2
        self.channel_gate = settings.channel_gate
        self.encode = conv_block(dim, hidden, 3, 0.5)  # z from the auxiliary stream
        self.decode = conv_block(hidden, dim, 3, 0.5)  # aux -> main reconstruction
        self.global_gate = conv_block(dim, dim, 3, 0.5)
        self.local_gate = conv_block(hidden, dim, 3, 0.5)
        self.head = nn.Sequential(
            nn.Conv1d(dim, head, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Dropout(settings.dropout),
            nn.Conv1d(head, head, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv1d(head, 1, 1),
            nn.Dropout(settings.dropout),
        )

    def forward(
        self, main: Tensor, aux: Tensor, reconstruct: bool = True
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """``main``, ``aux``: (B, D, T). Returns attention (B, T), filtered main (B, D, T)
        and the autoencoder's loss, MSE(reconstruction of main from aux, main) with main
        channel-gated if the gate is on, or None without ``reconstruct`` (only that loss
        needs it: inference and the frozen VLC pass skip it)."""
        z = self.encode(aux)  # the dropout draws in the authors' order: encode, decode, gates
        reconstruction = self.decode(z) if reconstruct else None
        g = self.global_gate(main.mean(dim=2, keepdim=True))  # (B, D, 1)
        if self.channel_gate:
            main = torch.sigmoid(g) * main
        loss = F.mse_loss(reconstruction, main) if reconstruction is not None else None
        local = self.local_gate(z)  # (B, D, T)
        gate = F.cosine_similarity(g, local, dim=1).unsqueeze(1)  # r_t, (B, 1, T)
        filtered = torch.sigmoid(local * gate) * main
        attention = torch.sigmoid(self.head(filtered)).squeeze(1)
        return attention, filtered, loss


@dataclass
class AttentionOutput:
    attention: Tensor  # (B, T): mean of the two streams
    rgb: Tensor  # (B, T)
    flow: Tensor  # (B, T)
    filtered: Tensor  # (B, 2D, T): filtered RGB then filtered flow
    reconstruction_loss: Tensor | None  # MSE(aux -> main) summed over the streams, if made


class AttentionModule(nn.Module):
    """Both streams: RGB filtered by flow and flow filtered by RGB."""

    def __init__(self, stream_dim: int = 1024, settings: AttentionSettings | None = None) -> None:
        super().__init__()
        self.stream_dim = stream_dim
        self.rgb = StreamBranch(stream_dim, settings)
        self.flow = StreamBranch(stream_dim, settings)

    def forward(self, features: Tensor, reconstruct: bool = True) -> AttentionOutput:
        """``features``: (B, 2D, T), RGB channels first."""
        rgb, flow = features[:, : self.stream_dim], features[:, self.stream_dim :]
        a_rgb, f_rgb, loss_rgb = self.rgb(rgb, flow, reconstruct)
        a_flow, f_flow, loss_flow = self.flow(flow, rgb, reconstruct)
        reconstruction = None
        if loss_rgb is not None and loss_flow is not None:
            reconstruction = loss_rgb + loss_flow
        return AttentionOutput(
            attention=(a_rgb + a_flow) / 2,
            rgb=a_rgb,
            flow=a_flow,
            filtered=torch.cat([f_rgb, f_flow], dim=1),
            reconstruction_loss=reconstruction,
        )
