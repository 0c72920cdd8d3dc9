"""The zero_grad check of one network of a GAN, which the other network's backward must not fool.

In the usual DCGAN order the generator's loss backpropagates through the discriminator and
leaves gradients in it, which the discriminator's next ``zero_grad`` clears; the discriminator's
loss may backpropagate through the generator too (fakes not detached). So the question "was
``.grad`` already non-zero when this network's own backward began?" is asked of the first
backward that reaches the network after the *other* network's last step call: armed at each
``step`` call of the other network, read (and disarmed) at this network's own ``step`` call.
Armed on sampled steps only.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["ZeroGradCheck"]


class ZeroGradCheck:
    """Watches one parameter of a network (``param``) for gradients left before its backward.

    Attributes:
        records: ``{"step", "prev_grad_norm"}`` per checked step (the shape the
            ``missing_zero_grad`` rule reads); norms stay device tensors until :meth:`host`.
    """

    def __init__(self, param: nn.Parameter | None) -> None:
        self.param = param
        self.records: list[dict[str, Any]] = []
        self._handle: Any = None
        self._value: Any = None

    @property
    def armed(self) -> bool:
        return self._handle is not None

    def arm(self) -> None:
        """Called at the other network's step: the next backward reaching ``param`` is checked."""
        if self.param is None or not self.param.requires_grad:
            return  # frozen (requires_grad_(False)): no backward reaches it, no hook allowed
        self._value = None
        if self._handle is None:
            self._handle = self.param.register_hook(self._hook)

    def _hook(self, grad: torch.Tensor) -> None:
        if self._value is None:  # the first backward since the other network's step
            prev = self.param.grad if self.param is not None else None
            self._value = 0.0 if prev is None else torch.linalg.vector_norm(prev.detach())

    def read(self, step: int) -> None:
        """Called at this network's own step: keep the value seen (if any) and disarm."""
        if self._handle is None:
            return
        if self._value is not None:
            self.records.append({"step": step, "prev_grad_norm": self._value})
        self.disarm()

    def disarm(self) -> None:
        """Remove the hook (also what ``close`` does)."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
            p = self.param
            if p is not None and p._backward_hooks is not None and not p._backward_hooks:
                p._backward_hooks = None  # an empty hook dict still costs a call per backward
        self._value = None

    def host(self) -> list[dict[str, Any]]:
        """The records with their norms as floats."""
        for r in self.records:
            v = r["prev_grad_norm"]
            if isinstance(v, torch.Tensor):
                r["prev_grad_norm"] = float(v)
        return self.records
