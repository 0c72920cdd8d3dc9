"""Regularization on an overfitting setup: L1, L2, dropout, early stopping, label smoothing,
input noise and shift augmentation against no regularization."""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from torchdoctor import optim as td_optim
from torchdoctor.lab._common import Split, accuracy, dataset, fit, mlp
from torchdoctor.lab._experiment import Check, Context, Experiment, Outcome, finite_mean
from torchdoctor.report.charts import PALETTE, figure

METHODS = ("none", "l1", "l2", "dropout", "early_stopping", "label_smoothing", "input_noise",
           "shift")
PER_CLASS = 15          # training images per digit: 150 in all
WIDTH = 256             # two hidden layers: ~85k weights for 150 images
LR = 0.05               # SGD + momentum 0.9 (torchdoctor.optim.USUAL_LR["sgdm"])
L1 = 1e-4               # λ·Σ|w| added to the loss
L2 = 5e-4               # weight decay (Krizhevsky et al. 2012)
DROPOUT = 0.5           # Srivastava et al. 2014
SMOOTHING = 0.1         # Szegedy et al. 2016
NOISE = 0.2             # Gaussian input noise, in standardized input units
PATIENCE = 20           # early stopping: epochs without a better stopping-set accuracy


class Perturb(nn.Module):
    """Training-time input perturbation in front of a model (eval mode: identity).

    ``noise``: add N(0, noise²); ``shift``: move each (N, 1, 8, 8) image by -1, 0 or 1 pixel
    along each axis (zeros come in at the border).
    """

    def __init__(self, model: nn.Module, *, noise: float = 0.0, shift: bool = False) -> None:
        super().__init__()
        self.model, self.noise, self.shift = model, noise, shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.noise > 0:
            x = x + self.noise * torch.randn_like(x)
        if self.training and self.shift:
            padded = F.pad(x, (1, 1, 1, 1))
            h, w = x.shape[-2:]
            shifted = torch.stack([padded[..., dy:dy + h, dx:dx + w]
                                   for dy in range(3) for dx in range(3)])  # (9, N, C, H, W)
            pick = torch.randint(0, 9, (len(x),))
            x = shifted[pick, torch.arange(len(x))]
        return self.model(x)


def _subset(data: Split, seed: int) -> tuple[Split, torch.Tensor, torch.Tensor]:
    """(``PER_CLASS`` images per class for training with the first half of the validation set
    as the stopping set, the second half as the test set)."""
    g = torch.Generator().manual_seed(seed)
    keep = torch.cat([idx[torch.randperm(len(idx), generator=g)[:PER_CLASS]]
                      for idx in (torch.nonzero(data.y_train == c).flatten()
                                  for c in range(data.num_classes))])
    order = torch.randperm(len(data.x_val), generator=g)
    stop, test = order[: len(order) // 2], order[len(order) // 2:]
    small = Split(data.x_train[keep], data.y_train[keep], data.x_val[stop], data.y_val[stop],
                  data.num_classes)
    return small, data.x_val[test], data.y_val[test]


def _run(method: str, seed: int, data: Split, epochs: int) -> dict[str, Any]:
    small, x_test, y_test = _subset(data, seed)
    torch.manual_seed(seed)
    net = mlp(64, [WIDTH, WIDTH], 10, "relu", dropout=DROPOUT if method == "dropout" else 0.0)
    model = Perturb(net, noise=NOISE if method == "input_noise" else 0.0,
                    shift=method == "shift")
    opt = td_optim.make_optimizer("sgdm", model.parameters(), LR,
                                  weight_decay=L2 if method == "l2" else 0.0)
    weights = [p for p in model.parameters() if p.ndim > 1]

    def loss_fn(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = F.cross_entropy(out, y, label_smoothing=SMOOTHING if method == "label_smoothing"
                               else 0.0)
        if method == "l1":
            loss = loss + L1 * sum(w.abs().sum() for w in weights)
        return loss

    curve: list[float] = []
    best, best_state, since = -1.0, None, 0
    for epoch in range(epochs):
        hist = fit(model, small, opt, epochs=1, batch_size=32, seed=seed * 1000 + epoch,
                   loss_fn=loss_fn)
        if hist.diverged:
            break
        curve.append(accuracy(model, x_test, y_test))
        if method == "early_stopping":
            if hist.final_accuracy > best:
                best, best_state, since = hist.final_accuracy, copy.deepcopy(model.state_dict()), 0
            else:
                since += 1
                if since >= PATIENCE:
                    break
    if best_state is not None:
        model.load_state_dict(best_state)
    train_acc = accuracy(model, small.x_train, small.y_train)
    test_acc = accuracy(model, x_test, y_test)
    return {"train": train_acc, "test": test_acc, "curve": curve}


def _measure(ctx: Context) -> Outcome:
    epochs = 4 if ctx.quick else 60
    splits = [dataset("digits", seed, image=True) for seed in range(ctx.seeds)]
    rows: list[dict[str, Any]] = []
    curves: dict[str, list[float]] = {}
    spread: dict[str, float] = {}
    for method in METHODS:
        runs = [_run(method, s, splits[s], epochs) for s in range(ctx.seeds)]
        curves[method] = runs[0]["curve"]
        tr = finite_mean([r["train"] for r in runs])
        te = finite_mean([r["test"] for r in runs])
        sd = (math.sqrt(finite_mean([(r["test"] - te) ** 2 for r in runs]) * len(runs)
                        / (len(runs) - 1)) if len(runs) > 1 else float("nan"))
        spread[method] = sd
        rows.append({"method": method, "train_accuracy": tr, "test_accuracy": te,
                     "gap": tr - te, "test_accuracy_sd": sd,
                     "epochs_run": finite_mean([len(r["curve"]) for r in runs])})
        ctx.progress(method)

    fig, (ax0, ax1) = figure(ncols=2, width=9, height=3.4)
    xs = range(len(METHODS))
    ax0.bar([x - 0.2 for x in xs], [r["train_accuracy"] for r in rows], width=0.4, label="train")
    ax0.bar([x + 0.2 for x in xs], [r["test_accuracy"] for r in rows], width=0.4, label="test")
    ax0.set_xticks(list(xs), [m.replace("_", " ") for m in METHODS], rotation=35, ha="right")
    ax0.set_ylim(max(0.0, min(r["test_accuracy"] for r in rows) - 0.1), 1.01)
    ax0.set_ylabel("accuracy")
    ax0.legend(loc="lower center", ncols=2, bbox_to_anchor=(0.5, 1.0))
    colours = iter([c for c in PALETTE if c != "#000000"])
    for method, curve in curves.items():
        ax1.plot(range(1, len(curve) + 1), curve, label=method.replace("_", " "),
                 lw=2.2 if method == "none" else 1.0,
                 color="#000000" if method == "none" else next(colours))
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("test accuracy (first seed)")
    ax1.set_ylim(max(0.0, min(r["test_accuracy"] for r in rows) - 0.15), 1.0)
    ax1.legend(ncols=2, fontsize=7)
    ctx.figure(fig, "gap_and_curves",
               f"Left: training and test accuracy per method ({10 * PER_CLASS} training images). "
               "Right: test accuracy during training.")

    base = rows[0]
    se = spread["none"] / math.sqrt(ctx.seeds) if ctx.seeds > 1 else float("nan")
    margin = max(0.01, 2 * se) if math.isfinite(se) else 0.01
    checks = []
    for r in rows[1:]:
        checks.append(Check(
            f"{r['method']}: smaller gap and test accuracy above none's by > {margin:.3f}",
            r["gap"] < base["gap"] and r["test_accuracy"] > base["test_accuracy"] + margin,
            f"gap {r['gap']:.3f} vs {base['gap']:.3f}; test {r['test_accuracy']:.3f} vs "
            f"{base['test_accuracy']:.3f}"))
    best = max(rows[1:], key=lambda r: r["test_accuracy"])
    summary = (f"none: train {base['train_accuracy']:.3f}, test {base['test_accuracy']:.3f} "
               f"(gap {base['gap']:.3f}); test accuracy "
               + ", ".join(f"{r['method']} {r['test_accuracy']:.3f}" for r in rows[1:])
               + f"; best {best['method']}")
    steps = epochs * (10 * PER_CLASS // 32)
    shrink = 1 - (1 - LR * L2 / (1 - 0.9)) ** steps  # weight decay alone, momentum included
    notes = (f"Weight decay alone would shrink the weights by {shrink:.1%} over the {steps} "
             "steps, L1 by a similar small amount: at the usual strengths the penalties barely "
             "act within this budget. "
             "Strengths are the usual published values, not tuned here: L1 1e-4, weight decay "
             "5e-4, dropout 0.5, label smoothing 0.1, input noise 0.2 standard deviations, "
             "shifts of one pixel, early stopping with patience 20 on a stopping set (half of "
             "the validation images; the other half is the test set every method reports). "
             "The margin is twice the standard error of 'none' over seeds (at least 0.01).")
    return Outcome(checks, summary, rows, notes=notes)


EXPERIMENT = Experiment(
    name="regularization",
    claim="A big network trained on a few examples overfits; L1 and L2 penalties, dropout, "
          "early stopping, label smoothing, input noise and data augmentation each narrow the "
          "train-test gap and raise test accuracy.",
    reference="Goodfellow, Bengio & Courville 2016, Deep Learning, chapter 7; Krogh & Hertz 1992, "
              "A simple weight decay can improve generalization, NeurIPS; Srivastava et al. "
              "2014, Dropout, JMLR, Table 2 (MNIST); Prechelt 1998, Early stopping - but when?; "
              "Szegedy et al. 2016, Rethinking the Inception architecture, CVPR, section 7; "
              "Bishop 1995, Training with noise is equivalent to Tikhonov regularization; "
              "Simard, Steinkraus & Platt 2003, Best practices for convolutional neural networks, "
              "ICDAR",
    setup="A 64-256-256-10 ReLU MLP trained on 150 digits (15 per class) with SGD and momentum "
          "0.9 at rate 0.05, batch 32, 60 epochs; each method is added alone. Test accuracy "
          "on half of the validation images, the other half drives early stopping.",
    measure=_measure,
    order=9,
)
