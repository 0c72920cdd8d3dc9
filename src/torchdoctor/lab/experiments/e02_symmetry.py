"""Symmetry: constant initialization keeps a layer's units identical; random init breaks it."""

from __future__ import annotations

import torch
from torch import nn

from torchdoctor import init as td_init
from torchdoctor.lab._common import dataset, fit
from torchdoctor.lab._experiment import Check, Context, Experiment, Outcome, finite_mean
from torchdoctor.report.charts import figure


def _unit_spread(model: nn.Sequential) -> float:
    """Mean pairwise distance between the first hidden layer's weight rows, relative to their norm."""
    w = model[0].weight.detach()
    d = torch.cdist(w, w, compute_mode="donot_use_mm_for_euclid_dist")
    return float(d.mean() / (w.norm(dim=1).mean() + 1e-12))


def _measure(ctx: Context) -> Outcome:
    epochs = 3 if ctx.quick else 15
    rows, curves = [], {}
    for scheme in ("constant", "kaiming_normal"):
        spreads, accs, curve = [], [], []
        for seed in range(ctx.seeds):
            torch.manual_seed(seed)
            data = dataset("digits", seed)
            model = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10))
            td_init.init_model(model, scheme, std=0.1, nonlinearity="tanh")
            trace: list[float] = []
            hist = fit(model, data, torch.optim.SGD(model.parameters(), lr=0.1), epochs=epochs,
                       batch_size=64, seed=seed, on_step=lambda m, t=trace: t.append(_unit_spread(m)))
            spreads.append(_unit_spread(model))
            accs.append(hist.final_accuracy)
            curve = curve or trace
            ctx.progress(f"{scheme} seed {seed}")
        curves[scheme] = curve
        rows.append({"init": scheme, "unit_spread": finite_mean(spreads),
                     "val_accuracy": finite_mean(accs)})
    fig, ax = figure()
    for scheme, curve in curves.items():
        ax.plot(curve, label=scheme)
    ax.set_xlabel("step")
    ax.set_ylabel("spread of hidden units (relative)")
    ax.legend()
    ctx.figure(fig, "spread", "Distance between the hidden units' weight vectors during training")
    const, rand = rows
    checks = [
        Check("constant init: hidden units stay identical (spread < 1e-6)",
              const["unit_spread"] < 1e-6, f"spread {const['unit_spread']:.2e}"),
        Check("random init: units differ and accuracy beats constant init by 10 points",
              rand["unit_spread"] > 0.1 and rand["val_accuracy"] > const["val_accuracy"] + 0.1,
              f"spread {rand['unit_spread']:.2f}, accuracy {rand['val_accuracy']:.3f} vs "
              f"{const['val_accuracy']:.3f}"),
    ]
    summary = (f"constant init: spread {const['unit_spread']:.1e}, accuracy "
               f"{const['val_accuracy']:.3f}; He init: spread {rand['unit_spread']:.2f}, "
               f"accuracy {rand['val_accuracy']:.3f}")
    return Outcome(checks, summary, rows)


EXPERIMENT = Experiment(
    name="symmetry",
    claim="A constant initialization gives every unit of a layer the same gradient, so the "
          "units stay identical through training; random initialization breaks the symmetry.",
    reference="Goodfellow, Bengio & Courville 2016, Deep Learning, section 8.4",
    setup="A 64-32-10 tanh MLP on the digits, SGD at rate 0.1, initialized with a constant "
          "0.1 or with He normal; we track the mean distance between the hidden units' weight "
          "vectors and the validation accuracy.",
    measure=_measure,
    order=2,
)
