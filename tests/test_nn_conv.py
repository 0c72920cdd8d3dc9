"""SeparableConv2d and FPN against the notes' parameter count and hand-written references."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from torchdoctor.nn import FPN, SeparableConv2d

DT = torch.float64


def _count(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_notes_parameter_count_3_to_4_channels():
    # notes 003 §23: 3→4 channels, 3×3, no bias: 108 for a full conv vs 27 + 12 = 39
    sep = SeparableConv2d(3, 4, 3, bias=False)
    assert _count(nn.Conv2d(3, 4, 3, bias=False)) == 108
    assert _count(sep.depthwise) == 27 and _count(sep.pointwise) == 12 and _count(sep) == 39


@pytest.mark.parametrize("stride,padding,dilation,bias", [
    (1, 1, 1, False), (2, 2, 2, True), (1, "same", 2, True), (2, 0, 3, False),
])
def test_equals_full_conv_with_composed_weight(stride, padding, dilation, bias):
    """Depthwise then pointwise = one conv with W[o, i] = P[o, i] · D[i] (and combined bias)."""
    torch.manual_seed(0)
    sep = SeparableConv2d(3, 5, 3, stride=stride, padding=padding, dilation=dilation,
                          bias=bias).double()
    x = torch.randn(2, 3, 13, 11, dtype=DT)
    d = sep.depthwise.weight[:, 0]  # [3, 3, 3]
    p = sep.pointwise.weight[:, :, 0, 0]  # [5, 3]
    w = p[:, :, None, None] * d[None]
    b = None
    if bias:
        b = sep.pointwise.bias + p @ sep.depthwise.bias
    want = F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)
    torch.testing.assert_close(sep(x), want)


def test_depth_multiplier_and_same_padding_shape():
    sep = SeparableConv2d(4, 6, 5, padding="same", depth_multiplier=2)
    assert sep.depthwise.out_channels == 8
    assert sep(torch.randn(1, 4, 9, 9)).shape == (1, 6, 9, 9)


def test_dilated_3x3_sees_5x5_with_gaps():
    # notes 003 §2: a 3×3 kernel at rate 2 covers 5×5, touching only 9 of the 25 positions
    sep = SeparableConv2d(1, 1, 3, dilation=2, bias=False)
    with torch.no_grad():
        sep.depthwise.weight.fill_(1.0)
        sep.pointwise.weight.fill_(1.0)
    x = torch.zeros(1, 1, 9, 9, requires_grad=True)
    y = sep(x)
    y[0, 0, 2, 2].backward()
    nz = x.grad[0, 0].nonzero()
    assert nz.min(0).values.tolist() == [2, 2] and nz.max(0).values.tolist() == [6, 6]
    assert len(nz) == 9


def test_separable_errors():
    with pytest.raises(ValueError, match="depth_multiplier must be an int >= 1, got 0"):
        SeparableConv2d(3, 4, depth_multiplier=0)
    with pytest.raises(ValueError, match="in_channels must be an int >= 1, got 0"):
        SeparableConv2d(0, 4)


def _nearest(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Nearest neighbour by the notes' formula: src = floor(dst · in / out)."""
    h, w = x.shape[-2:]
    rows = [int(i * h / size[0]) for i in range(size[0])]
    cols = [int(j * w / size[1]) for j in range(size[1])]
    return x[..., rows, :][..., cols]


@pytest.mark.parametrize("sizes", [[(16, 16), (8, 8), (4, 4)], [(13, 10), (7, 5), (4, 3), (2, 2)]])
def test_fpn_against_explicit_top_down(sizes):
    torch.manual_seed(1)
    chans = [4, 8, 16, 32][: len(sizes)]
    fpn = FPN(chans, 6).double()
    feats = [torch.randn(2, c, *s, dtype=DT) for c, s in zip(chans, sizes, strict=True)]
    outs = fpn(feats)
    inner = [None] * len(sizes)
    inner[-1] = fpn.lateral[-1](feats[-1])
    for i in reversed(range(len(sizes) - 1)):
        inner[i] = fpn.lateral[i](feats[i]) + _nearest(inner[i + 1], sizes[i])
    for i, o in enumerate(outs):
        assert o.shape == (2, 6, *sizes[i])
        torch.testing.assert_close(o, fpn.smooth[i](inner[i]))
    sum(o.sum() for o in outs).backward()
    assert all(p.grad is not None for p in fpn.parameters())


def test_fpn_single_level_and_errors():
    fpn = FPN([3], 5)
    assert fpn([torch.randn(1, 3, 4, 4)])[0].shape == (1, 5, 4, 4)
    with pytest.raises(ValueError, match="in_channels_list must not be empty"):
        FPN([], 4)
    with pytest.raises(ValueError, match="channel counts must be ints >= 1, got 0"):
        FPN([3, 0], 4)
    with pytest.raises(ValueError, match="features must hold 1 maps, got 2"):
        fpn([torch.randn(1, 3, 4, 4)] * 2)
