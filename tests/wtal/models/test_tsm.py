"""TSM outputs without the autoencoder's reconstruction (inference) equal those with it."""

from __future__ import annotations

import torch

from wtal.models.tsm import TSM


def test_skipping_the_reconstruction_changes_no_output():
    torch.manual_seed(0)
    tsm = TSM(4, torch.randn(4, 2, 50), feature_dim=128, context_length=3).eval()
    x = torch.randn(2, 16, 128)
    with torch.no_grad():
        full, lean = tsm(x), tsm(x, reconstruct=False)
    assert full.attention.reconstruction_loss is not None
    assert lean.attention.reconstruction_loss is None
    for a, b in ((full.cas, lean.cas), (full.attention.attention, lean.attention.attention)):
        assert torch.equal(a, b)
