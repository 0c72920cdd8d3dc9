"""The learning-rate range test: its curve, and its suggestion against a grid search of rates."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from torchdoctor import optim as td_optim
from torchdoctor.lab._common import Split, dataset, fit, mlp
from torchdoctor.lab._experiment import Check, Context, Experiment, Outcome, finite_mean
from torchdoctor.report.charts import figure

GRID = (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0)  # SGD+momentum 0.9 rates, half decades
BATCH = 64
SWEEP_STEPS = 100


def _model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return mlp(64, [64, 64], 10, "relu")


def _batches(data: Split, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(data.x_train), generator=g)
    return [(data.x_train[order[i:i + BATCH]], data.y_train[order[i:i + BATCH]])
            for i in range(0, len(order) - BATCH + 1, BATCH)]


def _train(lr: float, seed: int, data: Split, epochs: int) -> float:
    model = _model(seed)
    opt = td_optim.make_optimizer("sgdm", model.parameters(), lr)
    return fit(model, data, opt, epochs=epochs, batch_size=BATCH, seed=seed).final_accuracy


def _measure(ctx: Context) -> Outcome:
    epochs = 4 if ctx.quick else 15
    sweeps, per_seed = [], []
    for seed in range(ctx.seeds):
        data = dataset("digits", seed)
        sweep = td_optim.lr_range_test(_model(seed), F.cross_entropy, _batches(data, seed),
                                       start_lr=1e-5, end_lr=10.0, num_steps=SWEEP_STEPS,
                                       optimizer="sgdm")
        grid = [_train(lr, seed, data, epochs) for lr in GRID]
        suggested = _train(sweep.suggested_lr, seed, data, epochs)
        sweeps.append(sweep)
        per_seed.append({"grid": grid, "suggested_acc": suggested})
        ctx.progress(f"seed {seed}")
    grid_acc = [finite_mean([p["grid"][i] for p in per_seed]) for i in range(len(GRID))]
    rows: list[dict[str, Any]] = [{"rate": lr, "source": "grid", "val_accuracy": a}
                                  for lr, a in zip(GRID, grid_acc, strict=True)]
    sug_lr = math.exp(finite_mean([math.log(s.suggested_lr) for s in sweeps]))  # geometric mean
    sug_acc = finite_mean([p["suggested_acc"] for p in per_seed])
    div = [s.diverged_lr for s in sweeps if s.diverged_lr is not None]
    rows.append({"rate": sug_lr, "source": "range test (largest stable / 10)",
                 "val_accuracy": sug_acc})

    fig, (ax0, ax1) = figure(ncols=2, width=8.5, height=3.2)
    td_optim.plot_lr_range(sweeps[0], ax=ax0)
    ax0.set_title("range test (first seed)")
    ax1.plot(GRID, grid_acc, marker="o", label="grid search")
    ax1.plot([sug_lr], [sug_acc], marker="*", ms=12, ls="none", label="range-test suggestion")
    ax1.set_xscale("log")
    ax1.set_xlabel("learning rate (SGD+momentum)")
    ax1.set_ylabel(f"validation accuracy after {epochs} epochs")
    ax1.legend()
    ctx.figure(fig, "range_and_grid",
               "Left: smoothed loss during the exponential rate sweep. Right: final accuracy of "
               "each grid rate and of the rate the sweep suggests.")

    finite = [(a, lr) for lr, a in zip(GRID, grid_acc, strict=True) if math.isfinite(a)]
    best_acc, best_lr = max(finite) if finite else (float("nan"), float("nan"))
    sweep_steps = finite_mean([len(s.lrs) for s in sweeps])
    grid_steps = len(GRID) * epochs * (len(data.x_train) // BATCH)
    checks = [
        Check("accuracy at the suggested rate >= best grid accuracy - 0.02",
              sug_acc >= best_acc - 0.02,
              f"{sug_acc:.3f} at {sug_lr:.3g} vs {best_acc:.3f} at {best_lr:g}"),
        Check("the suggested rate is within a factor 10 of the best grid rate",
              best_lr / 10 <= sug_lr <= best_lr * 10, f"{sug_lr:.3g} vs {best_lr:g}"),
    ]
    where = (f"the smoothed loss crossed 4x its minimum at {math.exp(finite_mean([math.log(d) for d in div])):.3g} in "
             f"{len(div)} of {len(sweeps)} sweeps" if div else "no sweep crossed 4x its minimum")
    summary = (f"suggested rate {sug_lr:.3g} ({where}): accuracy {sug_acc:.3f}; best grid "
               f"rate {best_lr:g}: {best_acc:.3f}; sweep {sweep_steps:.0f} steps vs grid "
               f"{grid_steps} steps")
    notes = ("The sweep runs SGD with momentum 0.9 from 1e-5 to 10 over 100 mini-batches and "
             "stops when the smoothed loss exceeds 4 times its minimum (a sweep that never does "
             "suggests the rate of the lowest loss / 10: the moving average, beta 0.98, lags "
             "tens of steps behind a 100-step sweep, which keeps its minimum high, and a loss "
             "that blows up to a few nats need not cross 4 times it); the grid trains the same "
             "model at each rate for the full budget.")
    return Outcome(checks, summary, rows, notes=notes)


EXPERIMENT = Experiment(
    name="lr_range",
    claim="One short exponential sweep of the learning rate finds a good rate: training about "
          "ten times below the rate where the loss blows up comes close to the best rate of a "
          "grid search, at a fraction of its cost.",
    reference="Smith 2017, Cyclical learning rates for training neural networks, WACV, section "
              "3.3 and Fig. 3 (the 'LR range test'); Holden 2017, You used an incorrect "
              "learning rate (largest stable rate / 10)",
    setup="A 64-64-64-10 ReLU MLP on the digits with SGD and momentum 0.9, batch 64. The range "
          "test sweeps 100 mini-batches from 1e-5 to 10; the grid trains 8 rates from 1e-3 to "
          "3 (half decades) for 15 epochs, and the suggested rate is trained the same way.",
    measure=_measure,
    order=8,
)
