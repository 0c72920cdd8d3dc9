"""Optimizers on one budget (GD … Adam), and LARS against SGD as the batch grows."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from torchdoctor import optim as td_optim
from torchdoctor.lab._common import Split, dataset, fit, mlp
from torchdoctor.lab._experiment import Check, Context, Experiment, Outcome, finite_mean
from torchdoctor.report.charts import figure

NAMES = ("gd", "sgd", "sgdm", "adagrad", "adadelta", "rmsprop", "adam")
BATCH = 64          # mini-batch size of every optimizer but full-batch GD
BATCHES = (32, 128, 512, 1024)   # LARS vs SGD: the digits training set has 1257 samples
BASE_BATCH = 32     # the rates of USUAL_LR hold here; both are scaled linearly with the batch


@torch.no_grad()
def _train_loss(model: torch.nn.Module, data: Split) -> float:
    """Cross-entropy over the whole training set, eval mode."""
    model.eval()
    return float(F.cross_entropy(model(data.x_train), data.y_train))


def _budget(name: str, seed: int, data: Split, epochs: int) -> dict[str, Any]:
    torch.manual_seed(seed)
    model = mlp(64, [64, 64], 10, "relu")
    opt = td_optim.make_optimizer(name, model.parameters(), td_optim.USUAL_LR[name])
    hist = fit(model, data, opt, epochs=epochs, batch_size=0 if name == "gd" else BATCH, seed=seed)
    return {"curve": hist.train_loss, "acc": hist.final_accuracy, "diverged": hist.diverged,
            "loss": float("nan") if hist.diverged else _train_loss(model, data)}


def _large_batch(name: str, batch: int, seed: int, data: Split,
                 epochs: int) -> tuple[float, float, bool]:
    torch.manual_seed(seed)
    model = mlp(64, [64, 64], 10, "relu")
    lr = td_optim.USUAL_LR[name] * batch / BASE_BATCH
    kw = {"exclude_1d": False} if name == "lars" else {}
    opt = td_optim.make_optimizer(name, model.parameters(), lr, **kw)
    hist = fit(model, data, opt, epochs=epochs, batch_size=batch, seed=seed)
    loss = float("nan") if hist.diverged else _train_loss(model, data)
    return hist.final_accuracy, loss, hist.diverged


def _measure(ctx: Context) -> Outcome:
    epochs_a, epochs_b = (3, 10) if ctx.quick else (20, 30)
    splits = [dataset("digits", seed) for seed in range(ctx.seeds)]
    rows: list[dict[str, Any]] = []
    curves: dict[str, list[float]] = {}
    for name in NAMES:
        runs = [_budget(name, s, splits[s], epochs_a) for s in range(ctx.seeds)]
        curves[name] = runs[0]["curve"]
        rows.append({"part": "budget", "optimizer": name, "lr": td_optim.USUAL_LR[name],
                     "batch": 0 if name == "gd" else BATCH, "epochs": epochs_a,
                     "train_loss": finite_mean([r["loss"] for r in runs]),
                     "val_accuracy": finite_mean([r["acc"] for r in runs]),
                     "diverged_share": finite_mean([float(r["diverged"]) for r in runs])})
        ctx.progress(name)
    large: dict[str, list[float]] = {}
    for name in ("sgdm", "lars"):
        large[name] = []
        for batch in BATCHES:
            runs = [_large_batch(name, batch, s, splits[s], epochs_b) for s in range(ctx.seeds)]
            acc = finite_mean([a for a, _, _ in runs])
            large[name].append(acc)
            rows.append({"part": "large_batch", "optimizer": name,
                         "lr": td_optim.USUAL_LR[name] * batch / BASE_BATCH, "batch": batch,
                         "epochs": epochs_b, "train_loss": finite_mean([v for _, v, _ in runs]),
                         "val_accuracy": acc,
                         "diverged_share": finite_mean([float(d) for _, _, d in runs])})
            ctx.progress(f"{name} batch {batch}")

    fig, (ax0, ax1) = figure(ncols=2, width=8.5, height=3.2)
    for name, curve in curves.items():
        ax0.plot(range(1, len(curve) + 1), curve, label=name, ls="--" if name == "gd" else "-")
    ax0.set_yscale("log")
    ax0.set_xlabel("epoch (same number of sample gradients for all)")
    ax0.set_ylabel("training loss (mean over the epoch)")
    ax0.legend(ncols=2)
    for name, label in (("sgdm", "SGD+momentum, rate x batch/32"), ("lars", "LARS, rate x batch/32")):
        ax1.plot(BATCHES, large[name], marker="o", label=label)
    ax1.set_xscale("log", base=2)
    ax1.set_xlabel("batch size")
    ax1.set_ylabel(f"validation accuracy after {epochs_b} epochs")
    ax1.legend()
    ctx.figure(fig, "budget_and_batch",
               "Left: training loss per epoch of each optimizer at its usual rate (first seed). "
               "Right: accuracy against batch size, the rate scaled linearly with the batch.")

    by = {r["optimizer"]: r for r in rows if r["part"] == "budget"}
    minibatch_acc = min(by[n]["val_accuracy"] for n in NAMES[1:])
    sgd_loss = by["sgd"]["train_loss"]
    sgd_drop = large["sgdm"][0] - large["sgdm"][-1]
    lars_drop = large["lars"][0] - large["lars"][-1]
    checks = [
        Check("full-batch GD is the least accurate on the same number of epochs (by 0.02)",
              by["gd"]["val_accuracy"] < minibatch_acc - 0.02,
              f"GD {by['gd']['val_accuracy']:.3f} vs worst mini-batch optimizer {minibatch_acc:.3f}"),
        *[Check(f"{n} reaches a lower training loss than plain SGD",
                by[n]["train_loss"] < sgd_loss,
                f"{by[n]['train_loss']:.4f} vs {sgd_loss:.4f}") for n in ("sgdm", "rmsprop", "adam")],
        Check(f"SGD+momentum with a linearly scaled rate loses > 0.05 accuracy from batch "
              f"{BATCHES[0]} to {BATCHES[-1]}", sgd_drop > 0.05,
              f"{large['sgdm'][0]:.3f} -> {large['sgdm'][-1]:.3f}"),
        Check(f"LARS at batch {BATCHES[-1]} beats SGD+momentum there by > 0.05 and loses less",
              large["lars"][-1] > large["sgdm"][-1] + 0.05 and lars_drop < sgd_drop,
              f"LARS {large['lars'][-1]:.3f} vs SGD {large['sgdm'][-1]:.3f}; drops "
              f"{lars_drop:.3f} vs {sgd_drop:.3f}"),
    ]
    best = min(NAMES, key=lambda n: by[n]["train_loss"])
    summary = (f"{epochs_a} epochs: GD accuracy {by['gd']['val_accuracy']:.3f}, SGD "
               f"{by['sgd']['val_accuracy']:.3f}, Adam {by['adam']['val_accuracy']:.3f}; lowest "
               f"training loss {best} {by[best]['train_loss']:.4f}; batch {BATCHES[-1]}, {epochs_b} epochs: LARS "
               f"{large['lars'][-1]:.3f} vs SGD+momentum {large['sgdm'][-1]:.3f}")
    notes = ("Every optimizer uses torchdoctor.optim.USUAL_LR, not a tuned rate, so the ranking "
             "is the one a user gets from the defaults. The large-batch part uses no warm-up "
             "(You et al. use 5 epochs of it); LARS adapts biases too (exclude_1d=False), since "
             "a scaled global rate of up to 64 is only meaningful through the trust ratio.")
    return Outcome(checks, summary, rows, notes=notes)


EXPERIMENT = Experiment(
    name="optimizers",
    claim="On the same budget of sample gradients, mini-batch methods beat full-batch gradient "
          "descent and momentum or adaptive rates beat plain SGD; at large batches LARS holds "
          "the accuracy that SGD with a linearly scaled rate loses.",
    reference="Ruder 2016, An overview of gradient descent optimization algorithms, "
              "arXiv:1609.04747; Kingma & Ba 2015, Adam, ICLR, Fig. 2 (MLP on MNIST); You, "
              "Gitman & Ginsburg 2017, Large batch training of convolutional networks, "
              "arXiv:1708.03888, its tables of ImageNet accuracy against batch size with and "
              "without LARS",
    setup="A 64-64-64-10 ReLU MLP on the digits. Budget: each optimizer at its usual rate "
          "for 20 epochs (batch 64; GD: one full-batch step per epoch). Large batch: SGD with "
          "momentum 0.9 (rate 0.05) and LARS (rate 2.0) at batch 32, both rates scaled "
          "linearly with the batch up to 1024, 30 epochs.",
    measure=_measure,
    order=7,
)
