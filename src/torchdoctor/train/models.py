"""The config's models: ``mlp``, ``cnn`` and a small ``resnet`` for 8×8 images, 1-D sequences
and tabular data. Every choice (norm, activation, init, dropout, output activation) goes
through :mod:`torchdoctor.train._layers`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from torchdoctor.train import _layers as L

__all__ = ["MLP", "ConvNet", "ResNet", "build_model"]


def _conv(spatial_dims: int) -> type[nn.Module]:
    return nn.Conv2d if spatial_dims == 2 else nn.Conv1d


def _pool(spatial_dims: int) -> type[nn.Module]:
    return nn.MaxPool2d if spatial_dims == 2 else nn.MaxPool1d


class MLP(nn.Module):
    """Flatten → depth × [Linear → norm → activation → dropout] → Linear → output activation.

    Args:
        in_features: flattened input size.
        num_outputs: classes or regression targets.
    """

    def __init__(self, in_features: int, num_outputs: int, *, depth: int, width: int,
                 activation: str, norm: str, dropout: float, output_activation: str) -> None:
        super().__init__()
        p = L.pieces(activation)
        layers: list[nn.Module] = [nn.Flatten()]
        d_in = in_features
        for _ in range(depth):
            layers += [nn.Linear(d_in, width * p), L.norm(norm, width * p, 0), L.activation(activation)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            d_in = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(d_in, num_outputs)
        self.out_act = L.output_activation(output_activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (Tensor[N, ...]) → (Tensor[N, num_outputs])."""
        return self.out_act(self.head(self.features(x)))


class ConvNet(nn.Module):
    """depth × [Conv 3 → norm → activation → (max-pool 2 while the map is ≥ 4) → dropout]
    → global average pool → Linear → output activation. Conv2d for images, Conv1d for sequences.
    """

    def __init__(self, in_channels: int, spatial: tuple[int, ...], num_outputs: int, *, depth: int,
                 width: int, activation: str, norm: str, dropout: float, output_activation: str) -> None:
        super().__init__()
        sd = len(spatial)
        conv, pool = _conv(sd), _pool(sd)
        p = L.pieces(activation)
        size = min(spatial)
        layers: list[nn.Module] = []
        c_in = in_channels
        for _ in range(depth):
            layers += [conv(c_in, width * p, 3, padding=1), L.norm(norm, width * p, sd), L.activation(activation)]
            if size >= 4:
                layers.append(pool(2))
                size //= 2
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            c_in = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1) if sd == 2 else nn.AdaptiveAvgPool1d(1)
        self.head = nn.Linear(c_in, num_outputs)
        self.out_act = L.output_activation(output_activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (Tensor[N, C, H, W] or Tensor[N, C, L]) → (Tensor[N, num_outputs])."""
        return self.out_act(self.head(self.pool(self.features(x)).flatten(1)))


class BasicBlock(nn.Module):
    """He et al. 2016 basic block: act(norm(conv(act(norm(conv(x))))) + x), widths kept.

    With maxout, each conv is ``pieces`` times wider and the identity is repeated per piece.
    """

    def __init__(self, width: int, sd: int, activation: str, norm: str) -> None:
        super().__init__()
        conv = _conv(sd)
        self.pieces = L.pieces(activation)
        w = width * self.pieces
        self.conv1 = conv(width, w, 3, padding=1)
        self.norm1 = L.norm(norm, w, sd)
        self.act1 = L.activation(activation)
        self.conv2 = conv(width, w, 3, padding=1)
        self.norm2 = L.norm(norm, w, sd)
        self.act2 = L.activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act1(self.norm1(self.conv1(x)))
        h = self.norm2(self.conv2(h))
        skip = x.repeat_interleave(self.pieces, dim=1) if self.pieces > 1 else x
        return self.act2(h + skip)


class ResNet(nn.Module):
    """Stem conv → depth basic blocks (max-pool 2 after a block while the map is ≥ 4)
    → global average pool → dropout → Linear → output activation.
    """

    def __init__(self, in_channels: int, spatial: tuple[int, ...], num_outputs: int, *, depth: int,
                 width: int, activation: str, norm: str, dropout: float, output_activation: str) -> None:
        super().__init__()
        sd = len(spatial)
        conv, pool = _conv(sd), _pool(sd)
        p = L.pieces(activation)
        self.stem = nn.Sequential(conv(in_channels, width * p, 3, padding=1),
                                  L.norm(norm, width * p, sd), L.activation(activation))
        blocks: list[nn.Module] = []
        size = min(spatial)
        for _ in range(depth):
            blocks.append(BasicBlock(width, sd, activation, norm))
            if size >= 4:
                blocks.append(pool(2))
                size //= 2
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1) if sd == 2 else nn.AdaptiveAvgPool1d(1)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(width, num_outputs)
        self.out_act = L.output_activation(output_activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (Tensor[N, C, H, W] or Tensor[N, C, L]) → (Tensor[N, num_outputs])."""
        h = self.pool(self.blocks(self.stem(x))).flatten(1)
        return self.out_act(self.head(self.drop(h)))


def build_model(model_cfg: Any, input_shape: tuple[int, ...], num_outputs: int, *,
                kind: str = "tabular") -> nn.Module:
    """Build and initialize the model of a ``model:`` config section.

    Args:
        model_cfg: :class:`~torchdoctor.train.config.ModelConfig`.
        input_shape: one sample's shape, e.g. (1, 8, 8), (1, 40) or (64,).
        num_outputs: classes (classification) or targets (regression).
        kind: ``"image"``, ``"sequence"`` or ``"tabular"``.
    """
    m = model_cfg
    common = dict(depth=m.depth, width=m.width, activation=m.activation, norm=m.norm,
                  dropout=m.dropout, output_activation=m.output_activation)
    if m.arch == "mlp":
        n_in = 1
        for s in input_shape:
            n_in *= s
        model: nn.Module = MLP(n_in, num_outputs, **common)
    elif m.arch in ("cnn", "resnet"):
        if kind == "tabular" or len(input_shape) not in (2, 3):
            raise ValueError(
                f"model.arch = {m.arch}: needs image (C, H, W) or sequence (C, L) inputs, "
                f"got {kind} data of shape {tuple(input_shape)}; use arch mlp"
            )
        cls = ConvNet if m.arch == "cnn" else ResNet
        model = cls(input_shape[0], tuple(input_shape[1:]), num_outputs, **common)
    else:
        raise ValueError(f"model.arch = {m.arch!r}: allowed: mlp, cnn, resnet")
    L.initialize(model, m.init, m.activation, m.init_std, m.bias_init)
    return model
