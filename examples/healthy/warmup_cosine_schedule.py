"""Healthy: linear warm-up from a rate of 0, then cosine decay, on an MLP for the digits.

``LambdaLR`` scales the rate by ``step / 50`` for the first 50 steps (the very first step
uses a rate of exactly 0, so it changes nothing), then decays it along a cosine to 0 at the
end of training: the Transformer recipe (Vaswani et al. 2017; Loshchilov & Hutter 2017),
stepped after every batch. SGD with momentum.

Run: ``python examples/healthy/warmup_cosine_schedule.py``
"""

from __future__ import annotations

import math

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED: set[str] = set()  # healthy: no finding of severity warning or above
WARMUP = 50


def main(epochs: int | None = None) -> td.Doctor:
    torch.manual_seed(0)
    X, y = load_digits(return_X_y=True)
    X, y = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    X = (X - X[360:].mean(0)) / (X[360:].std(0) + 1e-6)
    loader = DataLoader(TensorDataset(X[360:], y[360:]), batch_size=32, shuffle=True)
    n_epochs = epochs or 5
    total = n_epochs * len(loader)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)

    def factor(step: int) -> float:
        if step < WARMUP:
            return step / WARMUP
        return 0.5 * (1 + math.cos(math.pi * (step - WARMUP) / (total - WARMUP)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    loss_fn = nn.CrossEntropyLoss()
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(n_epochs):
            model.train()
            for x, yb in loader:
                out = model(x)
                loss = loss_fn(out, yb)
                optimizer.zero_grad()
                loss.backward()
                doctor.step(loss, inputs=x, targets=yb, outputs=out)
                optimizer.step()
                scheduler.step()
            model.eval()
            with torch.no_grad():
                out = model(X[:360])
                val_loss = loss_fn(out, y[:360]).item()
                val_acc = (out.argmax(1) == y[:360]).float().mean().item()
            doctor.observe(val_loss=val_loss, val_accuracy=val_acc)
    return doctor


if __name__ == "__main__":
    for f in main().findings:
        print(f"{f.severity:8} {f.code:24} {f.layer or '-':16} {f.message}")
