"""BatchNorm in train and eval mode: what a forgotten ``eval()`` costs, and how the running
statistics follow the exponential moving average their momentum sets."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from torchdoctor import nn as td_nn
from torchdoctor.lab._common import Split, accuracy, dataset, fit
from torchdoctor.lab._experiment import Check, Context, Experiment, Outcome, finite_mean
from torchdoctor.report.charts import figure

EVAL_BATCHES: tuple[int, ...] = (2, 3, 5, 16, 64)
MOMENTA: tuple[float | None, ...] = (0.1, 0.01, None)
STREAM_MEAN, STREAM_STD, STREAM_BATCH, STREAM_FEATURES = 2.0, 1.0, 256, 8


def make_mlp(momentum: float | None = 0.1, inputs: int = 64, classes: int = 10) -> nn.Sequential:
    """64-64-64-10 MLP with BatchNorm1d (``momentum``) before each hidden ReLU."""
    return nn.Sequential(
        nn.Linear(inputs, 64), td_nn.make_norm("batch", 64, spatial_dims=0, momentum=momentum),
        nn.ReLU(), nn.Linear(64, 64),
        td_nn.make_norm("batch", 64, spatial_dims=0, momentum=momentum), nn.ReLU(),
        nn.Linear(64, classes))


@torch.no_grad()
def train_mode_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int) -> float:
    """Accuracy of ``model`` left in train mode (batch statistics), fed ``batch`` rows at a time
    in the given order (a trailing single row joins the previous batch); a copy is used, so the
    model's running statistics are untouched."""
    m = copy.deepcopy(model).train()
    chunks = list(torch.split(torch.arange(len(x)), batch))
    if len(chunks) > 1 and len(chunks[-1]) == 1:
        chunks[-2:] = [torch.cat(chunks[-2:])]
    right = sum(int((m(x[i]).argmax(1) == y[i]).sum()) for i in chunks)
    return right / len(x)


def running_mean_trace(momentum: float | None, steps: int, seed: int) -> tuple[list[float], list[float]]:
    """Feed ``steps`` batches of N(2, 1) (256 × 8) to a fresh BatchNorm1d; return the running
    mean (averaged over the 8 features) after each step and the batch means fed."""
    g = torch.Generator().manual_seed(seed)
    bn = nn.BatchNorm1d(STREAM_FEATURES, momentum=momentum)
    trace, fed = [], []
    with torch.no_grad():
        for _ in range(steps):
            xb = STREAM_MEAN + STREAM_STD * torch.randn(STREAM_BATCH, STREAM_FEATURES, generator=g)
            bn(xb)
            fed.append(float(xb.mean()))
            trace.append(float(bn.running_mean.mean()))
    return trace, fed


def ema_reference(batch_means: list[float], momentum: float | None) -> list[float]:
    """The running mean by its definition, a plain loop: ``r ← (1 − m) r + m x̄`` from ``r = 0``
    (``momentum=None``: the cumulative mean of the batch means)."""
    r, out = 0.0, []
    for t, xbar in enumerate(batch_means, 1):
        m = 1.0 / t if momentum is None else momentum
        r = (1 - m) * r + m * xbar
        out.append(r)
    return out


def steps_to_within(trace: list[float], target: float, tol: float) -> int:
    """First step (1-based) after which the trace stays within ``tol·|target|`` of ``target``."""
    last_out = 0
    for t, v in enumerate(trace, 1):
        if abs(v - target) > tol * abs(target):
            last_out = t
    return last_out + 1


def closed_form_steps(momentum: float, tol: float = 0.05) -> int:
    """Steps for an EMA started at 0 to come within ``tol`` of the mean: ⌈ln tol / ln(1 − m)⌉."""
    return math.ceil(math.log(tol) / math.log(1 - momentum))


def _forgotten_eval(ctx: Context, splits: list[Split], epochs: int) -> dict[str, float]:
    res: dict[str, list[float]] = {}
    for seed, data in enumerate(splits):
        torch.manual_seed(seed)
        model = make_mlp(0.1, data.x_train.shape[1], data.num_classes)
        fit(model, data, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
            epochs=epochs, batch_size=64, seed=seed)
        g = torch.Generator().manual_seed(seed)
        perm = torch.randperm(len(data.x_val), generator=g)
        xv, yv = data.x_val[perm], data.y_val[perm]
        res.setdefault("eval", []).append(accuracy(model, xv, yv))
        for b in (*EVAL_BATCHES, len(xv)):
            key = "all" if b == len(xv) else str(b)
            res.setdefault(key, []).append(train_mode_accuracy(model, xv, yv, b))
        order = torch.argsort(data.y_val, stable=True)
        res.setdefault("sorted16", []).append(
            train_mode_accuracy(model, data.x_val[order], data.y_val[order], 16))
        ctx.progress(f"forgotten eval, seed {seed}")
    return {k: finite_mean(v) for k, v in res.items()}


def _short_training(ctx: Context, splits: list[Split], steps: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, list[float]]] = {}
    for seed, data in enumerate(splits):
        for mom in MOMENTA:
            torch.manual_seed(seed)
            model = make_mlp(mom, data.x_train.shape[1], data.num_classes)
            short = Split(data.x_train[:steps * 64], data.y_train[:steps * 64], data.x_val,
                          data.y_val, data.num_classes)
            fit(model, short, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
                epochs=1, batch_size=64, seed=seed)
            d = out.setdefault(str(mom), {})
            d.setdefault("eval", []).append(accuracy(model, data.x_val, data.y_val))
            d.setdefault("train_mode", []).append(
                train_mode_accuracy(model, data.x_val, data.y_val, len(data.x_val)))
        ctx.progress(f"short training, seed {seed}")
    return {k: {kk: finite_mean(vv) for kk, vv in d.items()} for k, d in out.items()}


def _measure(ctx: Context) -> Outcome:
    epochs, stream_steps, short_steps = (3, 300, 15) if ctx.quick else (10, 600, 15)
    splits = [dataset("digits", seed) for seed in range(ctx.seeds)]
    acc = _forgotten_eval(ctx, splits, epochs)
    short = _short_training(ctx, splits, short_steps)
    traces, worst_gap, reach = {}, 0.0, {}
    for mom in MOMENTA:
        per_seed = [running_mean_trace(mom, stream_steps, seed) for seed in range(ctx.seeds)]
        for trace, fed in per_seed:
            ref = ema_reference(fed, mom)
            worst_gap = max(worst_gap, max(abs(a - b) for a, b in zip(trace, ref, strict=True)))
        traces[str(mom)] = [finite_mean([p[0][t] for p in per_seed]) for t in range(stream_steps)]
        if mom is not None:
            reach[mom] = finite_mean([steps_to_within(p[0], STREAM_MEAN, 0.05) for p in per_seed])
    ctx.progress("running statistics")
    rows = [{"part": "forgotten eval()", "setting": "eval mode (running statistics)",
             "val_accuracy": acc["eval"]}]
    rows += [{"part": "forgotten eval()", "setting": f"train mode, batches of {b}",
              "val_accuracy": acc[str(b)]} for b in EVAL_BATCHES]
    rows += [{"part": "forgotten eval()", "setting": "train mode, all 540 at once",
              "val_accuracy": acc["all"]},
             {"part": "forgotten eval()", "setting": "train mode, class-sorted batches of 16",
              "val_accuracy": acc["sorted16"]}]
    rows += [{"part": "running mean", "setting": f"momentum {m}", "steps_to_5%": reach[m],
              "closed_form_steps": closed_form_steps(m)} for m in reach]
    rows += [{"part": f"after {short_steps} training steps", "setting": f"momentum {k}",
              "val_accuracy": v["eval"], "train_mode_accuracy": v["train_mode"]}
             for k, v in short.items()]
    _figures(ctx, acc, traces, stream_steps)
    ok_reach = all(abs(reach[m] - closed_form_steps(m)) <= 0.2 * closed_form_steps(m) for m in reach)
    checks = [
        Check("train-mode evaluation in batches of 2 loses over 5 points against eval mode",
              acc["2"] < acc["eval"] - 0.05, f"{acc['2']:.3f} vs {acc['eval']:.3f}"),
        Check("train-mode evaluation on class-sorted batches of 16 loses over 5 points",
              acc["sorted16"] < acc["eval"] - 0.05, f"{acc['sorted16']:.3f} vs {acc['eval']:.3f}"),
        Check("train-mode evaluation of all 540 at once stays within 2 points of eval mode",
              abs(acc["all"] - acc["eval"]) <= 0.02, f"{acc['all']:.3f} vs {acc['eval']:.3f}"),
        Check("BatchNorm's running mean is the moving average of the batch means "
              "(momentum 0.1, 0.01; None: cumulative mean), to 1e-4",
              worst_gap < 1e-4, f"largest difference {worst_gap:.1e}"),
        Check("steps to come within 5% of the mean match ⌈ln 0.05 / ln(1 − m)⌉ within 20%",
              ok_reach, ", ".join(f"m {m}: {reach[m]:.0f} vs {closed_form_steps(m)}" for m in reach)),
        Check(f"after {short_steps} steps, momentum 0.01 leaves eval accuracy over 5 points "
              "below momentum 0.1", short["0.01"]["eval"] < short["0.1"]["eval"] - 0.05,
              f"{short['0.01']['eval']:.3f} vs {short['0.1']['eval']:.3f}"),
    ]
    summary = (f"accuracy eval mode {acc['eval']:.3f}; train mode at batch 2 {acc['2']:.3f}, "
               f"class-sorted 16 {acc['sorted16']:.3f}, all at once {acc['all']:.3f}; steps to 5% "
               f"m=0.1 {reach[0.1]:.0f} (closed form {closed_form_steps(0.1)}), m=0.01 "
               f"{reach[0.01]:.0f} ({closed_form_steps(0.01)}); after {short_steps} steps eval "
               f"accuracy m=0.1 {short['0.1']['eval']:.3f}, m=0.01 {short['0.01']['eval']:.3f}")
    notes = ("The inputs are standardized, so the first BatchNorm's true statistics are close "
             "to the initial running ones (mean 0, variance 1): a running average that has "
             "moved only 1 − 0.99^15 ≈ 14% of the way (momentum 0.01) is less wrong here than "
             "it would be on raw inputs, which is why the short-training gap is small.")
    return Outcome(checks, summary, rows, notes=notes)


def _figures(ctx: Context, acc: dict[str, float], traces: dict[str, list[float]], steps: int) -> None:
    fig, axes = figure(ncols=2, width=9.5, height=3.4)
    ax = axes[0]
    xs = [str(b) for b in EVAL_BATCHES] + ["all", "sorted 16"]
    ax.bar(xs, [acc[str(b)] for b in EVAL_BATCHES] + [acc["all"], acc["sorted16"]],
           color="#D55E00", label="train mode (eval() forgotten)")
    ax.axhline(acc["eval"], color="#0072B2", label="eval mode")
    ax.set_xlabel("validation batch")
    ax.set_ylabel("validation accuracy")
    ax.set_ylim(0, 1.3)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.legend(loc="upper left")
    ax = axes[1]
    t = list(range(1, steps + 1))
    for (key, trace), colour in zip(traces.items(), ("#0072B2", "#D55E00", "#009E73"), strict=True):
        ax.plot(t, trace, color=colour, label=f"momentum {key}")
        if key != "None":
            m = float(key)
            ax.plot(t, [STREAM_MEAN * (1 - (1 - m) ** s) for s in t], color=colour,
                    linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("batches seen")
    ax.set_ylabel("running mean")
    ax.set_title("dashed: closed form 2·(1 − (1 − m)^t)")
    ax.legend(loc="lower right")
    ctx.figure(fig, "train_vs_eval", "Left: accuracy when eval() is forgotten, by validation "
                                     "batch; right: BatchNorm's running mean on a stream of "
                                     "N(2, 1) batches against the moving-average closed form")


EXPERIMENT = Experiment(
    name="bn_eval",
    claim="A BatchNorm network evaluated without eval() normalizes with the statistics of each "
          "evaluation batch, which costs accuracy on small or unrepresentative batches; its "
          "running statistics are an exponential moving average whose momentum sets how many "
          "steps they need to settle.",
    reference="Ioffe & Szegedy 2015, Batch Normalization, ICML (Algorithm 2: inference uses "
              "population statistics); Ioffe 2017, Batch Renormalization, NeurIPS (small and "
              "non-i.i.d. minibatches); PyTorch BatchNorm1d documentation (the momentum update)",
    setup="A 64-64-64-10 MLP with BatchNorm1d on the digits, 10 epochs of SGD at batch 64 "
          "(3 when quick); validation accuracy in eval mode and, eval() forgotten, in train "
          "mode on shuffled batches of 2 to 64, on all 540 at once and on class-sorted batches "
          "of 16. A fresh BatchNorm1d fed 600 batches of N(2, 1) with momentum 0.1, 0.01 and "
          "None (cumulative), against the moving-average closed form; and the MLP after only "
          "15 steps with each momentum.",
    measure=_measure,
    order=5,
)
