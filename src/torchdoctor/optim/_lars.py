"""LARS: layer-wise adaptive rate scaling (You, Gitman and Ginsburg 2017, arXiv:1708.03888).

Each weight tensor ``w`` (a "layer") gets its own local rate from the trust ratio

    λ = η ‖w‖ / (‖g‖ + β ‖w‖ + ε)

(η the trust coefficient, β the weight decay). The update with momentum ``m`` and global rate
``γ`` is

    d ← g + β w;     v ← m v + λ d;     w ← w − γ v.

If ``‖w‖ = 0`` or ``‖g‖ = 0`` the ratio is 1 (a freshly zero-initialised layer must still
move). One-dimensional parameters (biases, norm-layer γ and β) are by default excluded from
both the adaptation and the weight decay: they follow plain SGD with momentum, as in the
paper's reference implementations and in LAMB/LARS practice (Goyal et al.; You et al. 2019).

Layer-wise rate scaling is a cure (You et al. 2017) for layers whose gradients are far smaller
(or larger) than their weights; the doctor prescribes it for vanishing and exploding gradients.

The step runs on whole parameter lists with ``torch._foreach_*`` kernels: two norm passes more
than SGD with momentum, the rest identical in memory traffic, and no host synchronisation
(the trust ratios stay on the device).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch.optim import Optimizer


class LARS(Optimizer):
    """Layer-wise adaptive rate scaling with momentum (You et al. 2017).

    Args:
        params: parameters or parameter groups.
        lr: global learning rate γ (> 0).
        momentum: momentum coefficient ``m`` in ``[0, 1)`` (default 0.9).
        weight_decay: L2 coefficient β (>= 0), added to the gradient of adapted tensors and
            also entering the trust ratio's denominator.
        eta: trust coefficient η (> 0, default 0.001).
        eps: added to the trust ratio's denominator (>= 0, default 1e-8).
        exclude_1d: if true (default), tensors with ``ndim <= 1`` (biases, norm weights) get
            neither the trust ratio nor weight decay. Can be set per parameter group.
        fused: how adapted tensors with momentum are updated once the trust ratios are
            known. ``None`` (default): on CPU, PyTorch's fused SGD kernel
            (``torch._fused_sgd_``, one pass over weight, gradient and buffer per tensor, the
            ratio entering as its ``1 − dampening``); elsewhere ``torch._foreach_*`` kernels
            with the ratios kept on the device (no host synchronisation). ``False``: always
            the ``_foreach`` path. ``True``: the fused kernel on any device (needs the ratios
            on the host: one synchronisation per step off the CPU).

    Each parameter group may override any of these settings.

    Example:
        >>> opt = LARS(model.parameters(), lr=0.1, weight_decay=5e-4)
        >>> loss.backward(); opt.step()
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        eta: float = 0.001,
        eps: float = 1e-8,
        exclude_1d: bool = True,
        fused: bool | None = None,
    ) -> None:
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if not weight_decay >= 0.0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        if not eta > 0:
            raise ValueError(f"eta must be > 0, got {eta}")
        if not eps >= 0:
            raise ValueError(f"eps must be >= 0, got {eps}")
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, eta=eta, eps=eps,
                        exclude_1d=exclude_1d)
        self.fused = fused
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """Perform one optimization step.

        Args:
            closure: optional callable that re-evaluates the model and returns the loss.

        Returns:
            The closure's loss, or ``None``.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            adapted: dict[tuple[Any, Any], tuple[list, list, list]] = {}
            plain: dict[tuple[Any, Any], tuple[list, list, list]] = {}
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("LARS does not support sparse gradients")
                state = self.state[p]
                if group["momentum"] != 0 and "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                bucket = plain if (group["exclude_1d"] and p.ndim <= 1) else adapted
                lists = bucket.setdefault((p.device, p.dtype), ([], [], []))
                lists[0].append(p)
                lists[1].append(p.grad)
                lists[2].append(state.get("momentum_buffer"))
            for ps, gs, bufs in adapted.values():
                fused = self.fused
                if fused is None:
                    fused = ps[0].device.type == "cpu" and _HAS_FUSED_SGD
                _lars_update(ps, gs, bufs, lr=group["lr"], momentum=group["momentum"],
                             weight_decay=group["weight_decay"], eta=group["eta"], eps=group["eps"],
                             fused=fused)
            for ps, gs, bufs in plain.values():
                _sgd_update(ps, gs, bufs, lr=group["lr"], momentum=group["momentum"])
        return loss


_HAS_FUSED_SGD = hasattr(torch, "_fused_sgd_")


def _lars_update(ps: list[torch.Tensor], gs: list[torch.Tensor], bufs: list[torch.Tensor], *,
                 lr: float, momentum: float, weight_decay: float, eta: float, eps: float,
                 fused: bool) -> None:
    """Adapted tensors: trust ratio, weight decay, momentum (all on the device)."""
    n = len(ps)
    norms = torch._foreach_norm(ps + gs)
    w_norm = torch.stack(norms[:n])
    g_norm = torch.stack(norms[n:])
    ratio = eta * w_norm / (g_norm + weight_decay * w_norm + eps)
    trust = torch.where((w_norm > 0) & (g_norm > 0), ratio, torch.ones_like(ratio))
    if momentum != 0 and fused:
        # SGD's fused step computes v <- m v + (1 - dampening)(g + β w); w <- w - γ v, which is
        # the LARS update with dampening = 1 - λ (gradients are left untouched).
        for p, g, buf, ratio in zip(ps, gs, bufs, trust.tolist(), strict=True):
            torch._fused_sgd_([p], [g], [buf], weight_decay=weight_decay, momentum=momentum,
                              lr=lr, dampening=1.0 - ratio, nesterov=False, maximize=False,
                              is_first_step=False)
        return
    trust_list = trust.unbind(0)
    if momentum != 0:
        # v <- m v + λ g + λ β w, in place: no temporary the size of the model
        torch._foreach_mul_(bufs, momentum)
        torch._foreach_addcmul_(bufs, gs, trust_list)
        if weight_decay != 0:
            torch._foreach_addcmul_(bufs, ps, (trust * weight_decay).unbind(0))
        torch._foreach_add_(ps, bufs, alpha=-lr)
    else:
        d = torch._foreach_add(gs, ps, alpha=weight_decay) if weight_decay != 0 else gs
        torch._foreach_add_(ps, torch._foreach_mul(d, trust_list), alpha=-lr)


def _sgd_update(ps: list[torch.Tensor], gs: list[torch.Tensor], bufs: list[torch.Tensor], *,
                lr: float, momentum: float) -> None:
    """Excluded (1-D) tensors: SGD with momentum, no decay, no trust ratio."""
    if momentum != 0:
        torch._foreach_mul_(bufs, momentum)
        torch._foreach_add_(bufs, gs)
        torch._foreach_add_(ps, bufs, alpha=-lr)
    else:
        torch._foreach_add_(ps, gs, alpha=-lr)
