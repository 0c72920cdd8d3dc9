"""Activations: dead ReLUs against learning rate and bias init; LeakyReLU, ELU and maxout as cures."""

from __future__ import annotations

from typing import Any

import torch

from torchdoctor import init as td_init
from torchdoctor import optim as td_optim
from torchdoctor.lab._common import Split, dataset, fit, mlp
from torchdoctor.lab._experiment import Check, Context, Experiment, Outcome, finite_mean
from torchdoctor.lab.experiments._b_common import dead_fraction, negative_share
from torchdoctor.report.charts import figure

ACTS = ("relu", "leaky_relu", "elu", "maxout")
LRS = (0.01, 0.1, 0.5)
BIASES = (0.0, -1.0)
USUAL = 0.1  # the usual plain-SGD rate (torchdoctor.optim.USUAL_LR["sgd"]): where cures are compared


def _one(act: str, lr: float, bias: float, seed: int, data: Split, epochs: int) -> dict[str, Any]:
    torch.manual_seed(seed)
    model = mlp(64, [64] * 4, 10, act)
    td_init.init_model(model, "kaiming_normal", nonlinearity="relu", bias=bias)
    dead0 = dead_fraction(model, data.x_train)
    neg0 = negative_share(model, data.x_train)
    hist = fit(model, data, td_optim.make_optimizer("sgd", model.parameters(), lr),
               epochs=epochs, batch_size=64, seed=seed)
    dead = float("nan") if hist.diverged else dead_fraction(model, data.x_train)
    return {"dead_init": dead0, "neg_init": neg0, "dead": dead, "acc": hist.final_accuracy,
            "diverged": float(hist.diverged)}


def _measure(ctx: Context) -> Outcome:
    epochs = 3 if ctx.quick else 15
    splits = [dataset("digits", seed) for seed in range(ctx.seeds)]
    rows: list[dict[str, Any]] = []
    for act in ACTS:
        for bias in BIASES:
            for lr in LRS:
                runs = [_one(act, lr, bias, seed, splits[seed], epochs)
                        for seed in range(ctx.seeds)]
                rows.append({"activation": act, "bias_init": bias, "lr": lr,
                             "dead_at_init": finite_mean([r["dead_init"] for r in runs]),
                             "dead_after": finite_mean([r["dead"] for r in runs]),
                             "negative_share_at_init": finite_mean([r["neg_init"] for r in runs]),
                             "val_accuracy": finite_mean([r["acc"] for r in runs]),
                             "diverged_share": finite_mean([r["diverged"] for r in runs])})
                ctx.progress(f"{act} bias {bias} lr {lr}")

    def row(act: str, bias: float, lr: float) -> dict[str, Any]:
        return next(r for r in rows if (r["activation"], r["bias_init"], r["lr"]) == (act, bias, lr))

    fig, (ax0, ax1) = figure(ncols=2, width=8.5, height=3.2)
    for bias, style in zip(BIASES, ("-", "--"), strict=True):
        ax0.plot(LRS, [row("relu", bias, lr)["dead_after"] for lr in LRS], style, marker="o",
                 label=f"bias init {bias:g}")
        for act in ACTS:
            ax1.plot(LRS, [row(act, bias, lr)["val_accuracy"] for lr in LRS], style, marker="o",
                     color=f"C{ACTS.index(act)}", label=act if bias == BIASES[-1] else None)
    ax0.set_xscale("log")
    ax0.set_xlabel("learning rate (SGD)")
    ax0.set_ylabel("dead ReLU units (share)")
    ax0.legend()
    ax1.set_xscale("log")
    ax1.set_xlabel("learning rate (SGD)")
    ax1.set_ylabel("validation accuracy")
    ax1.legend(title="dashed: bias init -1", loc="center right", fontsize=7, title_fontsize=7)
    ctx.figure(fig, "dead_and_accuracy",
               "Left: share of ReLU units with zero gradient on every training sample after "
               "training. Right: validation accuracy per activation (diverged runs left out).")

    lo, hi = row("relu", 0.0, LRS[0]), row("relu", 0.0, LRS[-1])
    neg, zero = row("relu", -1.0, LRS[0]), row("relu", 0.0, LRS[0])
    harsh_relu = row("relu", -1.0, USUAL)
    checks = [
        Check(f"ReLU, bias 0: more dead units at rate {LRS[-1]:g} than at {LRS[0]:g} (+0.02)",
              hi["dead_after"] > lo["dead_after"] + 0.02,
              f"{hi['dead_after']:.3f} vs {lo['dead_after']:.3f} (diverged share at "
              f"{LRS[-1]:g}: {hi['diverged_share']:.2f})"),
        Check(f"ReLU, rate {LRS[0]:g}: bias init -1 leaves more dead units than bias 0 (+0.02)",
              neg["dead_after"] > zero["dead_after"] + 0.02,
              f"{neg['dead_after']:.3f} vs {zero['dead_after']:.3f}"),
    ]
    for act in ACTS[1:]:
        cure = row(act, -1.0, USUAL)
        checks.append(Check(
            f"{act}, bias -1, rate {USUAL:g}: no dead units and accuracy >= ReLU's + 0.05",
            cure["dead_after"] == 0 and cure["val_accuracy"] >= harsh_relu["val_accuracy"] + 0.05,
            f"dead {cure['dead_after']:.3f}, accuracy {cure['val_accuracy']:.3f} vs ReLU "
            f"{harsh_relu['val_accuracy']:.3f}"))
    summary = (f"ReLU dead share {lo['dead_after']:.2f} at rate {LRS[0]:g} vs "
               f"{hi['dead_after']:.2f} at {LRS[-1]:g}; bias -1: {neg['dead_after']:.2f}; "
               f"bias -1 at rate {USUAL:g}: accuracy ReLU {harsh_relu['val_accuracy']:.3f}, "
               + ", ".join(f"{a} {row(a, -1.0, USUAL)['val_accuracy']:.3f}" for a in ACTS[1:]))
    neg_relu = row("relu", -1.0, USUAL)["negative_share_at_init"]
    notes = ("A unit is dead when its activation's gradient is zero on every training sample. "
             f"With a bias init of -1 few ReLU units are dead outright, yet {neg_relu:.0%} of "
             "the (sample, unit) pairs start inactive (negative_share_at_init), so little "
             "gradient flows and training stalls. LeakyReLU uses PyTorch's slope 0.01 (Maas et "
             "al.'s value): the same pairs sit on that small slope, which passes too little "
             "signal to learn in the same budget. Diverged runs (NaN loss) are left out of the means "
             "and counted in diverged_share. At this scale the largest rate at which plain "
             "SGD stays finite is not large enough to knock ReLU units out for good; above it "
             "training diverges outright, so the dead share does not grow with the rate.")
    return Outcome(checks, summary, rows, notes=notes)


EXPERIMENT = Experiment(
    name="activations",
    claim="ReLU units die (zero gradient on every input) when the learning rate is too high or "
          "the biases start negative; LeakyReLU, ELU and maxout have no dead units and train "
          "where ReLU stalls.",
    reference="Maas, Hannun & Ng 2013, Rectifier nonlinearities improve neural network acoustic "
              "models, ICML WDLASL; Clevert, Unterthiner & Hochreiter 2016, Fast and accurate "
              "deep network learning by exponential linear units (ELUs), ICLR; Goodfellow et "
              "al. 2013, Maxout networks, ICML; CS231n notes (Karpathy), 'Commonly used "
              "activation functions': up to 40% of a ReLU network dead at too high a rate",
    setup="A 64-64-64-64-64-10 MLP on the digits (He normal weights, hidden biases 0 or -1), "
          "plain SGD at rates 0.01, 0.1 and 0.5, batch 64, 15 epochs, with ReLU, LeakyReLU "
          "(slope 0.01), ELU (alpha 1) or maxout (2 pieces: a Linear twice as wide and the "
          "group max, as in td.nn.Maxout; same number of units). We count dead units on the "
          "training set and report validation accuracy.",
    measure=_measure,
    order=6,
)
