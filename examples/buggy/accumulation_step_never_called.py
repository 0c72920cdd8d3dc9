"""Bug: gradient accumulation over more micro-batches than an epoch has: no step is ever taken.

The loop accumulates 16 micro-batches of 128 digit images before ``optimizer.step()``, with
the counter taken from ``enumerate(loader)``, which restarts every epoch. An epoch has only
12 micro-batches, so ``(i + 1) % 16 == 0`` is never true: the optimizer never steps, the
weights never change, and the loss stays where it started. Public bug studies list
"optimizer step missing" among training-loop faults (Humbatova et al., ICSE 2020).

Run: ``python examples/buggy/accumulation_step_never_called.py``
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED = {"no_update"}
ACCUMULATE = 16


def main(epochs: int | None = None) -> td.Doctor:
    torch.manual_seed(0)
    X, y = load_digits(return_X_y=True)
    X, y = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    X = (X - X[360:].mean(0)) / (X[360:].std(0) + 1e-6)
    loader = DataLoader(TensorDataset(X[360:], y[360:]), batch_size=128, shuffle=True, drop_last=True)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(epochs or 6):
            model.train()
            for i, (x, yb) in enumerate(loader):  # 12 micro-batches per epoch
                out = model(x)
                loss = loss_fn(out, yb) / ACCUMULATE
                loss.backward()
                doctor.step(loss, inputs=x, targets=yb, outputs=out)
                if (i + 1) % ACCUMULATE == 0:  # BUG: i restarts each epoch and never reaches 15
                    optimizer.step()
                    optimizer.zero_grad()
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
