"""Helpers shared by the lab experiments 6–10 (MLPs by activation name, dead units, seeds).

Not an experiment (the leading ``_`` keeps the registry away). Candidates for
:mod:`torchdoctor.lab._common`: :func:`activation_modules`, :func:`dead_fraction`, :func:`negative_share`.
"""

from __future__ import annotations

import torch
from torch import nn

from torchdoctor import nn as td_nn


def activation_modules(model: nn.Module) -> list[nn.Module]:
    """The activation modules of an :func:`mlp`, in order (one per hidden layer)."""
    kinds = tuple(td_nn.ACTIVATIONS.values())
    return [m for m in model.modules() if isinstance(m, kinds)]


def _preactivations(model: nn.Module, x: torch.Tensor) -> list[tuple[nn.Module, torch.Tensor]]:
    """(activation module, its input) for each hidden layer, the model run in eval mode."""
    acts = activation_modules(model)
    seen: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda _m, inp, _out: seen.append(inp[0].detach()))
             for m in acts]
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
        model.train(was)
    return list(zip(acts, seen, strict=True))


def dead_fraction(model: nn.Module, x: torch.Tensor) -> float:
    """Share of hidden units (all layers) whose activation has zero gradient on every sample of ``x``.

    A unit's gradient is ``d act(z) / d z`` at its pre-activation ``z`` (for maxout: w.r.t. any
    of its pieces). ReLU units never active on ``x`` count as dead; LeakyReLU, ELU and maxout
    units never do (their gradient is not zero). The model runs in eval mode (restored after).
    """
    dead = total = 0
    for act, z in _preactivations(model, x):
        z = z.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(act(z).sum(), z)
        pieces = int(getattr(act, "pieces", 1))
        alive = (g != 0).reshape(len(g), -1, pieces).any(2).any(0)  # (units,)
        dead += int((~alive).sum())
        total += alive.numel()
    return dead / max(total, 1)


def negative_share(model: nn.Module, x: torch.Tensor) -> float:
    """Share of (sample, hidden unit) pairs whose activation output is <= 0 on ``x``.

    For ReLU that is the inactive share (zero output, zero gradient); for LeakyReLU, ELU and
    maxout it is the share on the negative side, where the slope is small (0.01 for LeakyReLU).
    """
    outs = [act(z) for act, z in _preactivations(model, x)]
    total = sum(o.numel() for o in outs)
    return sum(int((o <= 0).sum()) for o in outs) / max(total, 1)
