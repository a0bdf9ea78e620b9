"""One training iteration, the four steps of docs/method.md §4 (TSM standing for whichever base
model the config names; its losses come from the model registry):

1. TSM forward and the TSM losses;
2. VLC forward with the VLC attention frozen; update the reconstructor on
   L_rec(positive) + L_rec(hard); add lambda x D(att_m, sg(att_r)) to the TSM loss;
3. VLC forward with the reconstructor frozen; update the VLC attention on
   L_c + its autoencoder loss + lambda x D(att_r, sg(att_m));
4. update TSM.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from wtal.config.sections import TrainingSettings, read_section
from wtal.errors import UsageError
from wtal.models import losses as L
from wtal.models.registry import base_model
from wtal.models.vlc import VLC, SentenceBatch, reconstruction_nll
from wtal.training.optim import FairseqAdam


@dataclass
class Optimizers:
    tsm: torch.optim.Optimizer
    reconstructor: torch.optim.Optimizer | None
    attention: torch.optim.Optimizer | None

    def state_dict(self) -> dict[str, Any]:
        return {k: (v.state_dict() if v is not None else None) for k, v in vars(self).items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, optimizer in vars(self).items():
            if optimizer is not None:
                optimizer.load_state_dict(state[key])


def torch_adam(parameters: list[nn.Parameter], **options: Any) -> torch.optim.Adam:
    """torch's Adam, fused where PyTorch has the fused kernel (CPU, CUDA): one pass over
    each tensor per step instead of about seven (16x faster on 96 M parameters on a 2-core
    CPU), the same update to float rounding."""
    fused = all(p.device.type in ("cpu", "cuda") for p in parameters)
    return torch.optim.Adam(parameters, fused=fused, **options)


def make_optimizers(tsm: nn.Module, vlc: VLC | None, training: TrainingSettings) -> Optimizers:
    """TSM's Adam (L2 weight decay) and, with VLC, the reconstructor's and the VLC
    attention's (``training.vlc_adam``; none for an attention shared with TSM)."""
    tsm_optimizer = torch_adam(
        list(tsm.parameters()), lr=training.tsm_lr, weight_decay=training.tsm_weight_decay
    )
    if vlc is None:
        return Optimizers(tsm_optimizer, None, None)
    adam = FairseqAdam if training.vlc_adam == "fairseq" else torch_adam
    reconstructor = adam(vlc.reconstructor_parameters(), lr=training.vlc_lr)
    attention = None
    if not vlc.shared_attention:
        attention = adam(list(vlc.attention.parameters()), lr=training.vlc_lr)
    return Optimizers(tsm_optimizer, reconstructor, attention)


def vlc_clip_parameters(vlc: VLC, scope: str, own: list[nn.Parameter]) -> list[nn.Parameter]:
    """What a VLC step clips: ``own`` (the parameters it updates), or with ``whole`` every
    VLC parameter, so that the norm includes the other step's stale gradients as in the
    authors' code (TSM's attention, when shared, is never part of it)."""
    if scope == "own":
        return own
    if scope == "whole":
        if vlc.shared_attention:
            return vlc.reconstructor_parameters()
        return list(vlc.parameters())
    raise UsageError(f"training.vlc_clip {scope!r}: unknown VLC clipping scope (own or whole)")


@contextlib.contextmanager
def frozen(parameters: list[nn.Parameter]) -> Iterator[None]:
    """No gradients into ``parameters`` inside the block."""
    previous = [p.requires_grad for p in parameters]
    for p in parameters:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(parameters, previous, strict=True):
            p.requires_grad_(flag)


def sample_masks(
    sentences: SentenceBatch, fraction: float, key_weight: float, rng: np.random.Generator
) -> Tensor:
    """Which words to mask: a ``fraction`` of each sentence (at least one), class-phrase
    words ``key_weight`` times likelier."""
    lengths = sentences.lengths.cpu().numpy()
    key = sentences.key_words.cpu().numpy()
    masks = np.zeros(key.shape, dtype=bool)
    for row, length in enumerate(lengths):
        count = max(1, round(fraction * length))
        weights = np.where(key[row, :length], key_weight, 1.0)
        chosen = rng.choice(
            length, size=min(count, length), replace=False, p=weights / weights.sum()
        )
        masks[row, chosen] = True
    return torch.from_numpy(masks).to(sentences.ids.device)


def _check(losses: dict[str, Tensor], iteration: int) -> None:
    for name, value in losses.items():
        if not torch.isfinite(value):
            raise FloatingPointError(
                f"loss '{name}' became {value.item()} at iteration {iteration}"
            )


def train_step(
    tsm: nn.Module,
    vlc: VLC | None,
    optimizers: Optimizers,
    features: Tensor,
    labels: Tensor,
    sentences: SentenceBatch | None,
    config: dict[str, Any],
    rng: np.random.Generator,
    iteration: int,
) -> dict[str, float]:
    """One iteration; returns the loss values (floats). Raises FloatingPointError naming
    the first non-finite loss, before any parameter is updated with it."""
    model, weights = config["model"], config["losses"]
    training = read_section(config, TrainingSettings)
    tsm.train()
    # The autoencoder's reconstructions are made only when their loss counts (paper: weight 0).
    autoencoder = weights["autoencoder"] > 0
    out = tsm(features, reconstruct=autoencoder)
    losses, tsm_total = base_model(model).objective(out, labels, config)
    foreground = out.foreground
    if vlc is not None and sentences is not None:
        vlc.train()
        spec = model["vlc"]
        objective, kind = spec["objective"], spec["consistency"]
        masks = (
            sample_masks(sentences, spec["mask_fraction"], spec["key_word_weight"], rng)
            if objective == "masked"
            else None
        )

        # (2) the reconstructor learns, the VLC attention is frozen. The positive and hard
        # passes read one set of inputs (one dropout draw).
        with torch.no_grad():  # its autoencoder loss is not needed here
            still = vlc.attend(features, reconstruct=False)
        inputs = vlc.inputs(still, sentences, objective, masks)
        ones = torch.ones_like(still.attention)
        losses["reconstruction"] = reconstruction_nll(
            vlc.decode(inputs, still.attention), inputs
        ).mean()
        losses["reconstruction_hard"] = reconstruction_nll(vlc.decode(inputs, ones), inputs).mean()
        _check(losses, iteration)
        optimizers.reconstructor.zero_grad(set_to_none=True)
        (
            weights["reconstruction"] * (losses["reconstruction"] + losses["reconstruction_hard"])
        ).backward()
        clip = training.vlc_clip
        own = vlc.reconstructor_parameters()
        nn.utils.clip_grad_norm_(vlc_clip_parameters(vlc, clip, own), training.clip_grad_norm)
        optimizers.reconstructor.step()
        if kind in ("mse", "kl", "mae"):
            losses["consistency_tsm"] = L.consistency(foreground, still.attention.detach(), kind)
            tsm_total = tsm_total + weights["consistency"] * losses["consistency_tsm"]

        # (3) the VLC attention learns, the reconstructor is frozen; the positive, hard and
        # easy passes share one set of inputs; hinges per video, then the mean.
        live = vlc.attend(features, autoencoder) if not vlc.shared_attention else out.attention
        with frozen(own):
            inputs = vlc.inputs(live, sentences, objective, masks)
            positive = reconstruction_nll(vlc.decode(inputs, live.attention), inputs)
            hard = reconstruction_nll(vlc.decode(inputs, torch.ones_like(live.attention)), inputs)
            easy = reconstruction_nll(vlc.decode(inputs, 1 - live.attention), inputs)
        losses["contrast"] = L.contrast_loss(
            positive, hard, easy, weights["gamma1"], weights["gamma2"]
        ).mean()
        attention_total = weights["contrast"] * losses["contrast"]
        if vlc.shared_attention:
            tsm_total = tsm_total + attention_total
        else:
            if autoencoder:
                losses["vlc_autoencoder"] = live.reconstruction_loss
                attention_total = (
                    attention_total + weights["autoencoder"] * live.reconstruction_loss
                )
            if kind in ("mse", "kl", "mae"):
                losses["consistency_vlc"] = L.consistency(live.attention, foreground.detach(), kind)
                attention_total = (
                    attention_total + weights["consistency"] * losses["consistency_vlc"]
                )
            _check(losses, iteration)
            optimizers.attention.zero_grad(set_to_none=True)
            attention_total.backward()
            nn.utils.clip_grad_norm_(
                vlc_clip_parameters(vlc, clip, list(vlc.attention.parameters())),
                training.clip_grad_norm,
            )
            optimizers.attention.step()

    # (4) TSM.
    _check(losses, iteration)
    optimizers.tsm.zero_grad(set_to_none=True)
    tsm_total.backward()
    optimizers.tsm.step()
    values = {k: float(v.detach()) for k, v in losses.items()}
    values["total_tsm"] = float(tsm_total.detach())
    values["attention_mean"] = float(foreground.detach().mean())
    return values
