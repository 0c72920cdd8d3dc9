"""Cost of ``Doctor(tensorboard=DIR)`` per training step, measured side by side in one process.

A one-hidden-layer MLP (``--width``, default 64) on sklearn's digits, batch 64. Three identical copies train
in alternation: without a Doctor, with a Doctor at default settings, and with the same Doctor
writing TensorBoard (``tensorboard=DIR``). Each repeat times ``STEPS`` steps of each copy in
rotating order; printed: the medians over repeats of (with / without) and of (with
TensorBoard / with the Doctor alone), with the range of the middle half of the repeats. The
TensorBoard writes happen at the Doctor's flushes (every 50 steps), not inside a step; their
cost is per event (about 60 per flush here: 50 losses and the sampled steps' layer norms),
so its share shrinks as the step grows (compare ``--width 64`` and ``--width 1024``).

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/bench_tensorboard.py [--repeats 9] [--steps 200]
[--width 64]``
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time

import torch
from torch import nn

import torchdoctor as td


def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = torch.tensor(X, dtype=torch.float32)
    return (X - X.mean()) / X.std(), torch.tensor(y)


class _Run:
    """One copy of the model, its optimizer and (optionally) a Doctor; :meth:`steps` trains."""

    def __init__(self, model: nn.Module, doctor_kw: dict | None) -> None:
        self.model = model
        self.opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        self.doctor = td.Doctor(model, self.opt, console=False, **doctor_kw) \
            if doctor_kw is not None else None

    def steps(self, X: torch.Tensor, y: torch.Tensor, n: int, batch: int, gen: torch.Generator) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            idx = torch.randint(0, len(X), (batch,), generator=gen)
            x, t = X[idx], y[idx]
            out = self.model(x)
            loss = nn.functional.cross_entropy(out, t)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            if self.doctor is not None:
                self.doctor.step(loss, inputs=x, targets=t, outputs=out)
            self.opt.step()
        return time.perf_counter() - t0


def _quartiles(xs: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(xs, n=4)
    return q[0], statistics.median(xs), q[2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--width", type=int, default=64)
    args = ap.parse_args()
    torch.manual_seed(0)
    X, y = _digits()
    base = nn.Sequential(nn.Linear(64, args.width), nn.ReLU(), nn.Linear(args.width, 10))
    with tempfile.TemporaryDirectory() as tmp:
        runs = {"plain": _Run(copy.deepcopy(base), None),
                "doctor": _Run(copy.deepcopy(base), {}),
                "tensorboard": _Run(copy.deepcopy(base), {"tensorboard": tmp})}
        gen = torch.Generator().manual_seed(1)
        for r in runs.values():  # warm-up: first steps, imports, the writer's thread
            r.steps(X, y, 20, 64, gen)
        times: dict[str, list[float]] = {k: [] for k in runs}
        order = list(runs)
        for rep in range(args.repeats):
            for k in order[rep % 3:] + order[:rep % 3]:
                times[k].append(runs[k].steps(X, y, args.steps, 64, gen))
        for r in runs.values():
            if r.doctor is not None:
                r.doctor.close()
    doc = [d / p for d, p in zip(times["doctor"], times["plain"], strict=True)]
    tb = [t / p for t, p in zip(times["tensorboard"], times["plain"], strict=True)]
    tb_doc = [t / d for t, d in zip(times["tensorboard"], times["doctor"], strict=True)]
    step_ms = statistics.median(times["plain"]) / args.steps * 1e3
    print(f"digits MLP of width {args.width}, batch 64, {args.steps} steps x {args.repeats} repeats; plain step "
          f"{step_ms:.2f} ms (timings noisy on a shared machine)")
    for name, xs in (("doctor / plain", doc), ("doctor+tensorboard / plain", tb),
                     ("doctor+tensorboard / doctor", tb_doc)):
        lo, med, hi = _quartiles(xs)
        print(f"  {name:28s} {med:.3f}  (middle half {lo:.3f}..{hi:.3f})")


if __name__ == "__main__":
    main()
