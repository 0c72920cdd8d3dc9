"""Receptive fields: analytic (conv/pool arithmetic) and empirical (gradient of a centre unit).

A 3×3 convolution at dilation rate 2 sees 5×5 (Yu & Koltun 2016); stacking small kernels grows
the receptive field (three 3×3 convolutions see 7×7, like one 7×7). For a chain of layers with
kernel ``k``, stride ``s``, padding ``p`` and dilation ``d`` (``k_eff = d(k − 1) + 1``), per
spatial axis (Dumoulin & Visin 2016; Araujo et al. 2019)::

    jump_out  = jump_in · s                       (distance in input pixels between units)
    size_out  = size_in + (k_eff − 1) · jump_in   (receptive-field size in input pixels)
    start_out = start_in + ((k_eff − 1)/2 − p) · jump_in   (centre of the first unit's field)

starting from ``jump = size = 1`` and ``start = 0`` (the centre of input pixel 0). The
analytic walk assumes the convolution and pooling layers form one chain in the order they run
(true for VGG-style stacks; for branches such as residual blocks it reports the longest
path only if that is the order of execution — use :func:`empirical_receptive_field`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_POOL = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)


@dataclass(frozen=True)
class LayerRF:
    """Receptive field after one layer, per spatial axis (in input pixels).

    Attributes:
        name: the module's qualified name in the model.
        kind: the module's class name.
        size: receptive-field size per axis.
        jump: distance between neighbouring output units, in input pixels (stride product).
        start: input coordinate of the centre of the first output unit's field.
        output_shape: the layer's output shape in the dummy forward pass.
    """

    name: str
    kind: str
    size: tuple[int, ...]
    jump: tuple[int, ...]
    start: tuple[float, ...]
    output_shape: tuple[int, ...]


def _tuple(value: int | tuple[int, ...], nd: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * nd


def _geometry(module: nn.Module, nd: int) -> tuple[tuple[int, ...], ...]:
    """(kernel, stride, padding, dilation) of a conv or pooling layer, one int per axis."""
    kernel = _tuple(module.kernel_size, nd)
    stride = _tuple(module.stride if module.stride is not None else module.kernel_size, nd)
    dilation = _tuple(getattr(module, "dilation", 1), nd)
    padding = module.padding
    if isinstance(padding, str):  # Conv "valid" / "same"
        padding = (0,) * nd if padding == "valid" else tuple(
            (d * (k - 1)) // 2 for k, d in zip(kernel, dilation, strict=True))
    return kernel, stride, _tuple(padding, nd), dilation


def receptive_field(model: nn.Module, input_shape: tuple[int, ...]) -> list[LayerRF]:
    """Receptive field after every convolution and pooling layer, in execution order.

    The layers are found by forward hooks on one dummy forward pass (zeros, ``no_grad``,
    eval mode; the model's mode is restored), so the order is the order they run.

    Args:
        model: any module containing ``Conv{1,2,3}d``, ``MaxPool{1,2,3}d`` or
            ``AvgPool{1,2,3}d`` layers.
        input_shape: ``(N, C, *spatial)``, e.g. ``(1, 3, 224, 224)``.

    Returns:
        One :class:`LayerRF` per conv/pool call (a module called twice appears twice).

    Raises:
        ValueError: ``input_shape`` has fewer than 3 dimensions or the model has no
            convolution or pooling layer.
    """
    if len(input_shape) < 3:
        raise ValueError(f"input_shape must be (N, C, *spatial), got {tuple(input_shape)}")
    nd = len(input_shape) - 2
    names = {m: n for n, m in model.named_modules()}
    calls: list[tuple[nn.Module, tuple[int, ...]]] = []

    def hook(module: nn.Module, _inp: object, out: torch.Tensor) -> None:
        calls.append((module, tuple(out.shape)))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, _CONV + _POOL)]
    param = next(model.parameters(), None)
    kw = {"dtype": param.dtype, "device": param.device} if param is not None else {}
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(*input_shape, **kw))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    if not calls:
        raise ValueError("model must contain Conv or Pool layers (Conv1d-3d, MaxPool, AvgPool), "
                         "found none")
    size, jump, start = [1] * nd, [1] * nd, [0.0] * nd
    layers = []
    for module, shape in calls:
        kernel, stride, padding, dilation = _geometry(module, nd)
        for a in range(nd):
            k_eff = dilation[a] * (kernel[a] - 1) + 1
            start[a] = start[a] + ((k_eff - 1) / 2 - padding[a]) * jump[a]
            size[a] = size[a] + (k_eff - 1) * jump[a]
            jump[a] = jump[a] * stride[a]
        layers.append(LayerRF(names.get(module, ""), type(module).__name__, tuple(size),
                              tuple(jump), tuple(start), shape))
    return layers


def empirical_receptive_field(model: nn.Module, input_shape: tuple[int, ...], *,
                              seed: int = 0) -> tuple[int, ...]:
    """Receptive field of the centre output unit, measured by its input gradient.

    Runs a random input (seeded) through ``model`` in eval mode, back-propagates the sum
    over channels of the output at the spatial centre, and returns the extent of the
    non-zero input gradient per axis. Works for any model whose output is ``[N, C, *spatial]``
    (residual branches, concatenations...). Max pooling routes the gradient to one input per
    window, so with max pooling the measured field can be smaller than the analytic one;
    a unit whose gradient vanishes (dead ReLUs) also shrinks it.

    Args:
        model: the model.
        input_shape: ``(N, C, *spatial)``; large enough that the field does not reach the
            border, else the measured size is cut.
        seed: seed of the random input.

    Returns:
        The size per spatial axis, in input pixels.

    Raises:
        ValueError: ``input_shape`` or the output have fewer than 3 dimensions.
    """
    if len(input_shape) < 3:
        raise ValueError(f"input_shape must be (N, C, *spatial), got {tuple(input_shape)}")
    param = next(model.parameters(), None)
    dtype = param.dtype if param is not None else torch.float32
    device = param.device if param is not None else None
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(*input_shape, generator=gen, dtype=dtype).to(device).requires_grad_(True)
    was_training = model.training
    try:
        model.eval()
        out = model(x)
        if out.ndim != len(input_shape):
            raise ValueError(f"model output must be [N, C, *spatial] with {len(input_shape) - 2} "
                             f"spatial axes, got shape {tuple(out.shape)}")
        centre = tuple(s // 2 for s in out.shape[2:])
        (grad,) = torch.autograd.grad(out[(0, slice(None), *centre)].sum(), x)
    finally:
        model.train(was_training)
    mask = grad[0].abs().sum(0) > 0
    sizes = []
    for a in range(mask.ndim):
        other = tuple(d for d in range(mask.ndim) if d != a)
        hit = mask.any(dim=other) if other else mask
        idx = hit.nonzero().flatten()
        sizes.append(int(idx.max() - idx.min() + 1) if len(idx) else 0)
    return tuple(sizes)
