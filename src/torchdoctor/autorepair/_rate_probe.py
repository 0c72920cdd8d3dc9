"""A three-point learning-rate probe for a rate that was far off.

When a repair moves the rate to the optimizer's usual one (``train.lr: "<=usual"`` or
``">=usual"``) by a factor of :data:`JUMP` or more, the old rate told nothing about the scale
this model wants, and the usual rate is only a first guess. The probe trains the candidate
config from its (seeded, identical) initialization for :data:`PROBE_STEPS` mini-batches at the
usual rate and at :data:`FACTORS` around it, and keeps the rate with the lowest mean training
loss over the last half of the steps: the short grid search practitioners run before a long
training. It costs ``len(FACTORS) × PROBE_STEPS`` steps, counted in the repair's search budget.
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
FACTORS = (1 / 3, 1.0, 3.0)
#: Mini-batches per probed rate (own choice: on digits, MNIST-1D and the digits ResNet, 20
#: steps rank the three rates as 40 steps do).
PROBE_STEPS = 20


def probe_rate(cfg: Config, inputs: TrainInputs, *, steps: int = PROBE_STEPS) -> tuple[float, dict[float, float]]:
    """Train ``cfg`` for ``steps`` mini-batches at each ``cfg.train.lr × FACTORS``.

    Returns:
        The rate with the lowest mean training loss over the last half of its steps (the
        current rate on ties), and that loss per probed rate (``inf`` when it diverged).
    """
    base = cfg.train.lr
    losses: dict[float, float] = {}
    for factor in FACTORS:
        lr = base * factor
        raw = cfg.to_dict()
        raw["train"]["lr"] = lr
        losses[lr] = _short_run(config_from_dict(raw), inputs, steps)
    best = min(losses, key=lambda lr: (losses[lr], lr != base))
    return best, losses


def probe_epochs(cfg: Config, inputs: TrainInputs, *, steps: int = PROBE_STEPS) -> float:
    """What a probe costs, in epochs of ``cfg``."""
    n = len(inputs.data.x_train)
    per_epoch = 1 if cfg.train.optimizer == "gd" else math.ceil(n / cfg.train.batch_size)
    return len(FACTORS) * steps / per_epoch


def _short_run(cfg: Config, inputs: TrainInputs, steps: int) -> float:
    """Mean training loss over the last half of ``steps`` shuffled mini-batches."""
    trainer = Trainer(cfg, data=inputs.data, sample_weights=inputs.sample_weights)
    model, opt, loss_fn, t = trainer.model, trainer.optimizer, trainer.loss_fn, cfg.train
    x_all, y_all, w_all = inputs.data.x_train, inputs.data.y_train, inputs.sample_weights
    n = len(x_all)
    bs = n if t.optimizer == "gd" else min(t.batch_size, n)
    gen = torch.Generator().manual_seed(epoch_seed(cfg.seed, 0))
    values: list[float] = []
    model.train()
    while len(values) < steps:
        order = torch.randperm(n, generator=gen)
        for start in range(0, n - bs + 1, bs):
            idx = order[start:start + bs]
            loss = loss_fn(model(x_all[idx]), y_all[idx], None if w_all is None else w_all[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if t.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
            opt.step()
            value = float(loss.detach())
            values.append(value if math.isfinite(value) else math.inf)
            if len(values) >= steps or not math.isfinite(value):
                break
        if values and not math.isfinite(values[-1]):
            return math.inf
    tail = values[steps // 2:]
    return sum(tail) / len(tail)
