"""Bug: the optimizer was built for a model that was then replaced.

The script builds a model and its optimizer, then rebuilds the model (to start "fresh" with
a new seed) without rebuilding the optimizer. The loop trains the new model: its gradients
are computed on every step, but ``optimizer.step()`` updates the old model's parameters, so
the trained model never changes. Public bug studies list optimizers holding the wrong
parameters (Islam et al., FSE 2019; Humbatova et al., ICSE 2020).

Run: ``python examples/buggy/optimizer_built_for_old_model.py``
"""

from __future__ import annotations

import torch
from sklearn.datasets import make_moons
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED = {"no_update"}


def build() -> nn.Module:
    return nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 2))


def main(epochs: int | None = None) -> td.Doctor:
    torch.manual_seed(0)
    X, y = make_moons(1200, noise=0.15, random_state=0)
    X, y = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    loader = DataLoader(TensorDataset(X[200:], y[200:]), batch_size=32, shuffle=True)
    model = build()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    torch.manual_seed(1)
    model = build()  # BUG: a new model; the optimizer still holds the old one's parameters
    loss_fn = nn.CrossEntropyLoss()
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(epochs or 5):
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
                val_acc = (out.argmax(1) == y[:200]).float().mean().item()
            doctor.observe(val_loss=val_loss, val_accuracy=val_acc)
    return doctor


if __name__ == "__main__":
    for f in main().findings:
        print(f"{f.severity:8} {f.code:24} {f.layer or '-':16} {f.message}")
