"""Weight initialization by scheme name: ``init_model(model, scheme, ...)``.

The schemes are the config's ``model.init`` names (``docs/config.md``) plus ``lecun_uniform``. Every
scheme is applied to the weights of ``nn.Linear``, ``nn.Conv{1,2,3}d`` and
``nn.ConvTranspose{1,2,3}d`` layers; normalization layers always get γ = 1, β = 0.

==================  ============================================================  =============
scheme              weight distribution                                            source
==================  ============================================================  =============
``default``         PyTorch's own init, left untouched                             --
``constant``        every weight = ``std``                                         --
``zeros``           every weight = 0 (shows the symmetry problem)                  --
``uniform``         U(−std, std)                                                   --
``normal``          N(0, std²)                                                     --
``xavier_uniform``  U(−a, a), a = gain·√(6 / (fan_in + fan_out))                   Glorot 2010
``xavier_normal``   N(0, σ²), σ² = gain² · 2 / (fan_in + fan_out)                  Glorot 2010
``kaiming_uniform`` U(−a, a), a = gain·√(3 / fan_in)                               He 2015
``kaiming_normal``  N(0, σ²), σ² = gain² / fan_in  (= 2 / fan_in for ReLU)         He 2015
``lecun_uniform``   U(−a, a), a = √(3 / fan_in)                                    LeCun 1998
``lecun_normal``    N(0, σ²), σ² = 1 / fan_in                                      LeCun 1998
==================  ============================================================  =============

``gain = torch.nn.init.calculate_gain(nonlinearity)`` (√2 for ReLU, 5/3 for tanh, ...); the
LeCun schemes take no gain (they are the SELU init). With ``nonlinearity="linear"`` the Xavier
and Kaiming variances are the plain closed forms of the papers.

Fans (:func:`fans`): for ``Conv`` with weight ``[out, in/groups, *k]`` a unit sees
``fan_in = in/groups · ∏k`` inputs and each input feeds ``fan_out = out/groups · ∏k`` outputs.
With stride ``s`` a conv input feeds on average ``fan_out = out/groups · ∏k / ∏s`` outputs.
For ``ConvTranspose`` (weight ``[in, out/groups, *k]``) it is the mirror image: an output
position receives on average ``fan_in = in/groups · ∏k / ∏s`` contributions and each input
feeds ``fan_out = out/groups · ∏k`` outputs. (PyTorch's own ``torch.nn.init`` reads the fans
off the weight's first two dimensions and so ignores groups and stride, and swaps in/out for
transposed convs; for plain Linear and ungrouped stride-1 convs the two agree.)

Biases: every scheme except ``default`` sets all biases of those layers to ``bias``.
``default`` leaves PyTorch's bias init alone unless ``bias != 0``, in which case biases are
filled with ``bias`` as well -- so ``default`` with ``bias=0`` is exactly PyTorch's init, and a
non-zero ``bias_init`` from the config is honoured under every scheme.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from torchdoctor.nn._switchnorm import _SwitchNorm

__all__ = ["INIT_SCHEMES", "fans", "init_model"]

#: Every scheme name :func:`init_model` accepts.
INIT_SCHEMES: tuple[str, ...] = (
    "default", "constant", "zeros", "uniform", "normal", "xavier_uniform", "xavier_normal",
    "kaiming_uniform", "kaiming_normal", "lecun_uniform", "lecun_normal",
)

_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d,
             nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)

_NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


def fans(module: nn.Module) -> tuple[float, float]:
    """``(fan_in, fan_out)`` of a Linear, Conv or ConvTranspose layer.

    Args:
        module: ``nn.Linear`` (weight ``[out, in]``), ``nn.Conv*d`` (weight
            ``[out, in/groups, *k]``) or ``nn.ConvTranspose*d`` (weight ``[in, out/groups, *k]``).

    Returns:
        ``fan_in``: how many input values one output value is a weighted sum of (for a
        transposed conv, the average over output positions: ``in/groups · ∏k / ∏stride``);
        ``fan_out``: how many output values one input value contributes to
        (for a transposed conv ``out/groups · ∏k``; for a conv ``out/groups · ∏k / ∏stride``).
    """
    if isinstance(module, nn.Linear):
        return float(module.in_features), float(module.out_features)
    if isinstance(module, nn.modules.conv._ConvNd):
        k = math.prod(module.kernel_size)
        s = math.prod(module.stride)
        g = module.groups
        per_in = module.in_channels / g * k
        per_out = module.out_channels / g * k
        if module.transposed:
            return per_in / s, per_out
        return per_in, per_out / s
    raise ValueError(
        f"module must be nn.Linear, nn.Conv*d or nn.ConvTranspose*d, got {type(module).__name__}"
    )


def _gain(nonlinearity: str) -> float:
    try:
        return float(nn.init.calculate_gain(nonlinearity))  # type: ignore[arg-type]
    except ValueError:
        raise ValueError(
            f"nonlinearity must be a name torch.nn.init.calculate_gain knows (linear, conv2d, "
            f"sigmoid, tanh, relu, leaky_relu, selu), got {nonlinearity!r}"
        ) from None


@torch.no_grad()
def _init_weight(module: nn.Module, scheme: str, gain: float, std: float) -> None:
    w = module.weight
    if scheme == "constant":
        w.fill_(std)
    elif scheme == "zeros":
        w.zero_()
    elif scheme == "uniform":
        w.uniform_(-std, std)
    elif scheme == "normal":
        w.normal_(0.0, std)
    else:
        fan_in, fan_out = fans(module)
        family, dist = scheme.split("_")
        if family == "xavier":
            sigma = gain * math.sqrt(2.0 / (fan_in + fan_out))
        elif family == "kaiming":
            sigma = gain / math.sqrt(fan_in)
        else:  # lecun
            sigma = 1.0 / math.sqrt(fan_in)
        if dist == "normal":
            w.normal_(0.0, sigma)
        else:  # uniform with the same variance: bound = √3 σ
            bound = math.sqrt(3.0) * sigma
            w.uniform_(-bound, bound)


def init_model(model: nn.Module, scheme: str, *, nonlinearity: str = "relu", std: float = 0.01,
               bias: float = 0.0) -> nn.Module:
    """Initialize every Linear / Conv / ConvTranspose weight of ``model`` in place.

    Args:
        model: any module; its submodules are visited with ``model.modules()``.
        scheme: one of :data:`INIT_SCHEMES` (table in the module docstring).
        nonlinearity: the activation after the layers, for the gain of the Xavier and Kaiming
            schemes (``torch.nn.init.calculate_gain`` names; ``leaky_relu`` uses slope 0.01).
        std: standard deviation for ``normal``, bound for ``uniform``, value for ``constant``
            (dimensionless, same units as the weights).
        bias: value for the biases of the initialized layers (see the module docstring for the
            ``default`` scheme).

    Returns:
        ``model`` itself, initialized. Normalization layers (BatchNorm, InstanceNorm, GroupNorm,
        LayerNorm, SwitchNorm) get weight γ = 1 and bias β = 0 under every scheme.

    Raises:
        ValueError: unknown ``scheme`` or ``nonlinearity``, non-finite ``std`` or ``bias``,
            negative ``std`` for ``normal`` / ``uniform``.
    """
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(INIT_SCHEMES)}, got {scheme!r}")
    if not math.isfinite(std):
        raise ValueError(f"std must be finite, got {std}")
    if scheme in ("normal", "uniform") and std < 0:
        raise ValueError(f"std must be >= 0 for scheme {scheme!r}, got {std}")
    if not math.isfinite(bias):
        raise ValueError(f"bias must be finite, got {bias}")
    gain = _gain(nonlinearity)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, _WEIGHTED):
                if scheme != "default":
                    _init_weight(m, scheme, gain, std)
                if m.bias is not None and (scheme != "default" or bias != 0.0):
                    m.bias.fill_(bias)
            elif isinstance(m, (*_NORMS, _SwitchNorm)):
                if getattr(m, "weight", None) is not None:
                    m.weight.fill_(1.0)
                if getattr(m, "bias", None) is not None:
                    m.bias.zero_()
    return model
