"""Gradients and depth: per-layer gradient norms of sigmoid, ReLU, ReLU+BN and residual nets."""

from __future__ import annotations

import math
from itertools import pairwise

import torch
from torch import nn

from torchdoctor import nn as td_nn
from torchdoctor.lab._common import Split, dataset, fit
from torchdoctor.lab._experiment import Check, Context, Experiment, Outcome, finite_mean
from torchdoctor.report.charts import figure

KINDS: tuple[str, ...] = ("sigmoid", "relu", "relu+bn", "residual")
DEPTH = 20
WIDTH = 64


class Residual(nn.Module):
    """``x + Linear(ReLU(Linear(x)))``: a pre-activation-free residual block of width ``width``."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(width, width), nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(torch.relu(self.fc1(x)))


def make_net(kind: str, depth: int = DEPTH, width: int = WIDTH, inputs: int = 64,
             classes: int = 10) -> nn.Sequential:
    """An MLP with ``depth`` hidden Linear layers of ``width`` (residual: the first layer, then
    blocks of two), PyTorch's default initialization, and a Linear head."""
    layers: list[nn.Module] = [nn.Linear(inputs, width)]
    if kind == "residual":
        blocks = (depth - 1) // 2
        layers.append(nn.ReLU())
        if depth - 1 - 2 * blocks:  # one plain layer more, so every net has ``depth``
            layers += [nn.Linear(width, width), nn.ReLU()]
        layers += [Residual(width) for _ in range(blocks)]
    else:
        for _ in range(depth - 1):
            if kind == "relu+bn":
                layers.append(td_nn.make_norm("batch", width, spatial_dims=0))
            layers.append(nn.Sigmoid() if kind == "sigmoid" else nn.ReLU())
            layers.append(nn.Linear(width, width))
        if kind == "relu+bn":
            layers.append(td_nn.make_norm("batch", width, spatial_dims=0))
        layers.append(nn.Sigmoid() if kind == "sigmoid" else nn.ReLU())
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)


def hidden_grad_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """Frobenius norm of the cross-entropy gradient of every hidden Linear weight (input side
    first; the head left out), for one batch ``x`` (N, D), ``y`` (N,)."""
    model.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(model(x), y).backward()
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)][:-1]
    return [float(m.weight.grad.norm()) for m in linears]


def _norms(kind: str, data: Split, seed: int, depth: int = DEPTH) -> list[float]:
    torch.manual_seed(seed)
    model = make_net(kind, depth, inputs=data.x_train.shape[1], classes=data.num_classes)
    return hidden_grad_norms(model, data.x_train[:256], data.y_train[:256])


def _measure(ctx: Context) -> Outcome:
    epochs = 2 if ctx.quick else 8
    splits = [dataset("digits", seed) for seed in range(ctx.seeds)]
    rows, profiles, curves = [], {}, {}
    ratio: dict[str, float] = {}
    for kind in KINDS:
        per_seed, accs, first_after = [], [], []
        for seed, data in enumerate(splits):
            per_seed.append(_norms(kind, data, seed))
            torch.manual_seed(seed)
            model = make_net(kind, inputs=data.x_train.shape[1], classes=data.num_classes)
            hist = fit(model, data, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
                       epochs=epochs, batch_size=64, seed=seed)
            accs.append(hist.final_accuracy)
            curves.setdefault(kind, hist.train_loss)
            first_after.append(hidden_grad_norms(model, data.x_train[:256], data.y_train[:256])[0])
            ctx.progress(f"{kind} seed {seed}")
        prof = [finite_mean([p[i] for p in per_seed]) for i in range(len(per_seed[0]))]
        profiles[kind] = prof
        ratio[kind] = prof[0] / prof[-1]
        rows.append({"net": kind, "grad_first_layer": prof[0], "grad_last_hidden": prof[-1],
                     "first_to_last": ratio[kind], "grad_first_after_training":
                     finite_mean(first_after), "val_accuracy": finite_mean(accs)})
    depths = (2, 5, 10, 20)
    sig_depth = {}
    for d in depths:
        vals = []
        for seed, data in enumerate(splits):
            p = _norms("sigmoid", data, seed, depth=d)
            vals.append(p[0] / p[-1])
        sig_depth[d] = finite_mean(vals)
    _figures(ctx, profiles, curves, sig_depth)
    for d in depths:
        rows.append({"net": f"sigmoid, depth {d}", "first_to_last": sig_depth[d]})
    shrinking = all(sig_depth[a] > sig_depth[b] for a, b in pairwise(depths))
    checks = [
        Check("sigmoid: the first layer's gradient is below 1e-3 of the last hidden layer's",
              ratio["sigmoid"] < 1e-3, f"ratio {ratio['sigmoid']:.1e}"),
        Check("sigmoid: the first-to-last ratio falls with every added depth (2, 5, 10, 20)",
              shrinking, ", ".join(f"{d}: {v:.1e}" for d, v in sig_depth.items())),
        Check("ReLU+BN keeps the first layer's gradient within 10x of the last hidden layer's",
              0.1 < ratio["relu+bn"] < 10, f"ratio {ratio['relu+bn']:.2f}"),
        Check("residual keeps the first layer's gradient within 10x of the last hidden layer's",
              0.1 < ratio["residual"] < 10, f"ratio {ratio['residual']:.2f}"),
    ]
    summary = ("first/last hidden-layer gradient norm at init, 20 layers: " + ", ".join(
        f"{k} {ratio[k]:.1e}" for k in KINDS) + "; accuracy " + ", ".join(
        f"{r['net']} {r['val_accuracy']:.2f}" for r in rows[:len(KINDS)]))
    bn_closed = (math.pi / (math.pi - 1)) ** ((DEPTH - 1) / 2)
    notes = ("PyTorch's default initialization (uniform, variance 1/(3·fan_in)) for every net, "
             "the one a user gets without asking; plain ReLU under it also shrinks the "
             "gradient by about √6 per layer (He init would keep it, see init_depth). "
             f"With BatchNorm the early gradients do not vanish but grow: first/last "
             f"{ratio['relu+bn']:.0f}, near the mean-field prediction for a deep ReLU+BN net, "
             f"√(π/(π−1)) per layer, {bn_closed:.0f} over 19 layers (Yang, Pennington, Rao, "
             "Sohl-Dickstein & Schoenholz 2019, A Mean Field Theory of Batch Normalization, "
             "ICLR); the 'within 10x' check fails on that side.")
    return Outcome(checks, summary, rows, notes=notes)


def _figures(ctx: Context, profiles: dict, curves: dict, sig_depth: dict) -> None:
    fig, axes = figure(ncols=2, width=9, height=3.4)
    for kind in KINDS:
        prof = profiles[kind]
        axes[0].plot(range(1, len(prof) + 1), [max(v, 1e-30) for v in prof], marker="o",
                     markersize=2.5, label=kind)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("hidden layer (1 = next to the input)")
    axes[0].set_ylabel("‖∂loss/∂W‖ at init")
    axes[0].legend()
    axes[1].plot(list(sig_depth), list(sig_depth.values()), marker="o", color="#0072B2")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("depth (hidden layers)")
    axes[1].set_ylabel("first / last gradient norm")
    axes[1].set_title("sigmoid net")
    ctx.figure(fig, "grad_norms", "Gradient norm per hidden layer at initialization (log "
                                  "scale), and the sigmoid net's first-to-last ratio by depth")
    fig, ax = figure(width=5, height=3)
    for kind in KINDS:
        ax.plot(range(1, len(curves[kind]) + 1), curves[kind], marker="o", markersize=3, label=kind)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.legend()
    ctx.figure(fig, "training", "Training loss of the 20-layer nets (SGD, momentum 0.9, rate 0.05)")


EXPERIMENT = Experiment(
    name="grad_depth",
    claim="In a deep sigmoid net the gradient reaching the first layers vanishes, more so the "
          "deeper the net; batch normalization and residual connections keep the early "
          "layers' gradients at the scale of the late ones.",
    reference="Glorot & Bengio 2010, Understanding the difficulty of training deep feedforward "
              "neural networks, AISTATS (section 4.2.2, Figure 7: back-propagated gradients per "
              "layer); Ioffe & Szegedy 2015, Batch Normalization, "
              "ICML (section 3.3); He, Zhang, Ren & Sun 2016, Deep Residual Learning for Image "
              "Recognition, CVPR (Figure 1)",
    setup="20-layer MLPs of width 64 on the digits (sigmoid, ReLU, ReLU with BatchNorm, and "
          "ReLU residual blocks of two layers), PyTorch's default initialization; the gradient "
          "norm of every hidden weight from one batch of 256 at initialization, the sigmoid "
          "net also at depths 2, 5, 10, 20; then 8 epochs of SGD (2 when quick) for the "
          "training curves.",
    measure=_measure,
    order=3,
)
