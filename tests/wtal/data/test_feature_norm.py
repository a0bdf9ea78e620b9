"""What features go through before the model: channel pooling and standardisation, and their
round trip through a checkpoint that loads with weights_only=True."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from wtal.data.normalize import FeatureNorm


def test_pooling_averages_groups_within_each_stream_then_standardises():
    rng = np.random.default_rng(0)
    videos = [rng.normal(3.0, 2.0, (t, 2048)).astype(np.float32) for t in (5, 9)]
    norm = FeatureNorm.fit(videos, "standardize", pool=4)
    out = norm(videos[0])
    assert out.shape == (5, 512)
    # Channel 255 averages RGB channels 1020..1023, channel 256 flow channels 1024..1027.
    raw = (videos[0][:, 1020:1024].mean(1) - norm.mean[255]) / norm.std[255]
    np.testing.assert_allclose(out[:, 255], raw, rtol=1e-5)
    pooled = np.concatenate([FeatureNorm(pool=4)(v) for v in videos])
    np.testing.assert_allclose(((pooled - norm.mean) / norm.std).mean(0), 0.0, atol=1e-5)
    with pytest.raises(ValueError, match="channel_pool 3 does not divide"):
        FeatureNorm.fit(videos, "none", pool=3)


def test_state_round_trips_through_a_weights_only_checkpoint():
    rng = np.random.default_rng(1)
    norm = FeatureNorm.fit([rng.normal(size=(6, 16)).astype(np.float32)], "standardize", 2)
    buffer = io.BytesIO()
    torch.save({"feature_norm": norm.state()}, buffer)
    buffer.seek(0)
    loaded = FeatureNorm.from_state(torch.load(buffer, weights_only=True)["feature_norm"])
    x = rng.normal(size=(3, 16)).astype(np.float32)
    np.testing.assert_array_equal(loaded(x), norm(x))
    assert FeatureNorm.from_state(None)(x).shape == (3, 16)
