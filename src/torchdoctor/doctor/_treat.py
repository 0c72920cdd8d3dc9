"""Live treatment of ``nonfinite``: a sink that restores the last finite state and halves the rate.

It changes the user's model and optimizer, so it is opt-in (``Doctor(treat=True)`` adds it);
the Doctor itself never modifies the model.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import torch
from torch import nn

from torchdoctor.doctor._sinks import Sink

__all__ = ["LiveTreatment"]

log = logging.getLogger("torchdoctor")


class LiveTreatment(Sink):
    """At each flush: keep a copy of a finite state; on a non-finite value, restore it.

    A restore loads the last finite model and optimizer state, halves every group's learning
    rate and clears the gradients.

    Args:
        model: the trained module.
        optimizer: its optimizer, or ``None`` (the model alone is restored).

    Attributes:
        treatments: one dict per restore: ``step``, ``action`` (``"rollback+halve_lr"``),
            ``lr`` (the new rates).
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer | None) -> None:
        self.model, self.optimizer = model, optimizer
        self.treatments: list[dict[str, Any]] = []
        self._safe: tuple[dict[str, Any], dict[str, Any] | None] | None = None

    def on_records(self, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        bad = any(isinstance(r.get("loss"), str) or isinstance(r.get("grad_norm"), str) for r in records)
        params_ok = all(bool(torch.isfinite(p).all()) for p in self.model.parameters())
        if not bad and params_ok:
            opt_state = copy.deepcopy(self.optimizer.state_dict()) if self.optimizer is not None else None
            self._safe = (copy.deepcopy(self.model.state_dict()), opt_state)
            return
        if self._safe is None:
            return
        opt = self.optimizer
        lrs = [g["lr"] for g in opt.param_groups] if opt is not None else []
        self.model.load_state_dict(self._safe[0])
        if opt is not None and self._safe[1] is not None:
            opt.load_state_dict(self._safe[1])
            for g, lr in zip(opt.param_groups, lrs, strict=True):
                g["lr"] = lr * 0.5
        for p in self.model.parameters():
            p.grad = None
        step = next((r["step"] for r in records if isinstance(r.get("loss"), str)), records[-1]["step"])
        self.treatments.append({"step": step, "action": "rollback+halve_lr",
                                "lr": [g["lr"] for g in opt.param_groups] if opt is not None else []})
        log.warning("torchdoctor: non-finite values at step %s: restored the last finite state "
                    "and halved the learning rate", step)
