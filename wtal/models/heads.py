"""The classifier that turns embedded segments into a class activation sequence over C
classes + background: a 1x1 convolution (the base models' own), or TSM's text matching
against class queries built from the class names (the paper's plug-in, Table 8: "+TSM")."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from wtal.errors import UsageError
from wtal.models.settings import TextSettings
from wtal.models.text_encoder import TextEncoder

#: model.mode values: text = TSM's text matching; baseline = a convolutional classifier.
HEAD_MODES = ("text", "baseline")


def make_head(
    mode: str,
    num_classes: int,
    dim: int,
    name_vectors: Tensor | None,
    context_length: int,
    handcrafted_context: Tensor | None,
    text: TextSettings | None = None,
) -> tuple[TextEncoder | None, nn.Conv1d | None]:
    """(text encoder, None) for ``mode="text"``, (None, convolution) for ``"baseline"``;
    ``text``: the encoder's ``model.text_encoder`` settings."""
    if mode not in HEAD_MODES:
        raise UsageError(f"mode must be 'text' or 'baseline', not {mode!r}")
    if mode == "baseline":
        return None, nn.Conv1d(dim, num_classes + 1, 1)
    if name_vectors is None:
        raise ValueError("text mode needs the class-name word vectors")
    if name_vectors.shape[0] != num_classes:
        raise ValueError(f"{name_vectors.shape[0]} class-name vectors for {num_classes} classes")
    encoder = TextEncoder(
        name_vectors, context_length, dim, handcrafted_context=handcrafted_context, settings=text
    )
    return encoder, None


def class_scores(
    x: Tensor, text: TextEncoder | None, classifier: nn.Conv1d | None, temperature: float
) -> Tensor:
    """CAS (B, T, C + 1) of embedded segments ``x`` (B, D, T): the dot product with each
    class query, or the convolution, divided by ``temperature``."""
    if text is not None:
        return torch.einsum("bdt,cd->btc", x, text()) / temperature
    assert classifier is not None
    return classifier(x).transpose(1, 2) / temperature


class ClassHead(nn.Module):
    """:func:`make_head` + :func:`class_scores` as one module (``text`` / ``classifier``
    attributes, so that the class-name vectors sit under ``...text.name_vectors``)."""

    def __init__(
        self,
        mode: str,
        num_classes: int,
        dim: int,
        name_vectors: Tensor | None = None,
        context_length: int = 9,
        handcrafted_context: Tensor | None = None,
        temperature: float = 1.0,
        text: TextSettings | None = None,
    ) -> None:
        super().__init__()
        self.mode = mode
        self.temperature = temperature
        self.text, self.classifier = make_head(
            mode, num_classes, dim, name_vectors, context_length, handcrafted_context, text
        )

    def forward(self, x: Tensor) -> Tensor:
        return class_scores(x, self.text, self.classifier, self.temperature)
