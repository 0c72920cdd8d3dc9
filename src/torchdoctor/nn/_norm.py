"""The normalization factory ``make_norm`` and the model-wide swap ``convert_norm``.

Every kind takes ``num_channels`` first, so the layers swap for each other:

========== ===================================================== ==========================
kind       normalizes each ... over                              layer returned
========== ===================================================== ==========================
none       --                                                    ``nn.Identity``
batch      channel, over N·(spatial)                             ``nn.BatchNorm{1,1,2,3}d``
layer      sample, over C·(spatial); per-channel γ, β            ``nn.GroupNorm(1, C)``
instance   sample and channel, over (spatial)                    ``nn.InstanceNorm{1,2,3}d``
group      sample and group of C/G channels, over (C/G)·(spat.) ``nn.GroupNorm(G, C)``
switch     learned mix of IN, LN and BN statistics               ``SwitchNorm{1,1,2}d``
========== ===================================================== ==========================

(columns for ``spatial_dims`` = 0, 1, 2, 3; ``switch`` supports 0–2.)

``layer`` is ``GroupNorm`` with one group: on ``[N, C]`` it equals ``nn.LayerNorm(C)``, on
``[N, C, H, W]`` it normalizes each sample over C·H·W as Ba et al. 2016 define LayerNorm, with one
γ, β per channel (``nn.LayerNorm([C, H, W])`` would need the spatial size and learn one
γ per position). ``instance`` is affine by default here (PyTorch's default is not), so every
kind carries the same 2·C learnable parameters.

Group count rule: ``group`` defaults to G = 32 (Wu & He 2018). When C is not a multiple of the
*default*, the largest divisor of C below it is used with a ``UserWarning``
(:func:`default_groups` gives that count without the warning). For ``[N, C]``
features (``spatial_dims=0``) a group has no spatial positions, only C/G numbers, so the
default there is G = min(32, C // 16) (at least 1): 16 values per group, Wu & He's other
setting (Table 3); C = 64 gives 4 groups, C < 32 gives 1 group (= layer). A G passed
explicitly is taken as meant: it must satisfy ``1 <= G <= C`` and divide C, else ValueError;
G = C on ``[N, C]`` features (one value per group: constant output, no gradient) is allowed
but warned about.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from torchdoctor.nn._switchnorm import SwitchNorm1d, SwitchNorm2d, _SwitchNorm

__all__ = ["NORM_KINDS", "convert_norm", "default_groups", "make_norm"]

#: Every kind :func:`make_norm` accepts (the config's ``model.norm`` names).
NORM_KINDS: tuple[str, ...] = ("none", "batch", "layer", "instance", "group", "switch")

DEFAULT_GROUPS = 32
#: For [N, C] features a group is only C/G numbers; keep at least this many per group
#: (the "16 channels per group" setting of Wu & He 2018, Table 3).
MIN_FEATURES_PER_GROUP = 16

_BATCH = {0: nn.BatchNorm1d, 1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
_INSTANCE = {1: nn.InstanceNorm1d, 2: nn.InstanceNorm2d, 3: nn.InstanceNorm3d}
_SWITCH = {0: SwitchNorm1d, 1: SwitchNorm1d, 2: SwitchNorm2d}


def _target_groups(num_channels: int, spatial_dims: int) -> int:
    if spatial_dims == 0:  # features: keep >= 16 values per group (no spatial positions)
        return max(1, min(DEFAULT_GROUPS, num_channels // MIN_FEATURES_PER_GROUP))
    return DEFAULT_GROUPS


def default_groups(num_channels: int, spatial_dims: int = 2) -> int:
    """The group count ``make_norm("group", num_channels)`` uses, without the warning.

    The largest divisor of ``num_channels`` not above the default (32, or ``C // 16`` for
    ``spatial_dims=0``; rule in the module docstring).
    """
    if num_channels < 1:
        raise ValueError(f"num_channels must be >= 1, got {num_channels}")
    g = min(_target_groups(num_channels, spatial_dims), num_channels)
    while num_channels % g:
        g -= 1
    return g


def _num_groups(num_channels: int, num_groups: int | None, spatial_dims: int) -> int:
    if num_groups is not None:
        if not 1 <= num_groups <= num_channels or num_channels % num_groups:
            divisors = [d for d in range(1, num_channels + 1) if num_channels % d == 0]
            raise ValueError(
                f"num_groups must divide num_channels={num_channels} (one of {divisors}), "
                f"got {num_groups}"
            )
        if spatial_dims == 0 and num_groups == num_channels:
            warnings.warn(
                f"group norm: num_groups={num_groups} = num_channels on [N, C] features "
                f"(spatial_dims=0) leaves one value per group: the output is the constant β "
                f"and no gradient flows back; use default_groups({num_channels}, 0)="
                f"{default_groups(num_channels, 0)}", UserWarning, stacklevel=3)
        return num_groups
    target = _target_groups(num_channels, spatial_dims)
    g = default_groups(num_channels, spatial_dims)
    if g != target:
        warnings.warn(
            f"group norm: num_channels={num_channels} is not a multiple of the default "
            f"{target} groups; using num_groups={g}", UserWarning, stacklevel=3)
    return g


def make_norm(kind: str, num_channels: int, *, spatial_dims: int = 2, **kw: Any) -> nn.Module:
    """A normalization layer for ``num_channels`` channels.

    Args:
        kind: one of :data:`NORM_KINDS` (table in the module docstring).
        num_channels: C, the size of dim 1 of the input.
        spatial_dims: 0 for ``[N, C]`` features (MLP), 1 for ``[N, C, L]``, 2 for
            ``[N, C, H, W]``, 3 for ``[N, C, D, H, W]``.
        **kw: passed to the layer (``eps``, ``momentum``, ``affine``, ``device``, ``dtype``;
            ``num_groups`` for ``group``; ``using_bn`` for ``switch``).

    Returns:
        The layer; ``nn.Identity()`` for ``none``.

    Raises:
        ValueError: unknown ``kind``, ``num_channels < 1``, ``spatial_dims`` out of range,
            ``instance`` with ``spatial_dims=0`` (one value per channel: nothing to normalize),
            an impossible explicit ``num_groups``.
    """
    if kind not in NORM_KINDS:
        raise ValueError(f"kind must be one of {', '.join(NORM_KINDS)}, got {kind!r}")
    if num_channels < 1:
        raise ValueError(f"num_channels must be >= 1, got {num_channels}")
    if spatial_dims not in (0, 1, 2, 3):
        raise ValueError(f"spatial_dims must be 0, 1, 2 or 3, got {spatial_dims}")
    if kind == "none":
        return nn.Identity()
    if kind == "batch":
        return _BATCH[spatial_dims](num_channels, **kw)
    if kind == "layer":
        return nn.GroupNorm(1, num_channels, **kw)
    if kind == "group":
        g = _num_groups(num_channels, kw.pop("num_groups", None), spatial_dims)
        return nn.GroupNorm(g, num_channels, **kw)
    if kind == "instance":
        if spatial_dims == 0:
            raise ValueError("spatial_dims must be >= 1 for instance norm (on [N, C] each "
                             "channel of a sample is one value: nothing to normalize), got 0")
        kw.setdefault("affine", True)
        return _INSTANCE[spatial_dims](num_channels, **kw)
    if spatial_dims == 3:
        raise ValueError("spatial_dims must be 0, 1 or 2 for switch norm, got 3")
    return _SWITCH[spatial_dims](num_channels, **kw)


_NORM_TYPES = (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm,
               nn.GroupNorm, nn.LayerNorm, _SwitchNorm)


def _describe(m: nn.Module) -> tuple[int, int | None] | None:
    """``(num_channels, spatial_dims or None if unknown)`` of a norm layer, else None."""
    if isinstance(m, nn.modules.batchnorm._BatchNorm):
        dims = {nn.BatchNorm1d: 1, nn.BatchNorm2d: 2, nn.BatchNorm3d: 3}.get(type(m))
        return m.num_features, dims
    if isinstance(m, nn.modules.instancenorm._InstanceNorm):
        dims = {nn.InstanceNorm1d: 1, nn.InstanceNorm2d: 2, nn.InstanceNorm3d: 3}.get(type(m))
        return m.num_features, dims
    if isinstance(m, nn.GroupNorm):
        return m.num_channels, None
    if isinstance(m, nn.LayerNorm):
        if len(m.normalized_shape) == 1:
            return m.normalized_shape[0], 0
        return m.normalized_shape[0], len(m.normalized_shape) - 1
    if isinstance(m, _SwitchNorm):
        return m.num_channels, 2 if isinstance(m, SwitchNorm2d) else 1
    return None


def _per_channel(m: nn.Module, name: str, c: int) -> torch.Tensor | None:
    t = getattr(m, name, None)
    if isinstance(t, torch.Tensor) and t.shape == (c,):
        return t
    return None


@torch.no_grad()
def _carry_over(old: nn.Module, new: nn.Module, c: int) -> None:
    """Copy γ, β (and BN running statistics) when both layers hold them per channel."""
    for name in ("weight", "bias", "running_mean", "running_var"):
        src, dst = _per_channel(old, name, c), _per_channel(new, name, c)
        if src is not None and dst is not None:
            dst.copy_(src)


def _swap(parent: nn.Module, prefix: str, kind: str, spatial_dims: int | None,
          kw: dict[str, Any]) -> int:
    swapped = 0
    for name, child in list(parent.named_children()):
        path = f"{prefix}.{name}" if prefix else name
        info = _describe(child)
        if info is None:
            swapped += _swap(child, path, kind, spatial_dims, kw)
            continue
        c, dims = info
        if spatial_dims is not None:
            dims = spatial_dims
        if dims is None:
            if kind in ("batch", "instance", "switch"):
                raise ValueError(
                    f"spatial_dims must be given to convert {type(child).__name__} layer "
                    f"{path!r} to {kind!r} (it works for any input rank), got None")
            dims = 2
        tensors = [*child.parameters(recurse=False), *child.buffers(recurse=False)]
        factory = dict(kw)
        if tensors:
            factory.setdefault("device", tensors[0].device)
            if tensors[0].is_floating_point():
                factory.setdefault("dtype", tensors[0].dtype)
        new = make_norm(kind, c, spatial_dims=dims, **factory) if kind != "none" else nn.Identity()
        _carry_over(child, new, c)
        new.train(child.training)
        setattr(parent, name, new)
        swapped += 1
    return swapped


def convert_norm(model: nn.Module, kind: str, *, spatial_dims: int | None = None,
                 **kw: Any) -> nn.Module:
    """Replace every normalization layer of ``model`` (in place) by ``make_norm(kind, C)``.

    Recognised layers: ``BatchNorm*``/``SyncBatchNorm``, ``InstanceNorm*``, ``GroupNorm``,
    ``LayerNorm`` (its first normalized dim is taken as C), ``SwitchNorm*``. The new layer is
    created on the old one's device and dtype, in the same train/eval mode; γ and β are copied
    when both layers have one per channel, and BN running statistics when both keep them
    (BatchNorm ↔ SwitchNorm). The typical use: BatchNorm → GroupNorm for small batches.

    Args:
        model: the model; modified in place. A model that *is* a norm layer cannot be swapped
            in place: wrap it (``nn.Sequential(layer)``).
        kind: target kind, one of :data:`NORM_KINDS`.
        spatial_dims: input rank minus 2 for every layer; by default inferred from each layer's
            class (``*1d`` → 1, ``*2d`` → 2, one-dim ``LayerNorm`` → 0). ``GroupNorm`` does not
            reveal it: converting one to batch, instance or switch needs this argument.
        **kw: passed to :func:`make_norm` (e.g. ``num_groups``).

    Returns:
        ``model``.

    Raises:
        ValueError: unknown ``kind``; see :func:`make_norm` and ``spatial_dims``.
    """
    if kind not in NORM_KINDS:
        raise ValueError(f"kind must be one of {', '.join(NORM_KINDS)}, got {kind!r}")
    if spatial_dims is not None and spatial_dims not in (0, 1, 2, 3):
        raise ValueError(f"spatial_dims must be 0, 1, 2 or 3, got {spatial_dims}")
    if isinstance(model, _NORM_TYPES):
        raise ValueError(f"model must contain norm layers, not be one, got {type(model).__name__}"
                         " (wrap it in nn.Sequential)")
    _swap(model, "", kind, spatial_dims, kw)
    return model
