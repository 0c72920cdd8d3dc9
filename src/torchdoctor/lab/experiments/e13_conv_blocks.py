"""Convolution building blocks: dilated receptive fields and gridding, separable, 1x1 and
bottleneck convolutions, and add against concat fusion."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from torchdoctor import nn as td_nn
from torchdoctor import ops as td_ops
from torchdoctor.lab._common import accuracy
from torchdoctor.lab._experiment import Check, Context, Experiment, Outcome, finite_mean
from torchdoctor.lab.experiments._c_common import cached_dataset, fit_indexed, seconds_per_call
from torchdoctor.report.charts import figure

#: three 3x3 layers per stack: dense, Yu & Koltun's exponential rates, equal rates (gridding),
#: Wang et al.'s hybrid dilated convolution (HDC)
DILATION_STACKS: dict[str, tuple[int, ...]] = {
    "dense 1,1,1": (1, 1, 1), "exponential 1,2,4": (1, 2, 4),
    "equal 2,2,2": (2, 2, 2), "HDC 1,2,3": (1, 2, 3),
}
WIDTH, LR, BATCH = 16, 3e-3, 64
BLOCKS = ("full 3x3", "separable 3x3", "bottleneck 1x1-3x3-1x1", "add fusion", "concat fusion")


def dilated_stack(dilations: tuple[int, ...], *, ones: bool = False) -> nn.Sequential:
    """Single-channel 3x3 convolutions at ``dilations`` ("same" padding, no bias, linear).

    ``ones``: every weight 1, so the input gradient of an output counts the paths to it.
    """
    layers = [nn.Conv2d(1, 1, 3, padding=d, dilation=d, bias=False) for d in dilations]
    if ones:
        with torch.no_grad():
            for layer in layers:
                layer.weight.fill_(1.0)
    return nn.Sequential(*layers)


def path_count_map(model: nn.Module, size: int) -> np.ndarray:
    """Input gradient (size, size) of the centre output of a single-channel ``model``."""
    x = torch.zeros(1, 1, size, size, requires_grad=True)
    out = model(x)
    c = size // 2
    (g,) = torch.autograd.grad(out[0, 0, c, c], x)
    return g[0, 0].detach().numpy()


def field_coverage(grad_map: np.ndarray) -> float:
    """Share of the pixels inside the bounding box of the non-zero gradient that are non-zero."""
    nz = np.argwhere(grad_map != 0)
    (r0, c0), (r1, c1) = nz.min(0), nz.max(0)
    box = grad_map[r0:r1 + 1, c0:c1 + 1]
    return float((box != 0).mean())


class _Fusion(nn.Module):
    """Two branches on the same map (3x3, and 3x3 at dilation 2) fused by ``add`` or ``concat``,
    then a 3x3 convolution back to ``width`` channels: [N, C, H, W] → [N, width, H, W]."""

    def __init__(self, width: int, mode: str) -> None:
        super().__init__()
        self.mode = mode
        self.a = nn.Conv2d(width, width, 3, padding=1)
        self.b = nn.Conv2d(width, width, 3, padding=2, dilation=2)
        self.after = nn.Conv2d(width * (2 if mode == "concat" else 1), width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = F.relu(self.a(x)), F.relu(self.b(x))
        return self.after(torch.cat([a, b], 1) if self.mode == "concat" else a + b)


def block(kind: str, width: int = WIDTH) -> nn.Module:
    """The block between the stem and the head: [N, width, H, W] → [N, width, H, W]."""
    if kind == "full 3x3":
        return nn.Conv2d(width, width, 3, padding=1)
    if kind == "separable 3x3":
        return td_nn.SeparableConv2d(width, width, 3, padding=1)
    if kind == "bottleneck 1x1-3x3-1x1":
        mid = width // 4
        return nn.Sequential(nn.Conv2d(width, mid, 1), nn.ReLU(), nn.Conv2d(mid, mid, 3, padding=1),
                             nn.ReLU(), nn.Conv2d(mid, width, 1))
    if kind in ("add fusion", "concat fusion"):
        return _Fusion(width, kind.split()[0])
    raise ValueError(f"block kind {kind!r}: allowed {', '.join(BLOCKS)}")


def cnn(kind: str, width: int = WIDTH, classes: int = 10) -> nn.Sequential:
    """Stem 3x3 conv (1 → width), ReLU, ``block(kind)``, ReLU, 2x2 max pool, linear.

    Input [N, 1, 8, 8] (the digits) → logits [N, classes].
    """
    return nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), block(kind, width), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(width * 16, classes))


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _dilation_part() -> tuple[list[dict], dict[str, np.ndarray], dict[str, float]]:
    rows, maps, coverage = [], {}, {}
    size = 33
    for name, dil in DILATION_STACKS.items():
        model = dilated_stack(dil)
        analytic = td_ops.receptive_field(model, (1, 1, size, size))[-1].size[0]
        empirical = td_ops.empirical_receptive_field(model, (1, 1, size, size))[0]
        grad = path_count_map(dilated_stack(dil, ones=True), size)
        maps[name] = grad
        rows.append({"part": "dilation", "setting": name, "closed_form_rf": 1 + 2 * sum(dil),
                     "analytic_rf": analytic, "empirical_rf": empirical,
                     "coverage": round(field_coverage(grad), 4)})
        coverage[name] = field_coverage(grad)
    return rows, maps, coverage


def _train_blocks(ctx: Context, epochs: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, list[float]]] = {k: {} for k in BLOCKS}
    for seed in range(ctx.seeds):
        data = cached_dataset("digits", seed, image=True)
        y = data.y_train
        for kind in BLOCKS:
            torch.manual_seed(seed)
            model = cnn(kind)
            fit_indexed(model, data.x_train, lambda o, i, y=y: F.cross_entropy(o, y[i]), epochs=epochs,
                        batch_size=BATCH, lr=LR, seed=seed)
            out[kind].setdefault("accuracy", []).append(accuracy(model, data.x_val, data.y_val))
        ctx.progress(f"blocks seed {seed}")
    x = torch.randn(BATCH, WIDTH, 8, 8, generator=torch.Generator().manual_seed(0))
    res: dict[str, dict[str, float]] = {}
    for kind in BLOCKS:
        b = block(kind)

        def step(b: nn.Module = b) -> None:
            b.zero_grad(set_to_none=True)
            b(x).square().mean().backward()
        res[kind] = {"accuracy": finite_mean(out[kind]["accuracy"]), "block_params": n_params(b),
                     "cpu_ms_per_step": 1000 * seconds_per_call(step, repeats=3 if ctx.quick else 5)}
    return res


def _measure(ctx: Context) -> Outcome:
    dil_rows, maps, coverage = _dilation_part()
    ctx.progress("dilation")
    full_small = n_params(nn.Conv2d(3, 4, 3, bias=False))
    sep_small = n_params(td_nn.SeparableConv2d(3, 4, 3, bias=False))
    res = _train_blocks(ctx, 6 if ctx.quick else 12)
    conv1 = nn.Conv2d(WIDTH, 8, 1)
    lin = nn.Linear(WIDTH, 8)
    with torch.no_grad():
        lin.weight.copy_(conv1.weight[:, :, 0, 0])
        lin.bias.copy_(conv1.bias)
        probe = torch.randn(2, WIDTH, 5, 5, generator=torch.Generator().manual_seed(1))
        per_pixel = lin(probe.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        one_by_one_gap = float((conv1(probe) - per_pixel).abs().max())

    fig, axes = figure(ncols=len(maps), width=2.3 * len(maps), height=2.6)
    for ax, (name, grad) in zip(axes, maps.items(), strict=True):
        c = grad.shape[0] // 2
        crop = grad[c - 8:c + 9, c - 8:c + 9]
        ax.imshow(np.log1p(crop), cmap="magma")
        ax.set_title(name, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    ctx.figure(fig, "dilation_maps",
               "Input pixels that reach the centre output of three stacked 3x3 convolutions "
               "(brightness: log number of paths); rates 2,2,2 leave a grid of holes")
    fig, (ax1, ax2) = figure(ncols=2, width=9, height=3.2)
    params = [res[k]["block_params"] for k in BLOCKS]
    accs = [res[k]["accuracy"] for k in BLOCKS]
    for k, p, a in zip(BLOCKS, params, accs, strict=True):
        ax1.scatter(p, a, s=30)
        ax1.annotate(k, (p, a), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax1.set_xscale("log")
    ax1.set_xlabel("parameters of the block")
    ax1.set_ylabel("validation accuracy (digits)")
    ax2.barh(range(len(BLOCKS)), [res[k]["cpu_ms_per_step"] for k in BLOCKS])
    ax2.set_yticks(range(len(BLOCKS)), BLOCKS, fontsize=7)
    ax2.set_xlabel(f"CPU ms per step of the block (batch {BATCH}; noisy)")
    ctx.figure(fig, "blocks", "Accuracy against parameters, and time per step, of each block")

    rows = dil_rows + [{"part": "block", "setting": k, "block_params": res[k]["block_params"],
                        "val_accuracy": round(res[k]["accuracy"], 4),
                        "cpu_ms_per_step": round(res[k]["cpu_ms_per_step"], 3)} for k in BLOCKS]
    rows.append({"part": "separable 3->4, 3x3, no bias", "setting": "parameters",
                 "block_params": f"full {full_small}, separable {sep_small}"})
    by = {r["setting"]: r for r in dil_rows}
    rf_ok = all(r["closed_form_rf"] == r["analytic_rf"] == r["empirical_rf"] for r in dil_rows)
    full, sep, bott = (res[k] for k in BLOCKS[:3])
    add, cat = res["add fusion"], res["concat fusion"]
    checks = [
        Check("receptive field of stacked 3x3 layers = 1 + 2·Σ rates (analytic and by gradient); "
              "rates 1,2,4 see 15 pixels where 1,1,1 see 7",
              rf_ok and by["exponential 1,2,4"]["analytic_rf"] == 15
              and by["dense 1,1,1"]["analytic_rf"] == 7,
              ", ".join(f"{r['setting']}: {r['analytic_rf']}/{r['empirical_rf']}" for r in dil_rows)),
        Check("gridding: rates 2,2,2 reach only the even offsets of their 13x13 field (49/169); "
              "1,2,3 (HDC) and 1,2,4 all of it",
              abs(coverage["equal 2,2,2"] - 49 / 169) < 1e-9 and coverage["HDC 1,2,3"] == 1.0
              and coverage["exponential 1,2,4"] == 1.0,
              ", ".join(f"{k}: {v:.3f}" for k, v in coverage.items())),
        Check("separable 3x3, 3 -> 4 channels, no bias: 39 parameters against 108",
              (full_small, sep_small) == (108, 39), f"{sep_small} vs {full_small}"),
        Check("separable block within 0.03 accuracy of the full 3x3 block",
              sep["accuracy"] >= full["accuracy"] - 0.03,
              f"{sep['accuracy']:.4f} vs {full['accuracy']:.4f} with {sep['block_params']} vs "
              f"{full['block_params']} parameters"),
        Check("a 1x1 convolution is a per-pixel linear layer (max difference < 1e-5), and the "
              "1x1 bottleneck keeps accuracy within 0.03 of the full 3x3 block",
              one_by_one_gap < 1e-5 and bott["accuracy"] >= full["accuracy"] - 0.03,
              f"difference {one_by_one_gap:.1e}; {bott['accuracy']:.4f} vs {full['accuracy']:.4f} "
              f"with {bott['block_params']} parameters"),
        Check("add fusion within 0.03 accuracy of concat fusion with fewer parameters",
              add["accuracy"] >= cat["accuracy"] - 0.03 and add["block_params"] < cat["block_params"],
              f"{add['accuracy']:.4f} vs {cat['accuracy']:.4f}, {add['block_params']} vs "
              f"{cat['block_params']} parameters"),
    ]
    summary = (f"RF 1,2,4: {by['exponential 1,2,4']['analytic_rf']} px, 2,2,2 covers "
               f"{by['equal 2,2,2']['coverage']:.2f} of its field; separable {sep_small} vs "
               f"{full_small} params, accuracy {sep['accuracy']:.3f} vs {full['accuracy']:.3f} "
               f"(block {sep['cpu_ms_per_step']:.2f} vs {full['cpu_ms_per_step']:.2f} ms); bottleneck "
               f"{bott['accuracy']:.3f}; add {add['accuracy']:.3f} vs concat {cat['accuracy']:.3f}")
    notes = ("The digits are 8x8 images, so the trained blocks are tiny and their timings are "
             "dominated by per-call overhead: a separable convolution saves multiply-adds but "
             "need not be faster on a CPU at this size. Timings are medians of CPU time, noisy "
             "on a shared machine; no check depends on them.")
    return Outcome(checks, summary, rows, notes=notes)


EXPERIMENT = Experiment(
    name="conv_blocks",
    claim="Dilated 3x3 stacks grow the receptive field exponentially with the rates, but equal "
          "rates leave a gridding pattern of unseen pixels that mixed rates avoid; depthwise "
          "separable and 1x1 bottleneck blocks keep most of a full convolution's accuracy "
          "with a fraction of its parameters, and adding two feature maps fuses them about as "
          "well as concatenating them.",
    reference="Yu & Koltun 2016, Multi-Scale Context Aggregation by Dilated Convolutions, ICLR "
              "(receptive field of the context module); Wang et al. 2018, Understanding "
              "Convolution for Semantic Segmentation, WACV (gridding, hybrid dilated "
              "convolution, Fig. 2); Howard et al. 2017, MobileNets, arXiv:1704.04861 (Table 4: "
              "separable vs full convolutions); Lin, Chen & Yan 2014, Network in Network, ICLR "
              "(1x1 convolutions); He et al. 2016, Deep Residual Learning, CVPR (bottleneck, "
              "additive shortcuts); Huang et al. 2017, Densely Connected Convolutional "
              "Networks, CVPR (concatenation)",
    setup="Three single-channel 3x3 convolutions at rates 1,1,1 / 1,2,4 / 2,2,2 / 1,2,3: "
          "receptive field by td.ops.receptive_field, by td.ops.empirical_receptive_field and "
          "the input-gradient map of the centre output. A CNN on the 8x8 digits (stem 3x3 "
          f"conv to {WIDTH} channels, one block, 2x2 max pool, linear), Adam {LR:g}, with "
          "the block a full 3x3 conv, a td.nn.SeparableConv2d, a 1x1-3x3-1x1 bottleneck, or "
          "two branches (3x3 and dilated 3x3) fused by addition or concatenation.",
    measure=_measure,
    order=13,
)
