"""Activations by name: ``make_activation``, ``replace_activation``, and maxout.

Maxout (Goodfellow et al. 2013) takes the maximum of ``pieces`` linear functions. It comes in two
forms here:

- :class:`Maxout` ``(in_features, out_features, pieces)``: a complete layer, one
  ``nn.Linear(in, out·pieces)`` followed by the max over each unit's pieces;
- :class:`GroupMax` ``(pieces)``: the activation alone, what ``make_activation("maxout")``
  returns. It reduces dim 1 by ``pieces`` (``[N, C·pieces, *] → [N, C, *]``), taking the max over
  groups of ``pieces`` consecutive channels; the layer before it must be ``pieces`` times wider.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

__all__ = ["ACTIVATIONS", "GroupMax", "Maxout", "make_activation", "replace_activation"]


def group_max(input: Tensor, pieces: int) -> Tensor:
    """Max over groups of ``pieces`` consecutive channels.

    Args:
        input (Tensor[N, C·pieces, *]): ``C·pieces`` must be divisible by ``pieces``.
        pieces: group size (>= 1).

    Returns:
        Tensor[N, C, *].
    """
    if input.dim() < 2 or input.shape[1] % pieces:
        raise ValueError(f"input.shape[1] must be a multiple of pieces={pieces}, "
                         f"got shape {tuple(input.shape)}")
    n, cp = input.shape[:2]
    return input.reshape(n, cp // pieces, pieces, *input.shape[2:]).amax(2)


class GroupMax(nn.Module):
    """The maxout activation: max over groups of ``pieces`` consecutive channels of dim 1.

    See :func:`group_max`. ``[N, C·pieces, *] → [N, C, *]``.

    Args:
        pieces: linear pieces per unit (>= 1; default 2).
    """

    def __init__(self, pieces: int = 2) -> None:
        super().__init__()
        if not isinstance(pieces, int) or pieces < 1:
            raise ValueError(f"pieces must be an int >= 1, got {pieces!r}")
        self.pieces = pieces

    def forward(self, input: Tensor) -> Tensor:
        """input (Tensor[N, C·pieces, *]) → Tensor[N, C, *]."""
        return group_max(input, self.pieces)

    def extra_repr(self) -> str:
        return f"pieces={self.pieces}"


class Maxout(nn.Module):
    """Maxout layer: ``y_j = max_k (W_{jk} x + b_{jk})`` for ``k < pieces``.

    Args:
        in_features: size of dim 1 of the input ``[N, in_features]``.
        out_features: units.
        pieces: linear pieces per unit (>= 1; Goodfellow et al. use 2–5).
        bias: learn ``b``.

    Shapes: ``[N, in_features] → [N, out_features]``. Unit ``j`` owns rows
    ``j·pieces … j·pieces + pieces − 1`` of ``self.linear.weight``.
    """

    def __init__(self, in_features: int, out_features: int, pieces: int = 2,
                 bias: bool = True) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features),
                            ("pieces", pieces)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        self.in_features = in_features
        self.out_features = out_features
        self.pieces = pieces
        self.linear = nn.Linear(in_features, out_features * pieces, bias=bias)

    def forward(self, input: Tensor) -> Tensor:
        """input (Tensor[N, in_features]) → Tensor[N, out_features]."""
        return group_max(self.linear(input), self.pieces)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, pieces={self.pieces}"


#: name → constructor; every config ``model.activation`` name.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "maxout": GroupMax,
}

#: module types :func:`replace_activation` treats as activations.
_ACTIVATION_TYPES: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.CELU, nn.SELU, nn.GELU,
    nn.SiLU, nn.Mish, nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid,
    nn.Softplus, nn.Softsign, nn.Tanhshrink, GroupMax,
)


def make_activation(name: str, **kw: Any) -> nn.Module:
    """The activation module for ``name``.

    Args:
        name: one of :data:`ACTIVATIONS` (relu, leaky_relu, elu, selu, gelu, tanh, sigmoid,
            maxout).
        **kw: passed to the module, e.g. ``negative_slope=0.2`` for leaky_relu, ``alpha`` for
            elu, ``pieces`` for maxout (default 2; the layer before must be ``pieces`` × wider).

    Returns:
        A fresh module (``nn.ReLU()``, ..., or :class:`GroupMax` for maxout).

    Raises:
        ValueError: unknown ``name`` (the message lists the valid ones); bad ``pieces``.
    """
    if name not in ACTIVATIONS:
        raise ValueError(f"name must be one of {', '.join(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name](**kw)


def replace_activation(model: nn.Module, name: str, **kw: Any) -> nn.Module:
    """Replace every activation module of ``model`` (in place) by ``make_activation(name)``.

    Typical use: ReLU → LeakyReLU or ELU against dead ReLUs (Maas et al. 2013;
    Clevert et al. 2016). Activations called
    functionally inside ``forward`` (``F.relu``) are not modules and stay as they are.

    Args:
        model: modified in place.
        name: target, any :data:`ACTIVATIONS` name except ``maxout`` (it changes the width).
        **kw: passed to :func:`make_activation`.

    Returns:
        ``model``.

    Raises:
        ValueError: unknown name; ``maxout`` as target, or a model with maxout units (swapping
            them changes layer widths: rebuild the model instead).
    """
    if name not in ACTIVATIONS:
        raise ValueError(f"name must be one of {', '.join(ACTIVATIONS)}, got {name!r}")
    if name == "maxout":
        raise ValueError("name must not be 'maxout' for replace_activation: maxout changes the "
                         "width of the layer before it; build the model with it instead")
    if any(isinstance(m, (GroupMax, Maxout)) for m in model.modules()):
        raise ValueError("model must not contain maxout units for replace_activation "
                         "(replacing them changes layer widths), got a model with GroupMax/Maxout")
    if isinstance(model, _ACTIVATION_TYPES):
        raise ValueError(f"model must contain activations, not be one, got "
                         f"{type(model).__name__} (wrap it in nn.Sequential)")
    _replace(model, name, kw)
    return model


def _replace(parent: nn.Module, name: str, kw: dict[str, Any]) -> None:
    for child_name, child in list(parent.named_children()):
        if isinstance(child, _ACTIVATION_TYPES):
            new = make_activation(name, **kw)
            params = list(child.parameters())
            if params:  # PReLU: keep the device / dtype
                new = new.to(params[0].device)
            setattr(parent, child_name, new)
        else:
            _replace(child, name, kw)

