"""The model keys that tell the authors' ActivityNet1.3 code from their THUMOS14 code
(model.attention, model.fusion, model.text_encoder): each changes exactly what it names, the
config and the checkpoint carry it, and the defaults build the THUMOS14 model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.wtal.training.toy import toy_config, toy_dataset
from wtal.config.load import load_config
from wtal.data.normalize import FeatureNorm
from wtal.models.checkpoint import load_model, model_payload, save_checkpoint
from wtal.models.settings import AttentionSettings, FusionSettings, TextSettings, model_settings
from wtal.models.text_encoder import TextEncoder, sinusoidal_positions
from wtal.models.tsm import TSM
from wtal.models.video_branch import AttentionModule, StreamBranch
from wtal.training.setup import build_models, text_assets

#: config/activitynet13.yaml's values of the three sections.
ANET = {
    "attention": {"bottleneck": 1.0, "channel_gate": True, "dropout": 0.7},
    "fusion": {"kernel": 1, "dropout": 0.5},
    "text_encoder": {"heads": 2, "sinusoid_scale": "inverse_sqrt_width", "position_std": 0.01},
}


def dropouts(module: nn.Module) -> list[float]:
    return [m.p for m in module.modules() if isinstance(m, nn.Dropout)]


def conv_shapes(branch: StreamBranch) -> dict[str, tuple[int, int, int]]:
    """(in, out, kernel) of each convolution of a stream branch outside its head."""
    parts = ("encode", "decode", "global_gate", "local_gate")
    return {
        name: (conv.in_channels, conv.out_channels, conv.kernel_size[0])
        for name in parts
        for conv in [getattr(branch, name)[0]]
    }


# --- model.attention ---------------------------------------------------------------------


def test_default_attention_is_the_thumos14_module():
    assert AttentionSettings() == AttentionSettings(0.5, False, 0.5)
    branch = StreamBranch(1024)
    assert conv_shapes(branch) == {
        "encode": (1024, 512, 3),
        "decode": (512, 1024, 3),
        "global_gate": (1024, 1024, 3),
        "local_gate": (512, 1024, 3),
    }
    assert dropouts(branch.head) == [0.5, 0.5]


@pytest.mark.parametrize(
    ("dim", "fraction", "width"),
    [(1024, 1.0, 1024), (32, 1.0, 32), (32, 0.5, 16), (6, 0.5, 3), (7, 0.5, 3)],
)
def test_the_bottleneck_is_a_fraction_of_the_stream_and_feeds_the_local_descriptor(
    dim, fraction, width
):
    branch = StreamBranch(dim, AttentionSettings(bottleneck=fraction))
    assert conv_shapes(branch) == {
        "encode": (dim, width, 3),
        "decode": (width, dim, 3),
        "global_gate": (dim, dim, 3),
        "local_gate": (width, dim, 3),  # the ActivityNet code's bit_wise_attn reads the bottleneck
    }
    assert branch.head[0].out_channels == dim // 2  # the head keeps its width


def test_attention_dropout_is_the_heads_and_only_the_heads():
    branch = StreamBranch(32, AttentionSettings(dropout=0.7))
    assert dropouts(branch.head) == [0.7, 0.7]
    for name in ("encode", "decode", "global_gate", "local_gate"):
        assert dropouts(getattr(branch, name)) == [0.5]


def gated_pair(dim: int = 8) -> tuple[AttentionModule, AttentionModule]:
    """The same weights without and with the channel gate, in eval mode."""
    torch.manual_seed(0)
    plain = AttentionModule(dim).eval()
    gated = AttentionModule(dim, AttentionSettings(channel_gate=True)).eval()
    gated.load_state_dict(plain.state_dict())  # the gate adds no parameter
    return plain, gated


def test_the_channel_gate_scales_the_stream_by_its_channel_descriptor():
    plain, gated = gated_pair()
    x = torch.randn(2, 16, 12)
    with torch.no_grad():
        a, b = plain(x), gated(x)
        scales = [
            torch.sigmoid(branch.global_gate(stream.mean(dim=2, keepdim=True)))
            for branch, stream in ((gated.rgb, x[:, :8]), (gated.flow, x[:, 8:]))
        ]
    # sigmoid(l * r) * (sigmoid(g) * m) = sigmoid(g) * (sigmoid(l * r) * m)
    torch.testing.assert_close(b.filtered, torch.cat(scales, dim=1) * a.filtered)
    assert not torch.allclose(a.attention, b.attention)


def test_the_gated_stream_is_the_autoencoders_target_and_trains_the_channel_convolution():
    plain, gated = gated_pair()
    x = torch.randn(2, 16, 12)
    rgb, flow = x[:, :8], x[:, 8:]
    out = gated(x)
    expected = 0.0
    for branch, main, aux in ((gated.rgb, rgb, flow), (gated.flow, flow, rgb)):
        target = torch.sigmoid(branch.global_gate(main.mean(dim=2, keepdim=True))) * main
        expected = expected + F.mse_loss(branch.decode(branch.encode(aux)), target)
    torch.testing.assert_close(out.reconstruction_loss, expected)
    gate = gated.rgb.global_gate[0].weight
    (grad,) = torch.autograd.grad(out.reconstruction_loss, gate)
    assert grad.abs().sum() > 0  # the target is not detached
    # Without the gate the target is the raw stream: no gradient reaches that convolution.
    loss = plain(x).reconstruction_loss
    assert torch.autograd.grad(loss, plain.rgb.global_gate[0].weight, allow_unused=True) == (None,)


# --- model.fusion ---------------------------------------------------------------------------


def small_tsm(fusion: FusionSettings | None = None, **kwargs) -> TSM:
    torch.manual_seed(0)
    extra = {} if fusion is None else {"fusion": fusion}
    return TSM(4, torch.randn(4, 2, 50), feature_dim=64, context_length=3, **extra, **kwargs)


@pytest.mark.parametrize(("kernel", "padding"), [(1, 0), (3, 1)])
def test_the_fusion_kernel_is_the_first_embeddings_and_its_dropout_both(kernel, padding):
    tsm = small_tsm(FusionSettings(kernel=kernel, dropout=0.5)).eval()
    assert tsm.embed0[0].kernel_size == (kernel,) and tsm.embed0[0].padding == (padding,)
    assert tsm.embed1[0].kernel_size == (3,)
    assert dropouts(tsm.embed0) == dropouts(tsm.embed1) == [0.5]
    with torch.no_grad():
        out = tsm(torch.randn(2, 20, 64))
    assert out.cas.shape == (2, 20, 5) and out.embedding0.shape == (2, 20, 64)


def test_default_fusion_is_the_thumos14_one():
    tsm = small_tsm()
    assert FusionSettings() == FusionSettings(3, 0.7)
    assert tsm.embed0[0].kernel_size == (3,) and dropouts(tsm.embed0) == [0.7]


# --- model.text_encoder -----------------------------------------------------------------------


def text_encoder(settings: TextSettings, classes: int = 3, dim: int = 64) -> TextEncoder:
    torch.manual_seed(0)
    return TextEncoder(torch.randn(classes, 5, 50) * 0.4, 3, dim, settings=settings)


def test_the_head_count():
    assert TextSettings().heads == 8
    assert text_encoder(TextSettings(heads=2)).attention.num_heads == 2


def test_the_fixed_positions_divided_by_the_square_root_of_the_width():
    assert torch.equal(text_encoder(TextSettings()).fixed_positions, sinusoidal_positions(8, 64))
    scaled = text_encoder(TextSettings(sinusoid_scale="inverse_sqrt_width")).fixed_positions
    assert torch.equal(scaled, sinusoidal_positions(8, 64) / 8.0)  # sqrt(64)
    with pytest.raises(ValueError, match="sinusoid_scale"):
        text_encoder(TextSettings(sinusoid_scale="half"))


@pytest.mark.parametrize("std", [0.01, 1 / 32])
def test_the_learnable_positions_start_with_the_given_standard_deviation(std):
    positions = text_encoder(TextSettings(position_std=std), classes=200, dim=512).positions
    assert positions.shape == (201, 8, 512)  # 823,296 draws: the std is known to 0.1%
    assert abs(positions.std().item() / std - 1) < 0.01
    assert abs(positions.mean().item()) < 0.01 * std


# --- the config and the checkpoint --------------------------------------------------------------


def anet_config(**model):
    return toy_config(model={**ANET, **model})


def check_anet(tsm: TSM, stream: int = 32) -> None:
    for branch in (tsm.attention.rgb, tsm.attention.flow):
        assert branch.channel_gate and branch.encode[0].out_channels == stream
        assert dropouts(branch.head) == [0.7, 0.7]
    assert tsm.embed0[0].kernel_size == (1,) and dropouts(tsm.embed0) == [0.5]
    assert tsm.text.attention.num_heads == 2
    length = tsm.text.positions.shape[1]
    assert torch.equal(tsm.text.fixed_positions, sinusoidal_positions(length, 64) / 8.0)


@pytest.fixture(scope="module")
def dataset():
    return toy_dataset(videos=8, dim=64)


def test_the_config_reaches_tsm_and_the_vlc_attention(dataset):
    config = anet_config()
    assert model_settings(config["model"]) == (
        AttentionSettings(1.0, True, 0.7),
        FusionSettings(1, 0.5),
        TextSettings(2, "inverse_sqrt_width", 0.01),
    )
    tsm, vlc = build_models(4, 64, text_assets(dataset, config), config)
    check_anet(tsm)
    assert vlc is not None and vlc.attention is not tsm.attention
    for branch in (vlc.attention.rgb, vlc.attention.flow):
        assert branch.channel_gate and branch.encode[0].out_channels == 32
        assert dropouts(branch.head) == [0.7, 0.7]


def test_the_activitynet_config_file_sets_the_authors_activitynet_model():
    config = load_config(Path(__file__).parents[3] / "config" / "activitynet13.yaml")
    assert model_settings(config["model"]) == model_settings(anet_config()["model"])


def test_a_model_section_without_the_keys_builds_the_thumos14_model():
    model = {k: v for k, v in toy_config()["model"].items() if k not in ANET}
    assert model_settings(model) == (AttentionSettings(), FusionSettings(), TextSettings())


def test_the_checkpoint_rebuilds_the_activitynet_model(dataset, tmp_path):
    config = anet_config(vlc={"enabled": False})
    text = text_assets(dataset, config)
    torch.manual_seed(3)
    tsm, _ = build_models(4, 64, text, config)
    path = tmp_path / "model.pt"
    norm = FeatureNorm.fit([v.features for v in dataset.videos], "none")
    payload = model_payload(
        tsm,
        iteration=1,
        config=config,
        classes=list(dataset.classes),
        feature_dim=64,
        norm=norm,
        vocabulary=list(text.vocabulary.words),
        word_vectors=text.source,
    )
    save_checkpoint(path, payload)
    loaded = load_model(path).model
    check_anet(loaded)
    x = torch.randn(2, 30, 64)
    with torch.no_grad():
        assert torch.equal(loaded(x).cas, tsm.eval()(x).cas)
