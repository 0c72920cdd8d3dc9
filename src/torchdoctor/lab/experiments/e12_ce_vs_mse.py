"""Cross-entropy against squared error for classification, with softmax and sigmoid outputs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from torchdoctor.lab._common import History, fit, mlp
from torchdoctor.lab._experiment import Check, Context, Experiment, Outcome, finite_mean
from torchdoctor.lab.experiments._c_common import beats, cached_dataset, gain_text
from torchdoctor.report.charts import figure

LR, MOMENTUM, BATCH, HIDDEN = 0.05, 0.9, 64, 64
EARLY = 5  #: epochs over which "learning speed" is measured (mean validation accuracy)


def _onehot(y: Tensor, k: int) -> Tensor:
    return F.one_hot(y, k).to(torch.float32)


def softmax_ce_loss(logits: Tensor, y: Tensor) -> Tensor:
    """Cross-entropy of softmax outputs: ``-log softmax(z)_y``, mean over the batch."""
    return F.cross_entropy(logits, y)


def softmax_mse_loss(logits: Tensor, y: Tensor) -> Tensor:
    """Squared error of softmax outputs against one-hot targets: ``Σ_k (p_k − t_k)²``, batch mean."""
    return ((torch.softmax(logits, 1) - _onehot(y, logits.shape[1])) ** 2).sum(1).mean()


def sigmoid_bce_loss(logits: Tensor, y: Tensor) -> Tensor:
    """One-vs-rest binary cross-entropy of sigmoid outputs, summed over classes, batch mean."""
    t = _onehot(y, logits.shape[1])
    return F.binary_cross_entropy_with_logits(logits, t, reduction="none").sum(1).mean()


def sigmoid_mse_loss(logits: Tensor, y: Tensor) -> Tensor:
    """Squared error of sigmoid outputs against one-hot targets, summed over classes, batch mean."""
    return ((torch.sigmoid(logits) - _onehot(y, logits.shape[1])) ** 2).sum(1).mean()


LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "softmax + CE": softmax_ce_loss,
    "softmax + MSE": softmax_mse_loss,
    "sigmoid + BCE": sigmoid_bce_loss,
    "sigmoid + MSE": sigmoid_mse_loss,
}
FINETUNED = "softmax + MSE after CE"


def true_logit_gradient(loss: Callable[[Tensor, Tensor], Tensor], margin: float,
                        k: int = 10) -> float:
    """``|∂loss/∂z_y|`` of one sample whose true logit is ``margin`` below a wrong one.

    Logits: true ``z_y = −margin/2``, one wrong ``+margin/2``, the other ``k − 2`` at
    ``−|margin|/2 − 2`` (a confident mistake for a large positive margin).
    """
    z = torch.full((1, k), -abs(margin) / 2 - 2.0)
    z[0, 0], z[0, 1] = -margin / 2, margin / 2
    z.requires_grad_(True)
    (g,) = torch.autograd.grad(loss(z, torch.tensor([0])), z)
    return float(g[0, 0].abs())


def _train(name: str, seed: int, epochs: int) -> History:
    torch.manual_seed(seed)
    data = cached_dataset("digits", seed)
    model = mlp(data.x_train.shape[1], [HIDDEN, HIDDEN], data.num_classes)

    def sgd() -> torch.optim.Optimizer:
        return torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    if name == FINETUNED:
        first = fit(model, data, sgd(), epochs=epochs // 2, batch_size=BATCH, seed=seed,
                    loss_fn=softmax_ce_loss)
        second = fit(model, data, sgd(), epochs=epochs - epochs // 2, batch_size=BATCH,
                     seed=seed + 1, loss_fn=softmax_mse_loss)
        return History(first.train_loss + second.train_loss,
                       first.val_accuracy + second.val_accuracy, first.diverged or second.diverged)
    return fit(model, data, sgd(), epochs=epochs, batch_size=BATCH, seed=seed, loss_fn=LOSSES[name])


def _measure(ctx: Context) -> Outcome:
    epochs = 8 if ctx.quick else 30
    names = (*LOSSES, FINETUNED)
    curves: dict[str, list[list[float]]] = {n: [] for n in names}
    for seed in range(ctx.seeds):
        for name in names:
            curves[name].append(_train(name, seed, epochs).val_accuracy)
        ctx.progress(f"seed {seed}")
    mean_curve = {n: [finite_mean([c[e] for c in cs if len(c) > e]) for e in range(epochs)]
                  for n, cs in curves.items()}
    early = {n: finite_mean(c[:EARLY]) for n, c in mean_curve.items()}
    final = {n: c[-1] for n, c in mean_curve.items()}

    fig, (ax1, ax2) = figure(ncols=2, width=9, height=3.3)
    margins = np.linspace(-4, 8, 61)
    for name in LOSSES:
        ax1.plot(margins, [true_logit_gradient(LOSSES[name], float(m)) for m in margins], label=name)
    ax1.set_xlabel("wrong logit minus true logit")
    ax1.set_ylabel("|gradient| on the true logit")
    ax1.set_title("one sample, 10 classes", fontsize=9)
    ax1.legend(fontsize=7)
    for name in names:
        ax2.plot(range(1, epochs + 1), mean_curve[name], label=name,
                 ls="--" if name == FINETUNED else "-")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("validation accuracy")
    ax2.set_ylim(0, 1)
    ax2.set_title(f"digits, {HIDDEN}-{HIDDEN} ReLU MLP, SGD {LR:g}", fontsize=9)
    ax2.legend(fontsize=7)
    ctx.figure(fig, "gradients_and_curves",
               "Left: the gradient a confidently wrong sample sends to its true logit (closed "
               "form through autograd). Right: validation accuracy per epoch.")

    rows = [{"outputs + loss": n, f"accuracy_first_{EARLY}_epochs": round(early[n], 4),
             "final_accuracy": round(final[n], 4),
             "gradient_at_margin_6": round(true_logit_gradient(LOSSES[n], 6.0), 5) if n in LOSSES else ""}
            for n in names]
    ce, mse, bce, smse = (n for n in LOSSES)
    last = {n: [c[-1] for c in cs] for n, cs in curves.items()}
    checks = [
        Check(f"softmax: CE learns faster than MSE (mean accuracy over the first {EARLY} epochs "
              "higher by >= 0.02)", early[ce] >= early[mse] + 0.02,
              f"{early[ce]:.3f} vs {early[mse]:.3f}"),
        Check("softmax: from a random start CE ends more accurate than MSE, by more than twice "
              "the standard error over seeds", beats(last[ce], last[mse]),
              f"{final[ce]:.4f} vs {final[mse]:.4f}; " + gain_text(last[ce], last[mse])),
        Check("sigmoid: BCE learns faster than MSE (first epochs higher by >= 0.02)",
              early[bce] >= early[smse] + 0.02, f"{early[bce]:.3f} vs {early[smse]:.3f}"),
        Check("MSE started from a CE-trained net ends within 0.01 of CE",
              final[FINETUNED] >= final[ce] - 0.01, f"{final[FINETUNED]:.4f} vs {final[ce]:.4f}"),
    ]
    summary = (f"first {EARLY} epochs: softmax CE {early[ce]:.3f} vs MSE {early[mse]:.3f}, "
               f"sigmoid BCE {early[bce]:.3f} vs MSE {early[smse]:.3f}; final: CE "
               f"{final[ce]:.3f}, MSE {final[mse]:.3f}, MSE after CE {final[FINETUNED]:.3f}")
    notes = ("All losses share one optimizer setting (SGD with momentum at one rate): squared "
             "error's smaller gradients are part of what is compared. Golik et al. train "
             "speech-recognition networks on hundreds of hours; here a small MLP on the digits.")
    if not beats(last[ce], last[mse]):
        notes += (f" After {epochs} epochs squared error has caught up with cross-entropy "
                  f"({final[mse]:.4f} vs {final[ce]:.4f}): on this small, easy task the slower "
                  "start is the whole difference.")
    return Outcome(checks, summary, rows, notes=notes)


EXPERIMENT = Experiment(
    name="ce_vs_mse",
    claim="Trained from a random start, cross-entropy learns a classifier faster and better "
          "than squared error on the same outputs, because squared error's gradient "
          "vanishes on confidently wrong samples; squared error started from a cross-entropy "
          "solution does as well.",
    reference="Golik, Doetsch & Ney 2013, Cross-Entropy vs. Squared Error Training: a "
              "Theoretical and Experimental Comparison, Interspeech (Table 1: squared error "
              "from random initialization trails cross-entropy, from a cross-entropy "
              "initialization it matches it)",
    setup=f"A 64-{HIDDEN}-{HIDDEN}-10 ReLU MLP on the digits, SGD (rate {LR}, momentum "
          f"{MOMENTUM}, batch {BATCH}); softmax outputs with cross-entropy or squared error "
          "against one-hot targets, sigmoid outputs with binary cross-entropy or squared "
          "error, and squared error continued from a net trained for half the epochs with "
          "cross-entropy; plus the closed-form gradient of each loss on one wrong sample.",
    measure=_measure,
    order=12,
)
