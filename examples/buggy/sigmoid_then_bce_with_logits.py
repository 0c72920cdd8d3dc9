"""Bug: a single-logit binary classifier ends in ``nn.Sigmoid()``, then ``BCEWithLogitsLoss``.

Two moons, one output unit, float 0/1 targets of shape ``(N, 1)``. ``BCEWithLogitsLoss``
applies its own sigmoid, so the model's outputs (already in (0, 1)) are squashed twice:
predictions can only move between sigmoid(0) = 0.5 and sigmoid(1) = 0.73, the loss cannot go
below ~0.5 and the gradients are small. Cause 7 in ``docs/non-convergence.md``.

Run: ``python examples/buggy/sigmoid_then_bce_with_logits.py``
"""

from __future__ import annotations

import torch
from sklearn.datasets import make_moons
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED = {"wrong_output_activation"}


def main(epochs: int | None = None) -> td.Doctor:
    torch.manual_seed(0)
    X, y = make_moons(1200, noise=0.15, random_state=0)
    X, y = torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.float32).unsqueeze(1)
    loader = DataLoader(TensorDataset(X[200:], y[200:]), batch_size=32, shuffle=True)
    model = nn.Sequential(
        nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1),
        nn.Sigmoid(),  # BUG: BCEWithLogitsLoss applies the sigmoid itself
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(epochs or 6):
            model.train()
            for x, yb in loader:
                out = model(x)
                loss = loss_fn(out, yb)
                optimizer.zero_grad()
                loss.backward()
                doctor.step(loss, inputs=x, targets=yb, outputs=out)
                optimizer.step()
            model.eval()
            with torch.no_grad():
                out = model(X[:200])
                val_loss = loss_fn(out, y[:200]).item()
                val_acc = ((out > 0.5).float() == y[:200]).float().mean().item()
            doctor.observe(val_loss=val_loss, val_accuracy=val_acc)
    return doctor


if __name__ == "__main__":
    for f in main().findings:
        print(f"{f.severity:8} {f.code:24} {f.layer or '-':16} {f.message}")
