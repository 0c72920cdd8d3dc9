"""How far a network's weights moved between two sampled steps: the "does it learn at all"
series of a :class:`~torchdoctor.GanDoctor`, measured on the parameters themselves, so it
needs no optimizer (a wrong or missing one is exactly what it catches).

Cost: one copy of the parameters and one fused norm on a sampled step (one in
``sample_every``), nothing on the other steps. A parameter of more than :data:`MAX_VALUES`
values is followed on an evenly strided subset of that many (memory stays small for large
networks; the relative change of a subset estimates that of the whole tensor).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["MAX_VALUES", "ParamMotion"]

#: Most values of one parameter tensor followed (an evenly strided subset beyond).
MAX_VALUES = 1 << 16
#: Rows kept; beyond, the older half is thinned (as the GAN series are).
_MAX_ROWS = 4000


class ParamMotion:
    """Relative weight change per step of one network, read on sampled steps.

    ``measure(step)`` compares the parameters with their copy of the previous call:
    ``||theta_now - theta_then|| / ||theta_then|| / (step - step_then)`` (all parameters as one
    vector; dimensionless, per step of that network).

    Attributes:
        rows: ``[step, relative change per step]`` per measure after the first (values stay
            0-d tensors until :meth:`host`).
    """

    def __init__(self, net: nn.Module) -> None:
        self.params = [p for p in net.parameters() if p.is_floating_point()]
        self.rows: list[list[Any]] = []
        self._prev: list[torch.Tensor] | None = None
        self._step = 0

    def measure(self, step: int) -> None:
        """Record the change since the previous call (if any) and keep a copy of the weights."""
        if not self.params:
            return
        now = [_subset(p) for p in self.params]
        if self._prev is not None and step > self._step:
            diff = torch._foreach_sub(now, self._prev)
            moved = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(diff)))
            size = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(self._prev)))
            self.rows.append([step, moved / size.clamp_min(1e-12) / (step - self._step)])
            if len(self.rows) > _MAX_ROWS:
                half = _MAX_ROWS // 2
                self.rows[:] = self.rows[:-half][::2] + self.rows[-half:]
        self._prev = [t.clone() for t in now]
        self._step = step

    def host(self) -> list[list[float]]:
        """The rows with floats."""
        for r in self.rows:
            if isinstance(r[1], torch.Tensor):
                r[1] = float(r[1])
        return self.rows


def _subset(p: torch.Tensor) -> torch.Tensor:
    """``p``'s values, flat: all of them, or every k-th when there are more than :data:`MAX_VALUES`."""
    flat = p.detach().reshape(-1)
    n = flat.numel()
    return flat if n <= MAX_VALUES else flat[::-(-n // MAX_VALUES)]
