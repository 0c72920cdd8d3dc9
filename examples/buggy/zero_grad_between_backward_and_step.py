"""Bug: ``optimizer.zero_grad()`` sits between ``loss.backward()`` and ``optimizer.step()``.

A small CNN on the digit images. The three calls are all there, in the wrong order: the
gradients are computed, then cleared (set to ``None``), then the optimizer steps with nothing
to apply. Adam skips parameters without a gradient, so no weight ever changes. A reordering
slip that public bug studies list among training-loop faults (Humbatova et al., ICSE 2020).

Run: ``python examples/buggy/zero_grad_between_backward_and_step.py``
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED = {"no_update"}


def main(epochs: int | None = None) -> td.Doctor:
    torch.manual_seed(0)
    X, y = load_digits(return_X_y=True)
    X = torch.tensor(X, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0 - 0.5
    y = torch.tensor(y)
    loader = DataLoader(TensorDataset(X[360:], y[360:]), batch_size=64, shuffle=True)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 16, 10),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(epochs or 5):
            model.train()
            for x, yb in loader:
                out = model(x)
                loss = loss_fn(out, yb)
                loss.backward()
                doctor.step(loss, inputs=x, targets=yb, outputs=out)
                optimizer.zero_grad()  # BUG: clears the gradients the next line needs
                optimizer.step()
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
