"""BaSNet (Lee, Uh, Byun, AAAI 2020; ``Pilhyeon/BaSNet-pytorch`` model.py / train.py), one of
the two base models of the paper's plug-in experiments (Table 8; docs/method.md §9.1, §9.3).

A filtering module gives foreground weights w (B, T); one CAS module, the same weights for
both branches, scores the features (base branch) and the features times w (suppression
branch). With ``mode="text"`` the CAS module's last 1x1 convolution is TSM's text matching
("+TSM"), the class queries shared by both branches as the classifier is.

Widths follow ``feature_dim`` D (the published model: D = 2048): filter D -> D // 4 -> 1,
CAS D -> D -> D -> C + 1. Initialisation: PyTorch's defaults, as the repository (it sets
none).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wtal.errors import UsageError
from wtal.models.heads import ClassHead
from wtal.models.settings import TextInputs, TextSettings, head_spec
from wtal.models.tsm import topk_video_logits

#: model.basnet.loss values: bce = the repository's nn.BCELoss on the softmax scores;
#: ce = cross-entropy (the paper's description).
BASNET_LOSSES = ("bce", "ce")


@dataclass
class BaSNetOutput:
    cas: Tensor  # what inference localises with: the suppression branch's CAS (B, T, C + 1)
    base_cas: Tensor  # CAS of the unfiltered features (B, T, C + 1)
    suppressed_cas: Tensor  # CAS of w * X (B, T, C + 1); the same tensor as ``cas``
    weights: Tensor  # the filtering module's foreground weights w (B, T)

    @property
    def foreground(self) -> Tensor:
        """The foreground weights w (B, T) in (0, 1): what VLC's consistency loss ties."""
        return self.weights


class FilterModule(nn.Module):
    """Conv_k1 D -> D // 4, LeakyReLU(0.01), Conv_k1 -> 1, sigmoid."""

    def __init__(self, feature_dim: int) -> None:
        super().__init__()
        hidden = max(1, feature_dim // 4)
        self.layers = nn.Sequential(
            nn.Conv1d(feature_dim, hidden, 1),
            nn.LeakyReLU(),
            nn.Conv1d(hidden, 1, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        """``x`` (B, D, T) -> w (B, T)."""
        return self.layers(x).squeeze(1)


class CASModule(nn.Module):
    """Conv_k3 D -> D, LeakyReLU(0.01), Conv_k3 D -> D, LeakyReLU(0.01), Dropout 0.7, then the
    classifier (:class:`ClassHead`: a bias-free Conv_k1 -> C + 1, or the text matching)."""

    def __init__(self, feature_dim: int, head: ClassHead) -> None:
        super().__init__()
        self.embed = nn.Sequential(
            nn.Conv1d(feature_dim, feature_dim, 3, padding=1),
            nn.LeakyReLU(),
            nn.Conv1d(feature_dim, feature_dim, 3, padding=1),
            nn.LeakyReLU(),
            nn.Dropout(0.7),
        )
        self.head = head

    def forward(self, x: Tensor) -> Tensor:
        """``x`` (B, D, T) -> CAS (B, T, C + 1)."""
        return self.head(self.embed(x))


class BaSNet(nn.Module):
    def __init__(
        self,
        num_classes: int,
        name_vectors: Tensor | None,
        feature_dim: int = 2048,
        context_length: int = 9,
        handcrafted_context: Tensor | None = None,
        mode: str = "baseline",
        temperature: float = 1.0,
        text: TextSettings | None = None,
    ) -> None:
        super().__init__()
        self.mode = mode
        self.num_classes = num_classes
        head = ClassHead(
            mode,
            num_classes,
            feature_dim,
            name_vectors,
            context_length,
            handcrafted_context,
            temperature,
            text,
        )
        if head.classifier is not None:  # BaSNet's classifier has no bias
            head.classifier = nn.Conv1d(feature_dim, num_classes + 1, 1, bias=False)
        self.filter_module = FilterModule(feature_dim)
        self.cas_module = CASModule(feature_dim, head)

    def forward(self, features: Tensor, reconstruct: bool = True) -> BaSNetOutput:
        """``features`` (B, T, D). ``reconstruct`` is accepted for the common protocol and
        ignored (BaSNet has no autoencoder)."""
        del reconstruct
        x = features.transpose(1, 2)
        weights = self.filter_module(x)
        base = self.cas_module(x)
        suppressed = self.cas_module(x * weights.unsqueeze(1))
        return BaSNetOutput(suppressed, base, suppressed, weights)


def build_basnet(
    num_classes: int, feature_dim: int, model: Mapping[str, Any], text: TextInputs
) -> BaSNet:
    """The registry's builder: BaSNet from a ``model`` config section."""
    head = head_spec(model, text)
    return BaSNet(
        num_classes,
        head.name_vectors,
        feature_dim=feature_dim,
        context_length=head.context_length,
        handcrafted_context=head.handcrafted_context,
        mode=head.mode,
        temperature=head.temperature,
        text=head.text,
    )


def _normalised(labels: Tensor, background: float) -> Tensor:
    target = torch.cat([labels, torch.full_like(labels[:, :1], background)], dim=1)
    return target / target.sum(dim=1, keepdim=True).clamp_min(1e-8)


def branch_loss(cas: Tensor, target: Tensor, k_divisor: int, kind: str) -> Tensor:
    """One branch's video-level loss: softmax over C + 1 of the top-k mean over time, against
    the normalised ``target`` (B, C + 1). ``bce``: binary cross-entropy averaged over the
    C + 1 entries and the batch (nn.BCELoss, log clamped at -100 as it does); ``ce``:
    -sum_j target_j log p_j, batch mean."""
    logits = topk_video_logits(cas, k_divisor)
    if kind == "bce":
        return F.binary_cross_entropy(logits.softmax(dim=1), target)
    if kind == "ce":
        return -(target * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    raise UsageError(f"model.basnet.loss must be one of {BASNET_LOSSES}, not {kind!r}")


def basnet_objective(
    out: BaSNetOutput, labels: Tensor, config: dict[str, Any]
) -> tuple[dict[str, Tensor], Tensor]:
    """L_base + L_supp + alpha L_norm: targets [y, 1] (base) and [y, 0] (suppression), each
    divided by its sum; L_norm = batch mean of sum_t |w_t|."""
    spec = config["model"]["basnet"]
    k, kind = spec["k_divisor"], spec["loss"]
    terms = {
        "base": branch_loss(out.base_cas, _normalised(labels, 1.0), k, kind),
        "supp": branch_loss(out.suppressed_cas, _normalised(labels, 0.0), k, kind),
        "norm": out.weights.abs().sum(dim=1).mean(),
    }
    total = terms["base"] + terms["supp"] + spec["alpha"] * terms["norm"]
    return terms, total
