"""Video-text language completion (docs/method.md §3): an attention module of its own finds the
segments that let a reconstructor complete the class sentence.

Objectives: ``masked`` (paper: a third of the words, at least one, replaced by a mask token
and predicted) and ``causal`` (the authors' code: teacher-forced left-to-right captioning).
Reconstructors: ``transformer`` (3 video self-attention layers, 3 word layers with
word->video cross-attention; post-LN; the attention weights over video keys are multiplied
by ``att_r + 1e-10`` and renormalised), ``gru`` and ``lstm`` (ablation, paper Table 6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wtal.errors import UsageError
from wtal.models.init import xavier_attention_init
from wtal.models.settings import AttentionSettings
from wtal.models.video_branch import AttentionModule, AttentionOutput


class WeightedAttention(nn.Module):
    """Multi-head attention whose softmaxed weights can be reweighted per key and renormalised."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)
        xavier_attention_init(self.query, self.key, self.value, self.out)

    def forward(
        self,
        queries: Tensor,
        keys: Tensor,
        key_weights: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> Tensor:
        """``queries`` (B, Q, D), ``keys`` (B, K, D), ``key_weights`` (B, K), ``mask`` (Q, K)
        boolean, True where attention is forbidden."""
        b, q, d = queries.shape
        k = keys.shape[1]
        h, dh = self.heads, d // self.heads
        qh = self.query(queries).view(b, q, h, dh).transpose(1, 2)
        kh = self.key(keys).view(b, k, h, dh).transpose(1, 2)
        vh = self.value(keys).view(b, k, h, dh).transpose(1, 2)
        scores = qh @ kh.transpose(-1, -2) / math.sqrt(dh)
        if mask is not None:
            scores = scores.masked_fill(mask, float("-inf"))
        weights = scores.softmax(dim=-1)
        if key_weights is not None:
            weights = weights * (key_weights[:, None, None, :] + 1e-10)
            weights = weights / weights.sum(dim=-1, keepdim=True)
        weights = self.dropout(weights)
        return self.out((weights @ vh).transpose(1, 2).reshape(b, q, d))


class EncoderLayer(nn.Module):
    """Post-LN self-attention + FFN over video segments (no dropout by default, as the
    authors' layers)."""

    def __init__(self, dim: int, heads: int, ffn: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.attention = WeightedAttention(dim, heads, dropout)
        self.norm1 = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(
            nn.Linear(dim, ffn), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ffn, dim)
        )
        self.norm2 = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, weights: Tensor, mask: Tensor | None) -> Tensor:
        x = self.norm1(x + self.dropout(self.attention(x, x, weights, mask)))
        return self.norm2(x + self.dropout(self.ffn(x)))


class DecoderLayer(nn.Module):
    """Post-LN word self-attention, word->video cross-attention, FFN."""

    def __init__(self, dim: int, heads: int, ffn: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.self_attention = WeightedAttention(dim, heads, dropout)
        self.cross_attention = WeightedAttention(dim, heads, dropout)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.ffn = nn.Sequential(
            nn.Linear(dim, ffn), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ffn, dim)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, words: Tensor, video: Tensor, weights: Tensor, word_mask: Tensor | None
    ) -> Tensor:
        x = self.norm1(words + self.dropout(self.self_attention(words, words, None, word_mask)))
        x = self.norm2(x + self.dropout(self.cross_attention(x, video, weights)))
        return self.norm3(x + self.dropout(self.ffn(x)))


def causal_mask(length: int, device: torch.device) -> Tensor:
    return torch.ones(length, length, dtype=torch.bool, device=device).triu(1)


class TransformerReconstructor(nn.Module):
    def __init__(
        self,
        dim: int = 512,
        heads: int = 4,
        ffn: int = 1024,
        layers: int = 3,
        video_causal: bool = False,
    ) -> None:
        super().__init__()
        self.video_causal = video_causal
        self.encoder = nn.ModuleList(EncoderLayer(dim, heads, ffn) for _ in range(layers))
        self.decoder = nn.ModuleList(DecoderLayer(dim, heads, ffn) for _ in range(layers))

    def forward(self, video: Tensor, weights: Tensor, words: Tensor, causal: bool) -> Tensor:
        video_mask = causal_mask(video.shape[1], video.device) if self.video_causal else None
        for layer in self.encoder:
            video = layer(video, weights, video_mask)
        word_mask = causal_mask(words.shape[1], words.device) if causal else None
        for layer in self.decoder:
            words = layer(words, video, weights, word_mask)
        return words


class RecurrentReconstructor(nn.Module):
    """GRU / LSTM ablation: the att-weighted mean of the video initialises the state."""

    def __init__(self, kind: str, dim: int = 512) -> None:
        super().__init__()
        cell = {"gru": nn.GRU, "lstm": nn.LSTM}[kind]
        self.kind = kind
        self.forward_rnn = cell(dim, dim, batch_first=True)
        self.backward_rnn = cell(dim, dim, batch_first=True)
        self.merge = nn.Linear(2 * dim, dim)

    def _run(self, rnn: nn.Module, words: Tensor, context: Tensor) -> Tensor:
        state = context.unsqueeze(0).contiguous()
        if self.kind == "lstm":
            state = (state, torch.zeros_like(state))
        return rnn(words, state)[0]

    def forward(self, video: Tensor, weights: Tensor, words: Tensor, causal: bool) -> Tensor:
        w = weights.unsqueeze(2) + 1e-10
        context = (video * w).sum(dim=1) / w.sum(dim=1)
        ahead = self._run(self.forward_rnn, words, context)
        if causal:
            return ahead
        behind = self._run(self.backward_rnn, words.flip(1), context).flip(1)
        return self.merge(torch.cat([ahead, behind], dim=2))


@dataclass
class SentenceBatch:
    """Token ids (B, M) of the sentences, with padding; ``lengths`` (B,)."""

    ids: Tensor
    lengths: Tensor
    key_words: Tensor  # (B, M) bool: words of the class phrase (masked more often)


@dataclass
class VLCInputs:
    """What the reconstructor reads, made once per optimiser step so that its positive,
    hard and easy passes share one draw of the input dropout (as the authors' single
    forward does). ``targets``: (B, P) bool, the predicted positions; ``target_ids`` (B, P)."""

    video: Tensor  # (B, T, dim)
    tokens: Tensor  # (B, P, dim)
    target_ids: Tensor
    targets: Tensor
    causal: bool


class VLC(nn.Module):
    def __init__(
        self,
        word_vectors: Tensor,
        feature_dim: int = 2048,
        reconstructor: str = "transformer",
        video_causal: bool = False,
        attention: AttentionModule | None = None,
        word_positions: bool = False,
        max_words: int = 64,
        attention_settings: AttentionSettings | None = None,
    ) -> None:
        """``word_vectors``: (V, word_dim) GloVe vectors of the VLC vocabulary (row 0 = PAD,
        which is also the end-of-sentence target). ``attention``: pass TSM's module to share
        it (the "Share" ablation). ``word_positions``: add learnable positions to the word
        tokens (the authors add none: order comes from the causal mask; the masked objective,
        which has no causal mask, needs them). ``attention_settings``: ``model.attention`` for
        VLC's own attention module."""
        super().__init__()
        dim = feature_dim // 4  # 512 for the paper's 2048-d features (FFN 2 x dim, 4 heads)
        word_dim = word_vectors.shape[1]
        self.shared_attention = attention is not None
        if attention is None:
            attention = AttentionModule(feature_dim // 2, attention_settings)
        self.attention = attention
        self.register_buffer("word_vectors", word_vectors.float())
        self.video_in = nn.Sequential(nn.Dropout(0.1), nn.Linear(feature_dim, dim))
        self.word_in = nn.Sequential(nn.Dropout(0.1), nn.Linear(word_dim, dim))
        # START and MASK are learnable word vectors starting at zero, projected like words.
        self.start = nn.Parameter(torch.zeros(word_dim))
        self.mask_token = nn.Parameter(torch.zeros(word_dim))
        self.positions = (
            nn.Parameter(torch.randn(max_words, dim) * 0.02) if word_positions else None
        )
        self.max_words = max_words
        if reconstructor == "transformer":
            self.reconstructor: nn.Module = TransformerReconstructor(
                dim, heads=4, ffn=2 * dim, video_causal=video_causal
            )
        elif reconstructor in ("gru", "lstm"):
            self.reconstructor = RecurrentReconstructor(reconstructor, dim)
        else:
            raise UsageError(f"unknown reconstructor {reconstructor!r}")
        self.output = nn.Linear(dim, word_vectors.shape[0])

    def reconstructor_parameters(self) -> list[nn.Parameter]:
        """Everything but the attention module."""
        own = {id(p) for p in self.attention.parameters()}
        return [p for p in self.parameters() if id(p) not in own]

    def attend(self, features: Tensor, reconstruct: bool = True) -> AttentionOutput:
        return self.attention(features.transpose(1, 2), reconstruct)

    def inputs(
        self,
        attention: AttentionOutput,
        sentences: SentenceBatch,
        objective: str,
        masked: Tensor | None,
    ) -> VLCInputs:
        """Projected video and word tokens with their targets (one dropout draw).

        causal: inputs [START, w1..wM] predict [w1..wM, END] (END = id 0, the PAD row);
        masked: inputs [START, w1..wM] with the ``masked`` words replaced by the mask token
        predict those words."""
        video = self.video_in(attention.filtered.transpose(1, 2))
        b, m = sentences.ids.shape
        if m + 1 > self.max_words:
            raise UsageError(
                f"sentences of {m} words exceed the VLC model's {self.max_words - 1} word "
                "positions (shorten model.vlc.template)"
            )
        start = self.start.expand(b, 1, -1)
        tokens = self.word_in(torch.cat([start, self.word_vectors[sentences.ids]], dim=1))
        positions = torch.arange(m + 1, device=tokens.device)[None]
        if objective == "causal":
            target_ids = torch.cat([sentences.ids, sentences.ids.new_zeros(b, 1)], dim=1)
            targets = positions <= sentences.lengths[:, None]
        elif objective == "masked":
            assert masked is not None
            mask_token = self.word_in[1](self.mask_token)
            words = torch.where(
                masked.unsqueeze(2), mask_token.expand_as(tokens[:, 1:]), tokens[:, 1:]
            )
            tokens = torch.cat([tokens[:, :1], words], dim=1)
            # Position p + 1 holds word p: predict it there.
            target_ids = torch.cat([sentences.ids.new_zeros(b, 1), sentences.ids], dim=1)
            targets = torch.cat([masked.new_zeros(b, 1), masked], dim=1)
        else:
            raise UsageError(f"unknown VLC objective {objective!r}")
        if self.positions is not None:
            tokens = tokens + self.positions[: m + 1]
        return VLCInputs(video, tokens, target_ids, targets, objective == "causal")

    def decode(self, inputs: VLCInputs, weights: Tensor) -> Tensor:
        """Word logits (B, P, V) with the video keys reweighted by ``weights`` (B, T)."""
        hidden = self.reconstructor(inputs.video, weights, inputs.tokens, inputs.causal)
        return self.output(hidden)


def reconstruction_nll(logits: Tensor, inputs: VLCInputs, smoothing: float = 0.1) -> Tensor:
    """(B,) label-smoothed NLL of each sentence, averaged over its target positions (the
    authors' per-video mean; the loss is then the mean over videos)."""
    nll = F.cross_entropy(
        logits.transpose(1, 2), inputs.target_ids, reduction="none", label_smoothing=smoothing
    )
    mask = inputs.targets.to(nll.dtype)
    return (nll * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1.0)
