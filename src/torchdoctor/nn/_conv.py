"""Convolution blocks: depthwise-separable conv (Chollet 2017) and FPN (Lin et al. 2017).

Depthwise-separable convolution factorizes a ``k×k`` conv from ``C_in`` to ``C_out`` channels
into a depthwise ``k×k`` conv (one filter per input channel, ``groups = C_in``) and a pointwise
``1×1`` conv mixing channels. Parameters without bias: ``C_in·C_out·k²`` for the full conv,
``C_in·k² + C_in·C_out`` for the separable one -- 3→4 channels, 3×3: 108 versus 27 + 12 = 39.

The Feature Pyramid Network (Lin et al. 2017) turns a backbone's maps ``C2..C5`` (fine → coarse)
into maps ``P2..P5`` with the same channel count: a lateral 1×1 conv on each, a top-down path
adding the nearest-upsampled coarser result, then a 3×3 conv to smooth the aliasing of the
upsampling.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.common_types import _size_2_t

__all__ = ["FPN", "SeparableConv2d"]


class SeparableConv2d(nn.Module):
    """Depthwise ``k×k`` conv (with stride, padding and dilation) then a pointwise 1×1 conv.

    Args:
        in_channels: C_in.
        out_channels: C_out.
        kernel_size: depthwise kernel.
        stride, padding, dilation: of the depthwise conv, as in ``nn.Conv2d``
            (``padding="same"`` needs stride 1).
        bias: a bias on both convs.
        depth_multiplier: depthwise filters per input channel (the depthwise conv outputs
            ``C_in·depth_multiplier`` channels).

    Shapes: ``[N, C_in, H, W] → [N, C_out, H', W']`` with ``H', W'`` as for ``nn.Conv2d`` with
    the same kernel, stride, padding and dilation.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: _size_2_t = 3,
                 stride: _size_2_t = 1, padding: _size_2_t | str = 0, dilation: _size_2_t = 1,
                 bias: bool = True, depth_multiplier: int = 1) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                            ("depth_multiplier", depth_multiplier)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        mid = in_channels * depth_multiplier
        self.depthwise = nn.Conv2d(in_channels, mid, kernel_size, stride=stride, padding=padding,
                                   dilation=dilation, groups=in_channels, bias=bias)
        self.pointwise = nn.Conv2d(mid, out_channels, 1, bias=bias)

    def forward(self, input: Tensor) -> Tensor:
        """input (Tensor[N, C_in, H, W]) → Tensor[N, C_out, H', W']."""
        return self.pointwise(self.depthwise(input))


class FPN(nn.Module):
    """Feature Pyramid Network top-down path (Lin et al. 2017), as torchvision's
    ``FeaturePyramidNetwork`` without extra blocks.

    Args:
        in_channels_list: channels of the input maps, fine (high resolution) to coarse.
        out_channels: channels of every output map.

    Forward: a sequence of maps ``Tensor[N, in_channels_list[i], H_i, W_i]`` (fine → coarse) →
    a list of ``Tensor[N, out_channels, H_i, W_i]`` in the same order:
    ``inner_L = lateral_L(x_L)``; ``inner_i = lateral_i(x_i) + nearest_upsample(inner_{i+1},
    size=(H_i, W_i))``; ``out_i = smooth_i(inner_i)`` (3×3, padding 1).
    """

    def __init__(self, in_channels_list: Sequence[int], out_channels: int) -> None:
        super().__init__()
        if len(in_channels_list) == 0:
            raise ValueError("in_channels_list must not be empty, got []")
        for c in (*in_channels_list, out_channels):
            if not isinstance(c, int) or c < 1:
                raise ValueError(f"channel counts must be ints >= 1, got {c!r} in "
                                 f"in_channels_list={list(in_channels_list)}, "
                                 f"out_channels={out_channels}")
        self.in_channels_list = list(in_channels_list)
        self.out_channels = out_channels
        self.lateral = nn.ModuleList(nn.Conv2d(c, out_channels, 1) for c in in_channels_list)
        self.smooth = nn.ModuleList(nn.Conv2d(out_channels, out_channels, 3, padding=1)
                                    for _ in in_channels_list)

    def forward(self, features: Sequence[Tensor]) -> list[Tensor]:
        """features (fine → coarse maps) → list of ``Tensor[N, out_channels, H_i, W_i]``."""
        if len(features) != len(self.lateral):
            raise ValueError(f"features must hold {len(self.lateral)} maps, got {len(features)}")
        inner = self.lateral[-1](features[-1])
        outs = [self.smooth[-1](inner)]
        for i in range(len(features) - 2, -1, -1):
            lat = self.lateral[i](features[i])
            inner = lat + F.interpolate(inner, size=lat.shape[-2:], mode="nearest")
            outs.append(self.smooth[i](inner))
        return outs[::-1]

    def extra_repr(self) -> str:
        return f"in_channels_list={self.in_channels_list}, out_channels={self.out_channels}"
