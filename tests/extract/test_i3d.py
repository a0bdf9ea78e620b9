"""The I3D network: layer list (parameter counts), output shapes, TF "SAME" padding."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from extract.i3d import InceptionI3d, MaxPool3dSame, Unit3D, count_parameters, same_padding


def bn_scale_count(model: torch.nn.Module) -> int:
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.BatchNorm3d))


@pytest.fixture(scope="module")
def rgb_model() -> InceptionI3d:
    torch.manual_seed(0)
    return InceptionI3d().eval()


def test_parameter_counts_match_deepmind(rgb_model):
    assert count_parameters(rgb_model) == 12_697_264  # with the BN scales (all 1 for TF weights)
    assert count_parameters(rgb_model) - bn_scale_count(rgb_model) == 12_689_984  # TF RGB
    flow = InceptionI3d(in_channels=2)
    assert count_parameters(flow) - bn_scale_count(flow) == 12_668_032  # TF flow


def test_state_dict_names_follow_pytorch_i3d(rgb_model):
    keys = set(rgb_model.state_dict())
    for key in (
        "Conv3d_1a_7x7.conv3d.weight",
        "Conv3d_1a_7x7.bn.weight",
        "Conv3d_1a_7x7.bn.bias",
        "Conv3d_1a_7x7.bn.running_mean",
        "Conv3d_1a_7x7.bn.running_var",
        "Mixed_3b.b0.conv3d.weight",
        "Mixed_5c.b3b.bn.running_var",
        "logits.conv3d.weight",
        "logits.conv3d.bias",
    ):
        assert key in keys
    branches = {k.split(".")[1] for k in keys if k.startswith("Mixed_4d.")}
    assert branches == {"b0", "b1a", "b1b", "b2a", "b2b", "b3b"}
    assert "Conv3d_1a_7x7.conv3d.bias" not in keys  # BN units have no conv bias
    bn = rgb_model.Conv3d_1a_7x7.bn
    assert (bn.eps, bn.momentum, bn.affine) == (1e-3, 0.01, True)
    shapes = {k: tuple(v.shape) for k, v in rgb_model.state_dict().items()}
    assert shapes["Conv3d_1a_7x7.conv3d.weight"] == (64, 3, 7, 7, 7)
    assert shapes["logits.conv3d.weight"] == (400, 1024, 1, 1, 1)


def test_mixed_channel_widths(rgb_model):
    names = ["Mixed_3b", "Mixed_3c", "Mixed_4b", "Mixed_4c", "Mixed_4d"]
    names += ["Mixed_4e", "Mixed_4f", "Mixed_5b", "Mixed_5c"]
    widths = [getattr(rgb_model, name).out_channels for name in names]
    assert widths == [256, 480, 512, 512, 512, 528, 832, 832, 1024]


@pytest.mark.slow
def test_features_and_logits_shapes(rgb_model):
    torch.manual_seed(1)
    x = torch.rand(2, 3, 16, 224, 224) * 2 - 1
    with torch.inference_mode():
        feats = rgb_model.features(x)
        logits = rgb_model(x)
    assert feats.shape == (2, 1024) and feats.dtype == torch.float32
    assert (feats >= 0).all()  # mean of ReLU outputs
    assert logits.shape == (2, 400)
    assert torch.isfinite(logits).all()


def test_features_are_per_clip_and_batch_independent():
    torch.manual_seed(2)
    model = InceptionI3d().eval()
    x = torch.rand(2, 3, 8, 64, 64) * 2 - 1
    with torch.inference_mode():
        both = model.features(x)
        one = model.features(x[1:])
        mixed = model.mixed_5c(x)
    assert mixed.shape == (2, 1024, 1, 2, 2)
    torch.testing.assert_close(both, mixed.mean(dim=(2, 3, 4)))
    torch.testing.assert_close(both[1:], one, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "expected"),
    [
        ((224,), (7,), (2,), [(2, 3)]),  # Conv3d_1a on 224: out 112, extra pixel at the end
        ((16,), (7,), (2,), [(2, 3)]),
        ((112,), (3,), (2,), [(0, 1)]),  # MaxPool3d_2a: out 56
        ((15,), (7,), (2,), [(3, 3)]),  # odd: out 8, total 6
        ((13,), (3,), (1,), [(1, 1)]),
        ((4,), (2,), (2,), [(0, 0)]),
        ((5,), (2,), (2,), [(0, 1)]),  # MaxPool3d_5a on an odd size
        ((1,), (7,), (2,), [(3, 3)]),
    ],
)
def test_same_padding_matches_tf_formula(size, kernel, stride, expected):
    assert same_padding(size, kernel, stride) == expected
    for n, k, s, (a, b) in zip(size, kernel, stride, expected, strict=True):
        assert (n + a + b - k) // s + 1 == math.ceil(n / s)  # TF: output = ceil(n / stride)


@pytest.mark.parametrize(("t", "h", "w"), [(15, 113, 97), (9, 65, 33), (1, 31, 45), (17, 224, 225)])
def test_odd_inputs_give_ceil_sizes(t, h, w):
    torch.manual_seed(3)
    model = InceptionI3d(in_channels=2).eval()
    with torch.inference_mode():
        conv1 = model.Conv3d_1a_7x7(torch.zeros(1, 2, t, h, w))
        assert conv1.shape[2:] == (math.ceil(t / 2), math.ceil(h / 2), math.ceil(w / 2))
        if h > 120:
            return  # the rest was checked on the smaller sizes; keep the test fast
        mixed = model.mixed_5c(torch.rand(1, 2, t, h, w) * 2 - 1)
    assert mixed.shape == (1, 1024, math.ceil(t / 8), math.ceil(h / 32), math.ceil(w / 32))


def test_unit_padding_is_zero_padding_with_the_extra_cell_at_the_end():
    torch.manual_seed(4)
    unit = Unit3D(2, 4, (3, 7, 7), (2, 2, 2), use_bn=False, relu=False)
    x = torch.randn(1, 2, 9, 20, 17)
    # TF SAME: T 9 -> out 5, total 2 -> (1, 1); H 20 -> 10, total 5 -> (2, 3); W 17 -> 9, (3, 3)
    manual = F.conv3d(F.pad(x, (3, 3, 2, 3, 1, 1)), unit.conv3d.weight, None, (2, 2, 2))
    torch.testing.assert_close(unit(x), manual)
    # symmetric case goes through the convolution's own padding: same result as F.pad
    unit1 = Unit3D(2, 4, (3, 3, 3), use_bn=False, relu=False)
    manual1 = F.conv3d(F.pad(x, (1, 1, 1, 1, 1, 1)), unit1.conv3d.weight)
    torch.testing.assert_close(unit1(x), manual1)


def test_max_pool_padding_never_wins():
    pool = MaxPool3dSame((1, 3, 3), (1, 2, 2))
    x = -torch.arange(1.0, 1 + 1 * 1 * 1 * 4 * 4).reshape(1, 1, 1, 4, 4)  # all negative
    out = pool(x)
    assert out.shape == (1, 1, 1, 2, 2)
    # SAME on 4 with k3 s2: pads (0, 1); windows rows/cols {0,1,2} and {2,3}
    expected = torch.tensor([[-1.0, -3.0], [-9.0, -11.0]])
    torch.testing.assert_close(out[0, 0, 0], expected)


def test_logits_need_a_large_enough_input():
    model = InceptionI3d().eval()
    with torch.inference_mode(), pytest.raises(ValueError, match="too small"):
        model(torch.zeros(1, 3, 8, 64, 64))
    with pytest.raises(ValueError, match="expected input"):
        model.features(torch.zeros(1, 2, 8, 64, 64))


def test_folding_batch_norm_keeps_the_function():
    from extract.i3d import fold_batch_norm

    torch.manual_seed(0)
    model = InceptionI3d(2).eval()
    for module in model.modules():  # non-trivial statistics, as in trained weights
        if isinstance(module, torch.nn.BatchNorm3d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.5, 0.5)
    folded = fold_batch_norm(model)
    assert not any(isinstance(m, torch.nn.BatchNorm3d) for m in folded.modules())
    assert any(isinstance(m, torch.nn.BatchNorm3d) for m in model.modules())  # untouched
    x = torch.rand(2, 2, 16, 64, 64) * 2 - 1
    with torch.inference_mode():
        torch.testing.assert_close(folded.features(x), model.features(x), rtol=0, atol=1e-5)
