"""Initialization and depth: how each weight scheme scales activations through 10 layers."""

from __future__ import annotations

import math

import torch
from torch import nn

from torchdoctor import init as td_init
from torchdoctor.lab._experiment import Check, Context, Experiment, Outcome, finite_mean
from torchdoctor.report.charts import figure

#: (label, td.init scheme, std for the fixed-scale schemes, gain nonlinearity).
SCHEMES: tuple[tuple[str, str, float, str], ...] = (
    ("constant 0.01", "constant", 0.01, "linear"),
    ("normal(0.01)", "normal", 0.01, "linear"),
    ("normal(1)", "normal", 1.0, "linear"),
    ("Xavier", "xavier_normal", 0.0, "linear"),  # Glorot & Bengio's form: gain 1
    ("He", "kaiming_normal", 0.0, "relu"),  # He et al.: variance 2 / fan_in
    ("LeCun", "lecun_normal", 0.0, "linear"),
)
ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}
#: The schemes whose histograms are drawn, per activation.
HIST_SCHEMES = {"tanh": ("normal(0.01)", "normal(1)", "Xavier"),
                "relu": ("normal(0.01)", "Xavier", "He")}
DEPTH = 10


def make_net(activation: str, scheme: str, *, width: int, depth: int = DEPTH, std: float = 0.01,
             nonlinearity: str = "linear") -> nn.Sequential:
    """``depth`` × (Linear(width, width) → activation), zero biases, weights by ``td.init``."""
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), ACTIVATIONS[activation]()]
    net = nn.Sequential(*layers)
    return td_init.init_model(net, scheme, std=std, nonlinearity=nonlinearity)


@torch.no_grad()
def layer_outputs(net: nn.Sequential, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Per layer: the pre-activations and the activations, each (batch, width)."""
    pre, post = [], []
    h = x
    for i in range(0, len(net), 2):
        z = net[i](h)
        h = net[i + 1](z)
        pre.append(z)
        post.append(h)
    return pre, post


def activation_stats(activation: str, scheme: str, *, width: int, batch: int, seed: int,
                     std: float = 0.01, nonlinearity: str = "linear") -> dict[str, list[float]]:
    """Per-layer statistics of a freshly initialized net on x ~ N(0, 1) of shape (batch, width).

    Returns lists of length :data:`DEPTH`: ``std`` (activation std), ``pre_second_moment``
    (E[z²] of the pre-activation), ``saturated`` (share of |tanh| > 0.99, NaN for ReLU),
    ``unit_spread`` (mean over samples of the std across units: 0 when all units are equal).
    """
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = make_net(activation, scheme, width=width, std=std, nonlinearity=nonlinearity)
    x = torch.randn(batch, width, generator=g)
    pre, post = layer_outputs(net, x)
    return {
        "std": [float(h.std()) for h in post],
        "pre_second_moment": [float((z * z).mean()) for z in pre],
        "saturated": [float((h.abs() > 0.99).float().mean()) if activation == "tanh" else math.nan
                      for h in post],
        "unit_spread": [float(h.std(dim=1).mean()) for h in post],
        "samples": [h.flatten()[:4000].tolist() for h in post],
    }


def _measure(ctx: Context) -> Outcome:
    width, batch = (256, 256) if ctx.quick else (256, 1000)
    rows: list[dict] = []
    curves: dict[tuple[str, str], list[float]] = {}
    hists: dict[tuple[str, str], list[list[float]]] = {}
    stats: dict[tuple[str, str], dict[str, float]] = {}
    for act in ACTIVATIONS:
        for label, scheme, std, nl in SCHEMES:
            runs = [activation_stats(act, scheme, width=width, batch=batch, seed=s, std=std,
                                     nonlinearity=nl) for s in range(ctx.seeds)]
            per_layer = [finite_mean([r["std"][i] for r in runs]) for i in range(DEPTH)]
            m2 = [finite_mean([r["pre_second_moment"][i] for r in runs]) for i in range(DEPTH)]
            sat = finite_mean([r["saturated"][-1] for r in runs])
            spread = finite_mean([r["unit_spread"][-1] for r in runs])
            curves[(act, label)] = per_layer
            hists[(act, label)] = runs[0]["samples"]
            s = {"std1": per_layer[0], "std10": per_layer[-1], "ratio": per_layer[-1] / per_layer[0],
                 "m2_ratio": m2[-1] / m2[0], "sat10": sat, "spread10": spread}
            stats[(act, label)] = s
            rows.append({"activation": act, "init": label, "std_layer1": s["std1"],
                         "std_layer10": s["std10"], "std_ratio_10_to_1": s["ratio"],
                         "pre_E[z^2]_ratio_10_to_1": s["m2_ratio"],
                         "saturated_layer10": "" if act == "relu" else sat,
                         "unit_spread_layer10": spread})
            ctx.progress(f"{act} {label}")
    _figures(ctx, curves, hists)
    t, r = (lambda k: stats[("tanh", k)]), (lambda k: stats[("relu", k)])
    half = 2.0 ** -(DEPTH - 1)  # Xavier (gain 1) on ReLU halves E[z²] at every layer
    checks = [
        Check("normal(0.01): activation std at layer 10 below 1e-3 (tanh and ReLU)",
              t("normal(0.01)")["std10"] < 1e-3 and r("normal(0.01)")["std10"] < 1e-3,
              f"tanh {t('normal(0.01)')['std10']:.1e}, ReLU {r('normal(0.01)')['std10']:.1e}"),
        Check("normal(1): over half of the tanh units saturated (|a| > 0.99) at layer 10",
              t("normal(1)")["sat10"] > 0.5, f"{t('normal(1)')['sat10']:.0%} saturated"),
        Check("Xavier keeps the tanh activation std within a factor 4 from layer 1 to 10",
              0.25 < t("Xavier")["ratio"] < 4, f"ratio {t('Xavier')['ratio']:.2f}"),
        Check("He keeps the ReLU pre-activation E[z²] within a factor 2 from layer 1 to 10 "
              "(closed form: ratio 1)", 0.5 < r("He")["m2_ratio"] < 2,
              f"ratio {r('He')['m2_ratio']:.2f}"),
        Check("Xavier on ReLU: E[z²] shrinks as the closed form 2^-9 within a factor 2",
              half / 2 < r("Xavier")["m2_ratio"] < half * 2,
              f"ratio {r('Xavier')['m2_ratio']:.2e} vs {half:.2e}"),
        Check("constant init: all units of layer 10 equal (spread across units < 1e-5 of std)",
              all(stats[(a, "constant 0.01")]["spread10"]
                  <= 1e-5 * max(stats[(a, "constant 0.01")]["std10"], 1e-30) for a in ACTIVATIONS),
              ", ".join(f"{a} spread {stats[(a, 'constant 0.01')]['spread10']:.1e}"
                        for a in ACTIVATIONS)),
    ]
    summary = (f"layer-10 std, tanh: normal(0.01) {t('normal(0.01)')['std10']:.0e}, Xavier "
               f"{t('Xavier')['std10']:.2f}, normal(1) {t('normal(1)')['sat10']:.0%} saturated; "
               f"ReLU E[z²] ratio 10/1: He {r('He')['m2_ratio']:.2f}, Xavier "
               f"{r('Xavier')['m2_ratio']:.1e}")
    notes = ("Gaussian inputs, no training: the claim is about the forward pass at "
             "initialization. Xavier is used with gain 1 as in Glorot & Bengio; He with gain √2. "
             "With fan_in = fan_out Xavier and LeCun normal have the same variance 1/width, so "
             "their rows coincide. One random net's E[z²] ratio scatters by a factor ~1.5 "
             "around the closed form at width 256 (the product of 10 random layer gains), so "
             "the full run averages 6 seeds.")
    return Outcome(checks, summary, rows, notes=notes)


def _figures(ctx: Context, curves: dict, hists: dict) -> None:
    fig, axes = figure(ncols=2, width=9, height=3.4)
    for ax, act in zip(axes, ACTIVATIONS, strict=True):
        for label, *_ in SCHEMES:
            ys = [max(v, 1e-30) for v in curves[(act, label)]]
            ax.plot(range(1, DEPTH + 1), ys, marker="o", markersize=3, label=label)
        ax.set_yscale("log")
        ax.set_title(f"{act} net")
        ax.set_xlabel("layer")
        ax.set_ylabel("activation std")
    axes[1].legend(loc="best", fontsize=7)
    ctx.figure(fig, "std", "Activation std per layer of a 10-layer net at initialization "
                           "(log scale), one line per scheme")
    fig, axes = figure(ncols=3, nrows=2, width=9, height=4.6)
    for i, act in enumerate(ACTIVATIONS):
        for j, label in enumerate(HIST_SCHEMES[act]):
            ax = axes[i][j]
            for layer in (1, 5, 10):
                vals = torch.tensor(hists[(act, label)][layer - 1])
                if act == "relu":
                    vals = vals[vals > 0]
                if len(vals) and float(vals.abs().max()) > 0:
                    ax.hist(vals.numpy(), bins=25, histtype="step", density=True, label=f"layer {layer}")
            ax.set_title(f"{act}, {label}", fontsize=8)
            ax.tick_params(labelsize=6)
            ax.set_yticks([])
    axes[0][0].legend(fontsize=6)
    ctx.figure(fig, "histograms", "Activation histograms at layers 1, 5 and 10 (ReLU: the "
                                  "positive part); each panel has its own scale")


EXPERIMENT = Experiment(
    name="init_depth",
    claim="With too small a weight scale the activations of a deep net shrink towards zero "
          "layer after layer, with too large a scale tanh units saturate; Xavier (for tanh) "
          "and He (for ReLU) initialization keep the activation scale through depth.",
    reference="Glorot & Bengio 2010, Understanding the difficulty of training deep feedforward "
              "neural networks, AISTATS (Figure 6: activation histograms per layer); He, Zhang, "
              "Ren & Sun 2015, Delving deep into rectifiers, ICCV (section 2.2, equation 10)",
    setup="A 10-layer MLP (width 256, zero biases) with tanh or ReLU after every layer, "
          "initialized with a constant 0.01, normal(0.01), normal(1), Xavier, He or LeCun "
          "normal weights via torchdoctor.init; 1000 inputs from N(0, 1); we measure the "
          "per-layer activation std, the pre-activation second moment and tanh saturation, "
          "averaged over 6 random nets. Quick run: one net, 256 inputs.",
    measure=_measure,
    default_seeds=6,
    order=1,
)
