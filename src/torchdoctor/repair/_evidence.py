"""Evidence at step 0: the activations of the untrained model on one training batch.

A finding says *what* is wrong; when it began says *why*. ReLU units that are dead before the
first update (pre-activations strongly negative from the start) were killed by the biases, the
initialization or the input scale; units that die later were killed by the updates (too high a
rate; Lu et al., "Dying ReLU and initialization", 2020). Sigmoid or tanh units saturated
before any update point at the same three keys. This costs one forward pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from torchdoctor.train.config import Config
from torchdoctor.train.targets import TrainInputs
from torchdoctor.train.trainer import Trainer

__all__ = ["DEAD_AT_INIT", "InitEvidence", "SATURATION_PREACT", "init_evidence"]

#: Share of a ReLU layer's units that never fire on the first batch above which the layer is
#: dead at initialization (the doctor's dead-ReLU threshold, SageMaker Debugger's 50 %).
DEAD_AT_INIT = 0.5
#: |pre-activation| above which a sigmoid (tanh: half of it) sits in its flat tail: the
#: sigmoid's slope there is below 0.018, 7 % of its slope at 0.
SATURATION_PREACT = 4.0


@dataclass(frozen=True)
class InitEvidence:
    """What the untrained model does on one training batch.

    Attributes:
        dead_fraction: largest share of never-firing units over the ReLU layers (0 without ReLU).
        saturated_fraction: largest share of sigmoid/tanh outputs in the flat tails.
        mean_preactivation: mean pre-activation of the worst ReLU layer (units of the input).
    """

    dead_fraction: float = 0.0
    saturated_fraction: float = 0.0
    mean_preactivation: float = 0.0

    @property
    def dead_at_init(self) -> bool:
        return self.dead_fraction > DEAD_AT_INIT

    @property
    def saturated_at_init(self) -> bool:
        return self.saturated_fraction > DEAD_AT_INIT


def init_evidence(cfg: Config, inputs: TrainInputs) -> InitEvidence:
    """Forward one training batch (at most 256 rows) through ``cfg``'s untrained model."""
    trainer = Trainer(cfg, data=inputs.data, sample_weights=inputs.sample_weights)
    model = trainer.model
    x = next(iter(trainer.batches(0)))[0][:256]
    dead, sat, mean_pre = 0.0, 0.0, 0.0
    stats: list[tuple[str, torch.Tensor]] = []

    def hook(kind: str) -> Callable[[nn.Module, tuple[torch.Tensor, ...], torch.Tensor], None]:
        def f(_m: nn.Module, args: tuple[torch.Tensor, ...], _out: torch.Tensor) -> None:
            stats.append((kind, args[0].detach()))
        return f

    handles = []
    for m in model.modules():
        kind = {"ReLU": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh"}.get(type(m).__name__)
        if kind is not None:
            handles.append(m.register_forward_hook(hook(kind)))
    model.train()  # as the first step sees it (batch statistics); the model is thrown away
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    for kind, pre in stats:
        if pre.dim() < 2 or pre.shape[0] < 2:
            continue
        units = pre.transpose(0, 1).reshape(pre.shape[1], -1)  # (C, N × spatial positions)
        if kind == "relu":
            frac = float((units <= 0).all(dim=1).float().mean())
            if frac >= dead:
                dead, mean_pre = frac, float(pre.mean())
        else:
            limit = SATURATION_PREACT if kind == "sigmoid" else SATURATION_PREACT / 2
            sat = max(sat, float((pre.abs() > limit).float().mean()))
    return InitEvidence(dead, sat, mean_pre)
