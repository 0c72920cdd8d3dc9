"""Does the optimizer update what the model trains? Facts for the ``no_update`` symptom.

Two probes, both cheap and off the hot path:

- :func:`optimizer_coverage` (at each diagnosis): which watched layers have trainable
  parameters that no optimizer parameter group holds, which sit in a group whose learning
  rate is 0, and the current rates.
- :func:`grads_absent` (on sampled optimizer steps, in the step pre-hook): did the optimizer
  step run with no gradient at all on the model's parameters (every ``.grad`` is ``None``)?
  The recorder also notes whether backward computed a gradient since the last step (a tensor
  hook on one parameter): then ``zero_grad()`` ran between ``backward()`` and ``step()``;
  otherwise no gradient reached the parameters.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["grads_absent", "optimizer_coverage", "stepped_ids"]


def optimizer_coverage(params: list[torch.nn.Parameter], layers: list[str],
                       optimizer: torch.optim.Optimizer | None) -> dict[str, Any]:
    """Which layers' trainable parameters the optimizer does not update.

    Args:
        params: the watched (trainable) parameters.
        layers: the layer name of each parameter (same order).
        optimizer: the optimizer, or ``None`` (then nothing is known).

    Returns:
        ``{"known": bool, "unoptimized": [layer, ...], "zero_lr": [layer, ...],
        "lrs": [float, ...], "layers": int}``: layers listed when ALL their watched parameters
        are outside every group (``unoptimized``) or only in groups with rate 0 (``zero_lr``).
    """
    if optimizer is None:
        return {"known": False, "unoptimized": [], "zero_lr": [], "lrs": [], "layers": len(set(layers))}
    lr_of: dict[int, float] = {}
    lrs: list[float] = []
    for g in optimizer.param_groups:
        lr = g.get("lr", 0.0)
        lr = float(lr.item()) if isinstance(lr, torch.Tensor) else float(lr)
        lrs.append(lr)
        for p in g["params"]:
            lr_of[id(p)] = max(lr, lr_of.get(id(p), 0.0))
    by_layer: dict[str, list[float | None]] = {}
    for p, layer in zip(params, layers, strict=True):
        by_layer.setdefault(layer, []).append(lr_of.get(id(p)))
    unopt = [n for n, v in by_layer.items() if all(x is None for x in v)]
    zero = [n for n, v in by_layer.items() if n not in unopt and all(not x for x in v)]
    return {"known": True, "unoptimized": unopt, "zero_lr": zero, "lrs": lrs, "layers": len(by_layer)}


def grads_absent(params: list[torch.nn.Parameter]) -> bool:
    """``True`` when no parameter has a ``.grad`` (checked without touching the values)."""
    return bool(params) and all(p.grad is None for p in params)


def stepped_ids(optimizer: torch.optim.Optimizer) -> set[int]:
    """``id()`` of every parameter in ``optimizer``'s groups: the parameters it steps."""
    return {id(p) for g in optimizer.param_groups for p in g["params"]}
