"""The one place where config names become layers (norms, activations, init, optimizers, losses).

Everything here delegates to the pharmacy (``torchdoctor.nn``, ``torchdoctor.init``,
``torchdoctor.optim``, ``torchdoctor.losses``), so the models and the trainer never name a
PyTorch class for a configurable choice.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

#: pieces of a maxout unit (Goodfellow et al. 2013 use 2–5; 2 keeps parameter counts modest).
MAXOUT_PIECES = 2

#: activation name -> nonlinearity name understood by ``torch.nn.init.calculate_gain``.
GAIN_NAME = {
    "relu": "relu", "leaky_relu": "leaky_relu", "elu": "relu", "selu": "selu", "gelu": "relu",
    "tanh": "tanh", "sigmoid": "sigmoid", "maxout": "linear",
}


def pieces(activation: str) -> int:
    """How many times wider a layer feeding ``activation`` must be (maxout reduces channels)."""
    return MAXOUT_PIECES if activation == "maxout" else 1


def norm(kind: str, channels: int, spatial_dims: int) -> nn.Module:
    """A normalization layer over ``channels`` (spatial_dims 0: (N, C); 1: (N, C, L); 2: (N, C, H, W))."""
    from torchdoctor.nn import default_groups, make_norm

    if kind == "group":  # Wu & He's 32 groups where the width allows; >= 16 values per group on features
        return make_norm(kind, channels, spatial_dims=spatial_dims,
                         num_groups=default_groups(channels, spatial_dims))
    return make_norm(kind, channels, spatial_dims=spatial_dims)


def activation(name: str) -> nn.Module:
    """The activation module for a config name."""
    from torchdoctor.nn import make_activation

    if name == "maxout":
        return make_activation(name, pieces=MAXOUT_PIECES)
    return make_activation(name)


def output_activation(name: str) -> nn.Module:
    """The model's last activation: none | softmax | sigmoid | relu | log_softmax (over dim 1)."""
    table: dict[str, type[nn.Module] | None] = {
        "none": None, "softmax": nn.Softmax, "sigmoid": nn.Sigmoid, "relu": nn.ReLU,
        "log_softmax": nn.LogSoftmax,
    }
    if name not in table:
        raise ValueError(f"model.output_activation = {name!r}: allowed: {', '.join(table)}")
    cls = table[name]
    if cls is None:
        return nn.Identity()
    return cls(dim=1) if name in ("softmax", "log_softmax") else cls()


def initialize(model: nn.Module, scheme: str, activation_name: str, std: float, bias: float) -> None:
    """Apply the config's ``model.init`` scheme with the right gain."""
    from torchdoctor.init import init_model

    init_model(model, scheme, nonlinearity=GAIN_NAME.get(activation_name, "relu"), std=std, bias=bias)


def optimizer(name: str, params: Iterable[torch.nn.Parameter], lr: float, momentum: float,
              weight_decay: float) -> torch.optim.Optimizer:
    """The config's optimizer (``gd`` is plain SGD; the trainer feeds it the full batch)."""
    from torchdoctor.optim import make_optimizer

    return make_optimizer(name, params, lr, momentum=momentum, weight_decay=weight_decay)
