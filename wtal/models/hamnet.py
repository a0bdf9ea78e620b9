"""HAM-Net (Islam, Long, Radke, AAAI 2021) as a base model for the plug-in experiments of
paper Table 8 (docs/method.md §9.2-9.3), after ``asrafulashiq/hamnet`` (system/system_th.py,
utils/utils.py).

A classifier branch gives the CAS S (T x (C + 1)) and an attention branch the soft attention
a (T); during training the hybrid attention (soft a, semi-soft a_ss, hard a_h) makes four
attended CAS, each with a top-k MIL loss. ``model.mode: text`` replaces the final 1x1
convolution by TSM's text matching ("+TSM"); VLC's consistency loss reads a ("+VLC").
Inference reads S and a only, so it has no randomness in eval mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from wtal.errors import UsageError
from wtal.models.heads import ClassHead
from wtal.models.init import kaiming_uniform_init
from wtal.models.losses import guide_loss, mil_loss, sparsity_loss
from wtal.models.settings import TextInputs, TextSettings, head_spec
from wtal.models.tsm import temporal_pool

#: HAM-Net's target normalisation: [y, b] / (sum + 1e-4) (utils: ``topkloss``).
MIL_EPSILON = 1e-4


@dataclass
class HAMNetOutput:
    cas: Tensor  # S: (B, T, C + 1), background last
    attention: Tensor  # a: (B, T) in (0, 1), the soft attention

    @property
    def foreground(self) -> Tensor:
        """The soft attention a: what inference thresholds and VLC's consistency reads."""
        return self.attention


class HAMNet(nn.Module):
    """HAM-Net's two branches over features (B, T, D). Widths follow ``feature_dim`` (the
    published model: D = 2048, attention hidden 512 = D // 4)."""

    def __init__(
        self,
        num_classes: int,
        feature_dim: int = 2048,
        mode: str = "baseline",
        name_vectors: Tensor | None = None,
        context_length: int = 9,
        handcrafted_context: Tensor | None = None,
        temperature: float = 1.0,
        pool_width: int = 1,
        text: TextSettings | None = None,
    ) -> None:
        super().__init__()
        if feature_dim < 4:
            raise UsageError(f"feature_dim must be at least 4, not {feature_dim}")
        hidden = feature_dim // 4
        self.mode = mode
        self.num_classes = num_classes
        self.pool_width = pool_width
        # Everything of the classifier before its last 1x1 convolution.
        self.embedding = nn.Sequential(
            nn.Conv1d(feature_dim, feature_dim, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv1d(feature_dim, feature_dim, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Dropout(0.7),
        )
        # The final Conv_k1 -> C + 1 (with bias), or TSM's text matching ("+TSM").
        self.head = ClassHead(
            mode,
            num_classes,
            feature_dim,
            name_vectors=name_vectors,
            context_length=context_length,
            handcrafted_context=handcrafted_context,
            temperature=temperature,
            text=text,
        )
        self.attention = nn.Sequential(
            nn.Conv1d(feature_dim, hidden, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv1d(hidden, hidden, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv1d(hidden, 1, 1),
            nn.Sigmoid(),
        )
        # HAM-Net's init_weights: kaiming_uniform_(mode="fan_in", nonlinearity="leaky_relu")
        # with the default a = 0 (gain sqrt 2), zero biases, for every Conv and Linear; the
        # same as kaiming_uniform_init, which (as for TSM) also covers the text head's layers.
        kaiming_uniform_init(self)

    def forward(self, features: Tensor, reconstruct: bool = True) -> HAMNetOutput:
        """``features``: (B, T, D). ``reconstruct`` is accepted for the base-model protocol
        and ignored (HAM-Net has no autoencoder)."""
        del reconstruct
        x = features.transpose(1, 2)
        cas = self.head(self.embedding(x))
        attention = self.attention(x).squeeze(1)
        if self.pool_width > 1:  # HAM-Net's optional pool after both heads (``--rat2``)
            cas = temporal_pool(cas, self.pool_width)
            attention = temporal_pool(attention, self.pool_width)
        return HAMNetOutput(cas, attention)


def build_hamnet(
    num_classes: int, feature_dim: int, model: Mapping[str, Any], text: TextInputs
) -> HAMNet:
    """The registry's builder: HAM-Net from a ``model`` config section."""
    head = head_spec(model, text)
    return HAMNet(
        num_classes,
        feature_dim,
        mode=head.mode,
        name_vectors=head.name_vectors,
        context_length=head.context_length,
        handcrafted_context=head.handcrafted_context,
        temperature=head.temperature,
        pool_width=model["pool_width"],
        text=head.text,
    )


def hybrid_masks(attention: Tensor, drop_threshold: float) -> tuple[Tensor, Tensor, Tensor]:
    """(theta (B, 1), semi-soft a_ss (B, T), hard a_h (B, T)) of the soft attention a (B, T):
    theta = min a + drop_threshold (max a - min a) per video, a_ss = a [a > theta],
    a_h = [a > theta] (HAM-Net's ADL with ``--adl-include-min true``; training only)."""
    low = attention.min(dim=1, keepdim=True).values
    high = attention.max(dim=1, keepdim=True).values
    theta = low + drop_threshold * (high - low)
    kept = (attention > theta).to(attention.dtype)
    return theta, attention * kept, kept


def attended(cas: Tensor, mask: Tensor, shift: bool) -> Tensor:
    """mask * S, or with ``shift`` mask * (S - min_c S) + min_c S (the minimum over the
    C + 1 classes of each segment); ``mask`` (B, T)."""
    weight = mask.unsqueeze(2)
    if not shift:
        return weight * cas
    floor = cas.min(dim=2, keepdim=True).values
    return weight * (cas - floor) + floor


def hamnet_objective(
    out: HAMNetOutput, labels: Tensor, config: dict[str, Any]
) -> tuple[dict[str, Tensor], Tensor]:
    """HAM-Net's loss (§9.2): ``mil_base`` = L_b (S, background 1) + L_s (a S, background 0),
    ``mil_drop`` = L_h (hard, shifted, background 1) + L_ss (semi-soft, shifted, background
    0), each a top-k softmax MIL with targets / (sum + 1e-4); total = mil (0.8) mil_base +
    drop (0.2) mil_drop + sparsity (0.8) mean a + guide (0.8) mean |1 - a - softmax(S)_bg|."""
    spec = config["model"]["hamnet"]
    weights = spec["weights"]
    k_divisor = spec["k_divisor"]
    a, cas = out.attention, out.cas
    _, semi_soft, hard = hybrid_masks(a, spec["drop_threshold"])
    soft_cas = attended(cas, a, shift=False)
    semi_soft_cas, hard_cas = attended(cas, semi_soft, shift=True), attended(cas, hard, shift=True)
    # mil_loss(x, z) = CE(x, [y, 1]) + CE(z, [y, 0]): HAM-Net's two pairs exactly.
    terms = {
        "mil_base": mil_loss(cas, soft_cas, labels, k_divisor, MIL_EPSILON),
        "mil_drop": mil_loss(hard_cas, semi_soft_cas, labels, k_divisor, MIL_EPSILON),
        # One attention stream: the three-stream means of TSM's losses are its own.
        "sparsity": sparsity_loss(a, a, a),
        "guide": guide_loss(a, a, a, cas),
    }
    total = (
        weights["mil"] * terms["mil_base"]
        + weights["drop"] * terms["mil_drop"]
        + weights["sparsity"] * terms["sparsity"]
        + weights["guide"] * terms["guide"]
    )
    return terms, total
