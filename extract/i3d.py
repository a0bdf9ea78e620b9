"""I3D (Inception-v1 inflated to 3D, Carreira & Zisserman 2017) in plain PyTorch.

Layer for layer DeepMind's ``kinetics-i3d`` network, with TensorFlow "SAME" padding computed
from the input size at run time (output = ceil(input / stride), the odd pixel of padding at
the end), and module names matching the pytorch-i3d port so that its state dicts
(``rgb_imagenet.pt``, ``flow_imagenet.pt``) load directly. Batch norm has a learnable scale
here (as in pytorch-i3d); DeepMind's networks have none, so converted TF weights set it to 1.

Input: (N, C, T, H, W) float in [-1, 1]; C = 3 for RGB, 2 for flow.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Triple = tuple[int, int, int]


def same_padding(size: tuple[int, ...], kernel: Triple, stride: Triple) -> list[tuple[int, int]]:
    """TF "SAME" padding (before, after) per dimension: output = ceil(size / stride)."""
    pads = []
    for n, k, s in zip(size, kernel, stride, strict=True):
        out = math.ceil(n / s)
        total = max((out - 1) * s + k - n, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def _pad_args(pads: list[tuple[int, int]]) -> list[int]:
    """``F.pad`` argument order: last dimension first."""
    return [p for pair in reversed(pads) for p in pair]


class Unit3D(nn.Module):
    """Conv3d (SAME padding) -> optional BatchNorm3d -> optional ReLU."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: Triple = (1, 1, 1),
        stride: Triple = (1, 1, 1),
        use_bn: bool = True,
        use_bias: bool = False,
        relu: bool = True,
    ) -> None:
        super().__init__()
        self.kernel = kernel
        self.stride = stride
        self.relu = relu
        self.conv3d = nn.Conv3d(in_channels, out_channels, kernel, stride, bias=use_bias)
        self.bn = nn.BatchNorm3d(out_channels, eps=1e-3, momentum=0.01) if use_bn else None

    def forward(self, x: Tensor) -> Tensor:
        pads = same_padding(tuple(x.shape[2:]), self.kernel, self.stride)
        if all(a == b for a, b in pads):  # symmetric: let the convolution pad (no copy)
            padding: tuple[int, ...] = tuple(a for a, _ in pads)
        else:
            x = F.pad(x, _pad_args(pads))
            padding = (0, 0, 0)
        x = F.conv3d(x, self.conv3d.weight, self.conv3d.bias, self.stride, padding)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x, inplace=True) if self.relu else x


class MaxPool3dSame(nn.Module):
    """Max pooling with TF "SAME" padding (padded cells never win: they are -inf)."""

    def __init__(self, kernel: Triple, stride: Triple) -> None:
        super().__init__()
        self.kernel = kernel
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        pads = same_padding(tuple(x.shape[2:]), self.kernel, self.stride)
        if any(p for pair in pads for p in pair):
            x = F.pad(x, _pad_args(pads), value=float("-inf"))
        return F.max_pool3d(x, self.kernel, self.stride)


class InceptionModule(nn.Module):
    """Four branches: 1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 | maxpool 3x3 -> 1x1, concatenated."""

    def __init__(self, in_channels: int, out: tuple[int, int, int, int, int, int]) -> None:
        super().__init__()
        self.b0 = Unit3D(in_channels, out[0])
        self.b1a = Unit3D(in_channels, out[1])
        self.b1b = Unit3D(out[1], out[2], (3, 3, 3))
        self.b2a = Unit3D(in_channels, out[3])
        self.b2b = Unit3D(out[3], out[4], (3, 3, 3))
        self.b3a = MaxPool3dSame((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(in_channels, out[5])
        self.out_channels = out[0] + out[2] + out[4] + out[5]

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat(
            [self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], 1
        )


# (name, in_channels, branch widths) of the Inception modules, DeepMind's numbers.
_MIXED = {
    "Mixed_3b": (192, (64, 96, 128, 16, 32, 32)),
    "Mixed_3c": (256, (128, 128, 192, 32, 96, 64)),
    "Mixed_4b": (480, (192, 96, 208, 16, 48, 64)),
    "Mixed_4c": (512, (160, 112, 224, 24, 64, 64)),
    "Mixed_4d": (512, (128, 128, 256, 24, 64, 64)),
    "Mixed_4e": (512, (112, 144, 288, 32, 64, 64)),
    "Mixed_4f": (528, (256, 160, 320, 32, 128, 128)),
    "Mixed_5b": (832, (256, 160, 320, 32, 128, 128)),
    "Mixed_5c": (832, (384, 192, 384, 48, 128, 128)),
}

FEATURE_DIM = 1024


class InceptionI3d(nn.Module):
    """Inception-v1 I3D. ``features``: (N, 1024) per clip; ``forward``: (N, num_classes) logits."""

    def __init__(self, in_channels: int = 3, num_classes: int = 400) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.Conv3d_1a_7x7 = Unit3D(in_channels, 64, (7, 7, 7), (2, 2, 2))
        self.MaxPool3d_2a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        self.MaxPool3d_3a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Mixed_3b = InceptionModule(*_MIXED["Mixed_3b"])
        self.Mixed_3c = InceptionModule(*_MIXED["Mixed_3c"])
        self.MaxPool3d_4a_3x3 = MaxPool3dSame((3, 3, 3), (2, 2, 2))
        self.Mixed_4b = InceptionModule(*_MIXED["Mixed_4b"])
        self.Mixed_4c = InceptionModule(*_MIXED["Mixed_4c"])
        self.Mixed_4d = InceptionModule(*_MIXED["Mixed_4d"])
        self.Mixed_4e = InceptionModule(*_MIXED["Mixed_4e"])
        self.Mixed_4f = InceptionModule(*_MIXED["Mixed_4f"])
        self.MaxPool3d_5a_2x2 = MaxPool3dSame((2, 2, 2), (2, 2, 2))
        self.Mixed_5b = InceptionModule(*_MIXED["Mixed_5b"])
        self.Mixed_5c = InceptionModule(*_MIXED["Mixed_5c"])
        self.dropout = nn.Dropout(0.5)
        self.logits = Unit3D(
            FEATURE_DIM, num_classes, use_bn=False, use_bias=True, relu=False
        )  # 1x1x1 conv with bias

    def mixed_5c(self, x: Tensor) -> Tensor:
        """The Mixed_5c feature map, (N, 1024, ceil(T/8), ceil(H/32), ceil(W/32))."""
        if x.dim() != 5 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"expected input (N, {self.in_channels}, T, H, W), got {tuple(x.shape)}"
            )
        # Channels-last (NDHWC): oneDNN's convolutions and pools run about twice as fast.
        x = x.contiguous(memory_format=torch.channels_last_3d)
        x = self.MaxPool3d_2a_3x3(self.Conv3d_1a_7x7(x))
        x = self.MaxPool3d_3a_3x3(self.Conv3d_2c_3x3(self.Conv3d_2b_1x1(x)))
        x = self.MaxPool3d_4a_3x3(self.Mixed_3c(self.Mixed_3b(x)))
        for name in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"):
            x = getattr(self, name)(x)
        x = self.MaxPool3d_5a_2x2(x)
        return self.Mixed_5c(self.Mixed_5b(x))

    def features(self, x: Tensor) -> Tensor:
        """Mixed_5c average-pooled over time and space: (N, 1024), the WTAL clip feature."""
        return self.mixed_5c(x).mean(dim=(2, 3, 4))

    def forward(self, x: Tensor) -> Tensor:
        """Kinetics logits as DeepMind computes them: AvgPool (2, 7, 7) stride 1 VALID on
        Mixed_5c, dropout, 1x1x1 conv with bias, then the mean over the remaining time steps
        (and over space, which is 1x1 for 224x224 inputs). Needs T >= 9 and H, W >= 193."""
        x = self.mixed_5c(x)
        if x.shape[2] < 2 or x.shape[3] < 7 or x.shape[4] < 7:
            raise ValueError(f"input too small for the logits head (Mixed_5c {tuple(x.shape)})")
        x = F.avg_pool3d(x, (2, 7, 7), stride=1)
        x = self.logits(self.dropout(x))
        return x.mean(dim=(2, 3, 4))


def count_parameters(model: nn.Module) -> int:
    """Number of parameter elements (BN scale included; buffers excluded)."""
    return sum(p.numel() for p in model.parameters())


def fold_batch_norm(model: InceptionI3d) -> InceptionI3d:
    """An inference copy with every BatchNorm folded into its convolution (``w x s``,
    ``b = beta - mean x s`` with ``s = gamma / sqrt(var + eps)``): the same function up to
    float rounding, one memory pass fewer per layer. The original model is left untouched."""
    folded = copy.deepcopy(model).eval()
    for unit in folded.modules():
        if not isinstance(unit, Unit3D) or unit.bn is None:
            continue
        bn, conv = unit.bn, unit.conv3d
        with torch.no_grad():
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            bias = bn.bias - bn.running_mean * scale
            if conv.bias is not None:
                bias = bias + conv.bias * scale
            fused = nn.Conv3d(
                conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, bias=True
            )
            fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1, 1))
            fused.bias.copy_(bias)
        unit.conv3d, unit.bn = fused, None
    return folded


def for_inference(model: InceptionI3d) -> InceptionI3d:
    """The fast inference copy: batch norm folded, weights in channels-last layout."""
    return fold_batch_norm(model).to(memory_format=torch.channels_last_3d)
