"""The losses of docs/method.md §2.3, 3 and 4, as pure functions of tensors."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from wtal.config.sections import TrainingSettings, read_section
from wtal.errors import UsageError
from wtal.models.tsm import TSMOutput, topk_video_logits


def mil_loss(
    cas: Tensor, suppressed: Tensor, labels: Tensor, k_divisor: int, epsilon: float = 0.0
) -> Tensor:
    """CE(p(S), [y, 1]) + CE(p(S_bar), [y, 0]), targets normalised to sum 1; batch mean.

    ``labels``: (B, C) multi-hot video labels. ``epsilon`` > 0 normalises by sum + epsilon
    instead (the authors' code: 1e-4, so targets sum to slightly less than 1)."""
    ones = torch.ones_like(labels[:, :1])
    with_bg = torch.cat([labels, ones], dim=1)
    without_bg = torch.cat([labels, torch.zeros_like(ones)], dim=1)
    loss = 0.0
    for scores, target in ((cas, with_bg), (suppressed, without_bg)):
        total = target.sum(dim=1, keepdim=True)
        target = target / (total + epsilon if epsilon > 0 else total.clamp_min(1e-8))
        log_p = F.log_softmax(topk_video_logits(scores, k_divisor), dim=1)
        loss = loss + -(target * log_p).sum(dim=1).mean()
    return loss


def co_activity_loss(
    embedding: Tensor, suppressed: Tensor, labels: Tensor, pairs: int, margin: float = 0.5
) -> Tensor:
    """W-TALC co-activity similarity loss on the first ``pairs`` consecutive video pairs.

    High-attention feature Hf = X^T softmax_t(S_bar), low Lf = X^T (1 - softmax) / (T - 1);
    cosine distances; hinge with ``margin``; weighted by the classes the pair shares."""
    total = embedding.new_zeros(())
    count = embedding.new_zeros(())
    classes = labels.shape[1]
    for i in range(0, 2 * pairs, 2):
        common = labels[i] * labels[i + 1]
        if common.sum() == 0:
            continue
        feats = []
        for j in (i, i + 1):
            attention = suppressed[j, :, :classes].softmax(dim=0)  # (T, C)
            x = embedding[j]  # (T, D)
            n = max(x.shape[0] - 1, 1)
            feats.append((x.T @ attention, x.T @ ((1 - attention) / n)))
        (h1, l1), (h2, l2) = feats
        d12 = 1 - F.cosine_similarity(h1, h2, dim=0)
        d1l2 = 1 - F.cosine_similarity(h1, l2, dim=0)
        d2l1 = 1 - F.cosine_similarity(h2, l1, dim=0)
        hinge = F.relu(d12 - d1l2 + margin) + F.relu(d12 - d2l1 + margin)
        total = total + 0.5 * (hinge * common).sum()
        count = count + common.sum()
    return total / count.clamp_min(1.0)


def sparsity_loss(attention: Tensor, rgb: Tensor, flow: Tensor) -> Tensor:
    return (attention.mean() + rgb.mean() + flow.mean()) / 3


def guide_loss(attention: Tensor, rgb: Tensor, flow: Tensor, cas: Tensor) -> Tensor:
    """Mean |1 - a - softmax(S)_bg| over the three attentions."""
    background = cas.softmax(dim=2)[:, :, -1]
    terms = [(1 - a - background).abs().mean() for a in (attention, rgb, flow)]
    return sum(terms) / 3


def contrast_loss(
    positive: Tensor, hard: Tensor, easy: Tensor, gamma1: float, gamma2: float
) -> Tensor:
    """max(0, L - L_hard + gamma1) + max(0, L - L_easy + gamma2), elementwise (per video
    when given per-video losses; the caller averages)."""
    return F.relu(positive - hard + gamma1) + F.relu(positive - easy + gamma2)


def consistency(source: Tensor, target: Tensor, kind: str) -> Tensor:
    """Pull ``source`` towards ``target`` (the caller detaches the target)."""
    if kind == "mse":
        return F.mse_loss(source, target)
    if kind == "mae":
        return F.l1_loss(source, target)
    if kind == "kl":  # per-segment Bernoulli KL(target || source)
        eps = 1e-6
        s, t = source.clamp(eps, 1 - eps), target.clamp(eps, 1 - eps)
        return (t * (t / s).log() + (1 - t) * ((1 - t) / (1 - s)).log()).mean()
    raise UsageError(f"unknown consistency {kind!r}")


def tsm_objective(
    out: TSMOutput, labels: Tensor, config: dict[str, Any]
) -> tuple[dict[str, Tensor], Tensor]:
    """TSM's loss terms (docs/method.md §2.3) and their weighted sum: MIL + co-activity + sparsity +
    guide (+ the cross-modal autoencoder when its weight is above 0 and it was computed)."""
    model, weights = config["model"], config["losses"]
    att = out.attention
    terms = {
        "mil": mil_loss(
            out.cas, out.suppressed, labels, model["k_divisor"], weights["mil_epsilon"]
        ),
        "co_activity": co_activity_loss(
            out.embedding0,
            out.suppressed,
            labels,
            read_section(config, TrainingSettings).similar_classes,
        ),
        "sparsity": sparsity_loss(att.attention, att.rgb, att.flow),
        "guide": guide_loss(att.attention, att.rgb, att.flow, out.cas),
    }
    total = (
        terms["mil"]
        + weights["co_activity"] * terms["co_activity"]
        + weights["sparsity"] * terms["sparsity"]
        + weights["guide"] * terms["guide"]
    )
    if weights["autoencoder"] > 0 and att.reconstruction_loss is not None:
        terms["autoencoder"] = att.reconstruction_loss
        total = total + weights["autoencoder"] * terms["autoencoder"]
    return terms, total
