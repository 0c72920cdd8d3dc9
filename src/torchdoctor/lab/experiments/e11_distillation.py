"""Knowledge distillation: a small student trained on a teacher's softened outputs."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from torchdoctor import losses as td_losses
from torchdoctor.lab._common import Split, accuracy, mlp
from torchdoctor.lab._experiment import Check, Context, Experiment, Outcome, finite_mean
from torchdoctor.lab.experiments._c_common import (
    beats,
    cached_dataset,
    fit_indexed,
    gain_text,
    predict,
)
from torchdoctor.report.charts import figure

TEMPERATURES = (1.0, 4.0, 16.0)   #: T swept at the headline α
ALPHAS = (0.1, 0.5)               #: weight of the hard-label loss, swept at the headline T
HEADLINE = (4.0, 0.1)             #: (T, α) compared with the student alone
OMITTED_CLASS = 3                 #: the digit left out of the student's transfer set
OMITTED_T = 8.0                   #: temperature of the omitted-digit experiment
#: Hinton et al.: a 1200-1200 dropout teacher, an 800-800 student (2/3 of its width), unregularized
TEACHER_HIDDEN, STUDENT_HIDDEN, DROPOUT = 192, 128, 0.5
CNN_WIDTH = 32                    #: channels of the MNIST-1D teacher
LR, BATCH = 3e-3, 128


class Conv1dNet(nn.Module):
    """MNIST-1D teacher: three stride-2 1D convolutions (kernel 5, 3, 3) and a linear layer.

    Input [N, 40] → logits [N, classes].
    """

    def __init__(self, width: int = CNN_WIDTH, length: int = 40, classes: int = 10) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(1, width, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv1d(width, width, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv1d(width, width, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(width * ((length + 7) // 8), classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x[:, None, :])


def _teacher(split: Split, teacher: nn.Module, seed: int, epochs: int) -> tuple[torch.Tensor, float]:
    """Train ``teacher`` on ``split``; its logits on the training rows (N, K) and val accuracy."""
    y = split.y_train
    fit_indexed(teacher, split.x_train, lambda out, idx: F.cross_entropy(out, y[idx]),
                epochs=epochs, batch_size=BATCH, lr=LR, seed=seed)
    return predict(teacher, split.x_train), accuracy(teacher, split.x_val, split.y_val)


def _student(split: Split, rows: torch.Tensor, teacher_logits: torch.Tensor | None, T: float,
             alpha: float, seed: int, epochs: int) -> nn.Module:
    """Train a student on ``rows`` of the training set: alone (``teacher_logits`` None) or distilled."""
    torch.manual_seed(1000 + seed)
    d, k = split.x_train.shape[1], split.num_classes
    student = mlp(d, [STUDENT_HIDDEN, STUDENT_HIDDEN], k)
    x, y = split.x_train[rows], split.y_train[rows]
    if teacher_logits is None:
        def loss(out: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(out, y[idx])
    else:
        t = teacher_logits[rows]

        def loss(out: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
            return td_losses.distillation_loss(out, t[idx], y[idx], T=T, alpha=alpha)
    fit_indexed(student, x, loss, epochs=epochs, batch_size=BATCH, lr=LR, seed=seed)
    return student


def _sweep(ctx: Context, epochs: int) -> tuple[dict[str, float], dict[str, list[float]]]:
    """MNIST-1D: CNN teacher, MLP student alone and distilled over the (T, α) grid."""
    configs = [HEADLINE] if ctx.quick else sorted(
        {(t, HEADLINE[1]) for t in TEMPERATURES} | {(HEADLINE[0], a) for a in ALPHAS})
    accs: dict[str, list[float]] = {}
    split = cached_dataset("mnist1d", 0)  # one split: generating MNIST-1D costs seconds
    every = torch.arange(len(split.x_train))
    for seed in range(ctx.seeds):
        torch.manual_seed(seed)
        logits, acc_t = _teacher(split, Conv1dNet(), seed, epochs)
        accs.setdefault("teacher (CNN)", []).append(acc_t)
        alone = _student(split, every, None, 1.0, 1.0, seed, epochs)
        accs.setdefault("alone", []).append(accuracy(alone, split.x_val, split.y_val))
        for T, a in configs:
            s = _student(split, every, logits, T, a, seed, epochs)
            accs.setdefault(f"T={T:g} α={a:g}", []).append(accuracy(s, split.x_val, split.y_val))
        ctx.progress(f"sweep seed {seed}")
    return {k: finite_mean(v) for k, v in accs.items()}, accs


def omitted_bias(logits: torch.Tensor, labels: torch.Tensor, k: int,
                 grid: tuple[float, ...] = tuple(0.5 * i for i in range(21))) -> float:
    """The bias added to class ``k``'s logit (from ``grid``) that maximizes accuracy on
    ``logits`` (N, C) with ``labels`` (N,): Hinton et al.'s adjustment for an omitted class."""
    def acc(b: float) -> float:
        z = logits.clone()
        z[:, k] += b
        return float((z.argmax(1) == labels).float().mean())
    return max(grid, key=lambda b: (acc(b), -b))


def _omitted(ctx: Context, epochs: int) -> dict[str, float]:
    """Digits: students that never see class OMITTED_CLASS; accuracy on it and on the rest.

    The omitted class's bias is tuned on one half of the validation rows and the accuracies
    are measured on the other half, raw and with that bias.
    """
    out: dict[str, list[float]] = {}
    for seed in range(ctx.seeds):
        split = cached_dataset("digits", seed)
        torch.manual_seed(seed)
        teacher = mlp(split.x_train.shape[1], [TEACHER_HIDDEN, TEACHER_HIDDEN], split.num_classes,
                      dropout=DROPOUT)
        logits, _ = _teacher(split, teacher, seed, epochs)
        keep = torch.nonzero(split.y_train != OMITTED_CLASS).flatten()
        half = torch.randperm(len(split.y_val), generator=torch.Generator().manual_seed(seed))
        tune, test = half[: len(half) // 2], half[len(half) // 2:]
        y = split.y_val[test]
        is_k = y == OMITTED_CLASS
        for name, lg in (("alone", None), ("distilled", logits)):
            s = _student(split, keep, lg, OMITTED_T, HEADLINE[1], seed, epochs)
            z = predict(s, split.x_val)
            bias = omitted_bias(z[tune], split.y_val[tune], OMITTED_CLASS)
            out.setdefault(f"{name} bias", []).append(bias)
            for tag, b in (("", 0.0), (" adjusted", bias)):
                zz = z[test].clone()
                zz[:, OMITTED_CLASS] += b
                pred = zz.argmax(1)
                out.setdefault(f"{name} omitted{tag}", []).append(
                    float((pred[is_k] == OMITTED_CLASS).float().mean()))
                out.setdefault(f"{name} others{tag}", []).append(
                    float((pred[~is_k] == y[~is_k]).float().mean()))
        ctx.progress(f"omitted class seed {seed}")
    return {k: finite_mean(v) for k, v in out.items()}


def _measure(ctx: Context) -> Outcome:
    epochs = 10 if ctx.quick else 20
    acc, per_seed = _sweep(ctx, epochs)
    omit = _omitted(ctx, 10 if ctx.quick else 20)
    head = f"T={HEADLINE[0]:g} α={HEADLINE[1]:g}"

    fig, (ax1, ax2) = figure(ncols=2, width=9, height=3.3)
    temps = [t for t in TEMPERATURES if f"T={t:g} α={HEADLINE[1]:g}" in acc]
    ax1.plot(temps, [acc[f"T={t:g} α={HEADLINE[1]:g}"] for t in temps], "o-",
             label=f"distilled, α = {HEADLINE[1]:g}")
    alphas = [a for a in ALPHAS if a != HEADLINE[1] and f"T={HEADLINE[0]:g} α={a:g}" in acc]
    for a in alphas:
        ax1.plot([HEADLINE[0]], [acc[f"T={HEADLINE[0]:g} α={a:g}"]], "s",
                 label=f"T = {HEADLINE[0]:g}, α = {a:g}")
    ax1.axhline(acc["alone"], color="grey", ls="--", label="student alone")
    ax1.axhline(acc["teacher (CNN)"], color="black", ls=":", label="teacher")
    ax1.set_xscale("log", base=2)
    ax1.set_xlabel("temperature T")
    ax1.set_ylabel("validation accuracy")
    ax1.set_title(f"MNIST-1D, CNN teacher, MLP {STUDENT_HIDDEN}-{STUDENT_HIDDEN} student", fontsize=9)
    ax1.legend(fontsize=7)
    names = ["alone", "alone adjusted", "distilled", "distilled adjusted"]
    xs = np.arange(len(names))
    ax2.bar(xs - 0.2, [omit[f"{n.split()[0]} omitted{n[len(n.split()[0]):]}"] for n in names], 0.4,
            label=f"digit {OMITTED_CLASS} (never seen)")
    ax2.bar(xs + 0.2, [omit[f"{n.split()[0]} others{n[len(n.split()[0]):]}"] for n in names], 0.4,
            label="other digits")
    ax2.set_xticks(xs, ["alone", "alone\n+bias", f"distilled\nT = {OMITTED_T:g}", "distilled\n+bias"])
    ax2.set_ylabel("validation accuracy")
    ax2.set_ylim(0, 1.05)
    ax2.legend(fontsize=7)
    ax2.set_title(f"digits: no {OMITTED_CLASS} in the student's training rows", fontsize=9)
    ctx.figure(fig, "sweep_and_omitted",
               "Left: student accuracy against the distillation temperature. Right: accuracy on a "
               "class the student never saw, learnt only from the teacher's soft targets.")

    rows = [{"part": "sweep (MNIST-1D)", "model": k, "val_accuracy": round(v, 4)}
            for k, v in acc.items()]
    rows += [{"part": f"digit {OMITTED_CLASS} omitted (digits)", "model": name,
              "val_accuracy": round(omit[f"{name} others adjusted"], 4),
              "omitted_digit_raw": round(omit[f"{name} omitted"], 4),
              "omitted_digit_adjusted": round(omit[f"{name} omitted adjusted"], 4),
              "bias": round(omit[f"{name} bias"], 2)} for name in ("alone", "distilled")]
    checks = [
        Check(f"distilled student ({head}) beats the student alone by more than twice the "
              "standard error over seeds", beats(per_seed[head], per_seed["alone"]),
              f"{acc[head]:.4f} vs {acc['alone']:.4f} (teacher {acc['teacher (CNN)']:.4f}); "
              + gain_text(per_seed[head], per_seed["alone"])),
        Check(f"distillation transfers digit {OMITTED_CLASS}, absent from the student's rows: "
              "accuracy on it >= 0.5 after the bias adjustment, and 0.4 above the student alone",
              omit["distilled omitted adjusted"] >= 0.5
              and omit["distilled omitted adjusted"] >= omit["alone omitted adjusted"] + 0.4,
              f"{omit['distilled omitted adjusted']:.3f} vs {omit['alone omitted adjusted']:.3f} "
              f"alone (raw {omit['distilled omitted']:.3f} vs {omit['alone omitted']:.3f}); bias "
              f"+{omit['distilled bias']:.1f}"),
    ]
    key1 = f"T=1 α={HEADLINE[1]:g}"
    if key1 in acc:
        checks.append(Check(f"a high temperature helps: {head} beats T=1 by more than twice "
                            "the standard error", beats(per_seed[head], per_seed[key1]),
                            f"{acc[head]:.4f} vs {acc[key1]:.4f}; "
                            + gain_text(per_seed[head], per_seed[key1])))
    summary = (f"MNIST-1D: teacher {acc['teacher (CNN)']:.3f}, student alone {acc['alone']:.3f}, "
               f"distilled {head} {acc[head]:.3f}; digits: never-seen digit {OMITTED_CLASS} "
               f"{omit['distilled omitted adjusted']:.2f} distilled vs "
               f"{omit['alone omitted adjusted']:.2f} alone (bias-adjusted)")
    notes = ("Hinton et al. distil a 1200-1200 dropout MLP (67 test errors) into an 800-800 MLP "
             "(146 alone) on MNIST. At this scale a dropout MLP teacher is no better than the "
             "student trained alone, so on MNIST-1D the teacher is a small 1D CNN (Greydanus "
             "2020: CNNs far above MLPs on MNIST-1D); the student keeps the paper's role, an "
             "unregularized MLP. As in Hinton et al., the omitted digit's logit bias is raised "
             "by the amount that maximizes overall accuracy, chosen on one half of the "
             "validation rows and measured on the other; raw numbers are in the table.")
    distilled = {k: v for k, v in acc.items() if k.startswith("T=")}
    best = max(distilled, key=distilled.__getitem__)
    notes += (f" Best distilled setting: {best}, {distilled[best]:.3f} "
              f"({distilled[best] - acc['alone']:+.3f} over the student alone). The soft targets "
              "come from the 3500 MNIST-1D training rows only (Hinton et al.: 60 000 images).")
    return Outcome(checks, summary, rows, notes=notes)


EXPERIMENT = Experiment(
    name="distillation",
    claim="A small student trained to match a larger teacher's temperature-softened outputs "
          "generalizes better than the same student trained on the labels alone, and learns "
          "even a class it never saw from the soft targets.",
    reference="Hinton, Vinyals & Dean 2015, Distilling the Knowledge in a Neural Network, "
              "NIPS Deep Learning Workshop (section 3, MNIST: 146 test errors alone vs 74 "
              "distilled; the omitted digit 3)",
    setup=f"MNIST-1D (one split): a three-layer 1D CNN ({CNN_WIDTH} channels) as teacher, a "
          f"{STUDENT_HIDDEN}-{STUDENT_HIDDEN} ReLU MLP as student, Adam {LR:g}, batch {BATCH}; "
          "the student trained on the labels alone or with td.losses.distillation_loss over "
          f"T in {', '.join(f'{t:g}' for t in TEMPERATURES)} and hard-label weight α in "
          f"{', '.join(f'{a:g}' for a in ALPHAS)}. Digits: a {TEACHER_HIDDEN}-{TEACHER_HIDDEN} "
          f"MLP teacher with dropout {DROPOUT} on all digits, the student trained without digit "
          f"{OMITTED_CLASS} (T = {OMITTED_T:g}).",
    measure=_measure,
    order=11,
)
