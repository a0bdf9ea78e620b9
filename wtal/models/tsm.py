"""Text-segment mining (docs/method.md §2): the WTAL model. Video branch -> embedding -> matching
against class text queries -> background-suppressed CAS; or, in ``baseline`` mode, a
convolutional classifier in place of the text matching (paper Table 3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from wtal.models.heads import class_scores, make_head
from wtal.models.init import kaiming_uniform_init
from wtal.models.settings import (
    AttentionSettings,
    FusionSettings,
    TextInputs,
    TextSettings,
    head_spec,
    model_settings,
)
from wtal.models.video_branch import AttentionModule, AttentionOutput, conv_block


@dataclass
class TSMOutput:
    cas: Tensor  # S: (B, T, C + 1)
    suppressed: Tensor  # S_bar: (B, T, C + 1)
    embedding0: Tensor  # X0: (B, T, 2048), for the co-activity loss
    attention: AttentionOutput

    @property
    def foreground(self) -> Tensor:
        """The fused attention att_m (B, T): what every base model offers inference and VLC."""
        return self.attention.attention


def temporal_pool(x: Tensor, width: int) -> Tensor:
    """Average over a sliding window of ``width`` segments along dim 1 (ActivityNet)."""
    if width <= 1:
        return x
    pooled = F.avg_pool1d(
        x.transpose(1, 2) if x.dim() == 3 else x.unsqueeze(1),
        width,
        1,
        width // 2,
        count_include_pad=True,
    )
    return pooled.transpose(1, 2) if x.dim() == 3 else pooled.squeeze(1)


class TSM(nn.Module):
    def __init__(
        self,
        num_classes: int,
        name_vectors: Tensor | None,
        feature_dim: int = 2048,
        context_length: int = 9,
        handcrafted_context: Tensor | None = None,
        mode: str = "text",
        temperature: float = 1.0,
        pool_width: int = 1,
        attention: AttentionSettings | None = None,
        fusion: FusionSettings | None = None,
        text: TextSettings | None = None,
    ) -> None:
        super().__init__()
        fusion = fusion or FusionSettings()
        self.mode = mode
        self.num_classes = num_classes
        self.temperature = temperature
        self.pool_width = pool_width
        self.attention = AttentionModule(feature_dim // 2, attention)
        self.embed0 = conv_block(feature_dim, feature_dim, fusion.kernel, fusion.dropout)
        self.embed1 = conv_block(feature_dim, feature_dim, 3, fusion.dropout)
        self.text, self.classifier = make_head(
            mode,
            num_classes,
            feature_dim,
            name_vectors,
            context_length,
            handcrafted_context,
            text,
        )
        kaiming_uniform_init(self)  # every Conv / Linear of TSM, as the authors initialise it

    def forward(self, features: Tensor, reconstruct: bool = True) -> TSMOutput:
        """``features``: (B, T, 2048) with RGB channels first. ``reconstruct``: also make the
        cross-modal autoencoder's reconstruction (for its loss; inference does without)."""
        x = features.transpose(1, 2)
        attention = self.attention(x, reconstruct)
        x0 = self.embed0(attention.filtered)
        xe = self.embed1(x0)
        cas = class_scores(xe, self.text, self.classifier, self.temperature)
        if self.pool_width > 1:
            cas = temporal_pool(cas, self.pool_width)
            attention = AttentionOutput(
                attention=temporal_pool(attention.attention, self.pool_width),
                rgb=temporal_pool(attention.rgb, self.pool_width),
                flow=temporal_pool(attention.flow, self.pool_width),
                filtered=attention.filtered,
                reconstruction_loss=attention.reconstruction_loss,
            )
        floor = cas.min(dim=2, keepdim=True).values
        suppressed = attention.attention.unsqueeze(2) * (cas - floor) + floor
        return TSMOutput(cas, suppressed, x0.transpose(1, 2), attention)


def build_tsm(
    num_classes: int, feature_dim: int, model: Mapping[str, Any], text: TextInputs
) -> TSM:
    """The registry's builder: TSM from a ``model`` config section."""
    head = head_spec(model, text)
    attention, fusion, _ = model_settings(model)
    return TSM(
        num_classes,
        head.name_vectors,
        feature_dim=feature_dim,
        context_length=head.context_length,
        handcrafted_context=head.handcrafted_context,
        mode=head.mode,
        temperature=head.temperature,
        pool_width=model["pool_width"],
        attention=attention,
        fusion=fusion,
        text=head.text,
    )


def topk_video_logits(cas: Tensor, k_divisor: int) -> Tensor:
    """Mean of the top-k segments per class, k = max(1, floor(T / k_divisor)): (B, C + 1)."""
    k = max(1, cas.shape[1] // k_divisor)
    return cas.topk(k, dim=1).values.mean(dim=1)
