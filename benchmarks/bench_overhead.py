"""Overhead of the Doctor per training step, measured side by side in one process.

Models: small MLPs (one hidden layer of width 32, 256 and 1024) and a small CNN on sklearn's
digits (64 features or 1x8x8, batch 64), and a small ResNet on random 3x32x32 inputs (batch 32).
The small MLPs are where the doctor's fixed cost per step shows: their step is ~0.1-0.5 ms
on tensor slices, ~1 ms when a shuffling ``DataLoader`` feeds them (``MLP 32 loader``, the way
most loops are written). For each
model, three identical copies train in alternation: without a Doctor, with a Doctor at default
settings, and with a Doctor sampling every probe on every step (``sample_every=1``,
``interval=1``: a flush per step). Each repeat times ``STEPS`` steps of each copy in rotating
order (long enough to hold several sampled steps and flushes); the printed ratios are medians
over repeats of (with / without), with the range of the middle half of the repeats.

Run: ``.venv/bin/python benchmarks/bench_overhead.py [--repeats 15] [--steps 200] [--only mlp]``
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from torch import nn

import torchdoctor as td


def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = torch.tensor(X, dtype=torch.float32)
    return (X - X.mean()) / X.std(), torch.tensor(y)


def digits_mlp(width: int):
    """A one-hidden-layer MLP of ``width`` units on the 64 digits features."""

    def factory() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
        X, y = _digits()
        return nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, 10)), X, y

    return factory


def digits_cnn() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    X, y = _digits()
    X = X.reshape(-1, 1, 8, 8)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 16, 64), nn.ReLU(), nn.Linear(64, 10))
    return model, X, y


class Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu1, self.relu2 = nn.ReLU(), nn.ReLU()
        self.short = (nn.Sequential() if stride == 1 and c_in == c_out else
                      nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        return self.relu2(self.bn2(self.conv2(out)) + self.short(x))


def small_resnet() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
    X = torch.randn(512, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (512,), generator=g)
    return model, X, y


def _batches(X: torch.Tensor, y: torch.Tensor, batch: int, loader: bool):
    """Endless mini-batches: slices of the tensors, or a shuffling DataLoader (as most loops)."""
    if not loader:
        n = len(y) // batch
        i = 0
        while True:
            yield X[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch]
            i = (i + 1) % n
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=batch,
                                       shuffle=True, drop_last=True)
    while True:
        yield from data


def make_runner(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch: int,
                doctor_kw: dict | None, loader: bool = False):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    doctor = td.Doctor(model, opt, console=False, **doctor_kw) if doctor_kw is not None else None
    batches = _batches(X, y, batch, loader)

    def run(steps: int) -> tuple[float, float]:
        t, c = time.perf_counter(), time.process_time()
        for _ in range(steps):
            x, t_ = next(batches)
            out = model(x)
            loss = loss_fn(out, t_)
            opt.zero_grad()
            loss.backward()
            if doctor is not None:
                doctor.step(loss, inputs=x, targets=t_, outputs=out)
            opt.step()
        return time.perf_counter() - t, time.process_time() - c

    return run, doctor


def bench(name: str, factory, batch: int, repeats: int, steps: int, loader: bool = False) -> None:
    torch.manual_seed(0)
    base, X, y = factory()
    configs = {"off": None, "default": {}, "all probes": {"sample_every": 1, "interval": 1}}
    runners = {k: make_runner(copy.deepcopy(base), X, y, batch, kw, loader)
               for k, kw in configs.items()}
    for run, _ in runners.values():  # warm-up (and the doctor's first, always sampled, steps)
        run(steps)
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in configs}
    order = list(configs)
    for r in range(repeats):
        for k in order[r % 3:] + order[:r % 3]:
            times[k].append(runners[k][0](steps))

    def ratio(k: str, clock: int) -> str:
        r = sorted(a[clock] / b[clock] for a, b in zip(times[k], times["off"], strict=True))
        q = len(r) // 4
        return f"{statistics.median(r):.3f}x [{r[q]:.2f}-{r[-1 - q]:.2f}]"

    per_step = statistics.median(t[0] for t in times["off"]) / steps * 1e3
    print(f"{name:15s} step {per_step:6.2f} ms | default {ratio('default', 0)} "
          f"(CPU {ratio('default', 1)}) | all probes every step {ratio('all probes', 0)} "
          f"(CPU {ratio('all probes', 1)})  ({repeats} repeats x {steps} steps)")
    for _, d in runners.values():
        if d is not None:
            d.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--only", choices=["mlp", "cnn", "resnet"], default=None,
                    help="run one family of models only")
    a = ap.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread; ratio = time with Doctor / time without (median)")
    if a.only in (None, "mlp"):
        for width in (32, 256, 1024):
            bench(f"MLP width {width}", digits_mlp(width), 64, a.repeats, a.steps)
        bench("MLP 32 loader", digits_mlp(32), 64, a.repeats, a.steps, loader=True)
    if a.only in (None, "cnn"):
        bench("digits CNN", digits_cnn, 64, a.repeats, a.steps)
    if a.only in (None, "resnet"):
        bench("ResNet 32x32", small_resnet, 32, a.repeats, a.steps)


if __name__ == "__main__":
    main()
