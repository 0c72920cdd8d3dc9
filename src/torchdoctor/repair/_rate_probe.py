"""A three-point learning-rate probe for a rate that was far off.

When a repair moves the rate to the optimizer's usual one (``train.lr: "<=usual"`` or
``">=usual"``) by a factor of :data:`JUMP` or more, the old rate told nothing about the scale
this model wants, and the usual rate is only a first guess. The probe trains the candidate
config from its (seeded, identical) initialization for :data:`PROBE_STEPS` mini-batches at the
usual rate and at :data:`PROBE_FACTORS` around it, and keeps the rate with the lowest mean training
loss over the last half of the steps: the short grid search practitioners run before a long
training. It costs ``len(PROBE_FACTORS) × PROBE_STEPS`` steps, counted in the repair's search budget.
"""

from __future__ import annotations

import math

import torch

from torchdoctor.train.config import Config, config_from_dict
from torchdoctor.train.targets import TrainInputs
from torchdoctor.train.trainer import Trainer, epoch_seed

#: Rate change (either way) from which the probe runs.
JUMP = 10.0
#: Multiples of the usual rate probed (own choice: a half-decade either side).
PROBE_FACTORS = (1 / 3, 1.0, 3.0)
#: Mini-batches per probed rate (own choice: on digits, MNIST-1D and the digits ResNet, 20
#: steps rank the three rates as 40 steps do).
PROBE_STEPS = 20


def probe_rate(cfg: Config, inputs: TrainInputs, *, steps: int = PROBE_STEPS) -> tuple[float, dict[float, float]]:
    """Train ``cfg`` for ``steps`` mini-batches at each ``cfg.train.lr × PROBE_FACTORS``.

    Returns:
        The rate with the lowest mean training loss over the last half of its steps (the
        current rate on ties), and that loss per probed rate (``inf`` when it diverged).
    """
    base = cfg.train.lr
    losses: dict[float, float] = {}
    for factor in PROBE_FACTORS:
        lr = base * factor
        raw = cfg.to_dict()
        raw["train"]["lr"] = lr
        losses[lr] = short_run_loss(config_from_dict(raw), inputs, steps)
    best = min(losses, key=lambda lr: (losses[lr], lr != base))
    return best, losses


def probe_epochs(cfg: Config, inputs: TrainInputs, *, steps: int = PROBE_STEPS) -> float:
    """What a probe costs, in epochs of ``cfg``."""
    n = len(inputs.data.x_train)
    per_epoch = 1 if cfg.train.optimizer == "gd" else math.ceil(n / cfg.train.batch_size)
    return len(PROBE_FACTORS) * steps / per_epoch


def short_run_loss(cfg: Config, inputs: TrainInputs, steps: int) -> float:
    """Mean training loss over the last half of ``steps`` training steps, taken exactly as the
    trainer takes them (its batches, seeds and step), from the start of the first epoch."""
    trainer = Trainer(cfg, data=inputs.data, sample_weights=inputs.sample_weights)
    values: list[float] = []
    trainer.model.train()
    epoch = 0
    while True:
        torch.manual_seed(epoch_seed(cfg.seed, epoch))  # dropout, as the trainer seeds it
        for x, y, w in trainer.batches(epoch):
            value = float(trainer.train_step(x, y, w)[0].detach())
            if not math.isfinite(value):
                return math.inf
            values.append(value)
            if len(values) >= steps:
                tail = values[steps // 2:]
                return sum(tail) / len(tail)
        epoch += 1
