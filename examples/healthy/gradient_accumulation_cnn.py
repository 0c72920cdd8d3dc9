"""Healthy: a small CNN on the digit images with gradient accumulation over 4 micro-batches.

Micro-batches of 16 images; each loss is divided by 4 and ``optimizer.step()`` /
``zero_grad()`` run every fourth micro-batch (an effective batch of 64, the way large-batch
training fits in memory). The doctor sees every micro-batch; only one in four is followed by
an optimizer step, by design. Adam.

Run: ``python examples/healthy/gradient_accumulation_cnn.py``
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED: set[str] = set()  # healthy: no finding of severity warning or above
ACCUMULATE = 4


def main(epochs: int | None = None) -> td.Doctor:
    torch.manual_seed(0)
    X, y = load_digits(return_X_y=True)
    X = torch.tensor(X, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0 - 0.5
    y = torch.tensor(y)
    loader = DataLoader(TensorDataset(X[360:], y[360:]), batch_size=16, shuffle=True, drop_last=True)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 4, 10),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(epochs or 6):
            model.train()
            optimizer.zero_grad()
            for i, (x, yb) in enumerate(loader):
                out = model(x)
                loss = loss_fn(out, yb) / ACCUMULATE
                loss.backward()
                doctor.step(loss, inputs=x, targets=yb, outputs=out)
                if (i + 1) % ACCUMULATE == 0:
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
