"""Normalization, activation and convolution building blocks (the pharmacy, part A).

Factories: :func:`make_norm` / :func:`convert_norm` (none, batch, layer, instance, group,
switch), :func:`make_activation` / :func:`replace_activation` (relu, leaky_relu, elu, selu,
gelu, tanh, sigmoid, maxout). Layers PyTorch lacks: :class:`SwitchNorm1d`,
:class:`SwitchNorm2d` (functional :func:`switch_norm`), :class:`Maxout`, :class:`GroupMax`,
:class:`SeparableConv2d`, :class:`FPN`. Spectral normalization: use PyTorch's
``torch.nn.utils.parametrizations.spectral_norm(layer)``; ``torchdoctor.ops`` has the power
iteration ``largest_singular_value``.

Which normalization (sources in :func:`recommend_norm`):

===========  ==================================  ============================================
kind         statistics over (input N×C×H×W)     use it for
===========  ==================================  ============================================
batch        N·H·W per channel                   classification etc. with batches >= 16;
                                                 weak at small batches and in RNNs
layer        C·H·W per sample                    RNNs / sequences, batch size 1
instance     H·W per sample and channel          style transfer, GAN generators
group        (C/G)·H·W per sample, G = 32        vision at small batch sizes (detection,
                                                 segmentation); G = 1 is layer, G = C instance
switch       learned mix of IN, LN, BN           unsure, and the extra compute is acceptable
===========  ==================================  ============================================
"""

from torchdoctor.nn._activation import (
    ACTIVATIONS,
    GroupMax,
    Maxout,
    make_activation,
    replace_activation,
)
from torchdoctor.nn._advice import NORM_TASKS, SMALL_BATCH, recommend_norm
from torchdoctor.nn._conv import FPN, SeparableConv2d
from torchdoctor.nn._norm import NORM_KINDS, convert_norm, default_groups, make_norm
from torchdoctor.nn._switchnorm import SwitchNorm1d, SwitchNorm2d, switch_norm

__all__ = [
    "ACTIVATIONS",
    "FPN",
    "GroupMax",
    "Maxout",
    "NORM_KINDS",
    "NORM_TASKS",
    "SMALL_BATCH",
    "SeparableConv2d",
    "SwitchNorm1d",
    "SwitchNorm2d",
    "convert_norm",
    "default_groups",
    "make_activation",
    "make_norm",
    "recommend_norm",
    "replace_activation",
    "switch_norm",
]
