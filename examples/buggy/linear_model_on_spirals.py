"""Bug: a linear classifier on three interleaved spirals.

The classes are not linearly separable; a single ``nn.Linear(2, 3)`` can draw only three
straight boundaries and stays near 50 % training accuracy however long it trains. The model
is too small for the task: under-fitting, cause 11 ("wrong number of
hidden units") in ``docs/non-convergence.md``.

Run: ``python examples/buggy/linear_model_on_spirals.py``
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED = {"underfitting"}


def make_spirals(n_per_class: int = 300, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Three spiral arms in the plane with a little Gaussian noise (CS231n's toy set)."""
    g = torch.Generator().manual_seed(seed)
    r = torch.linspace(0.05, 1.0, n_per_class)
    xs, ys = [], []
    for k in range(3):
        t = torch.linspace(4.0 * k, 4.0 * (k + 1), n_per_class) + 0.2 * torch.randn(n_per_class, generator=g)
        xs.append(torch.stack([r * torch.sin(t), r * torch.cos(t)], 1))
        ys.append(torch.full((n_per_class,), k))
    X, y = torch.cat(xs), torch.cat(ys)
    X = (X - X.mean(0)) / X.std(0)
    perm = torch.randperm(len(y), generator=g)
    return X[perm], y[perm]


def main(epochs: int | None = None) -> td.Doctor:
    torch.manual_seed(0)
    X, y = make_spirals()
    Xtr, ytr, Xva, yva = X[180:], y[180:], X[:180], y[:180]
    loader = DataLoader(TensorDataset(Xtr, ytr), batch_size=32, shuffle=True)
    model = nn.Linear(2, 3)  # BUG: no hidden layer for a non-linear decision boundary
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(epochs or 15):
            model.train()
            for x, y in loader:
                out = model(x)
                loss = loss_fn(out, y)
                optimizer.zero_grad()
                loss.backward()
                doctor.step(loss, inputs=x, targets=y, outputs=out)
                optimizer.step()
            model.eval()
            with torch.no_grad():
                out = model(Xva)
                val_loss = loss_fn(out, yva).item()
                val_acc = (out.argmax(1) == yva).float().mean().item()
            doctor.observe(val_loss=val_loss, val_accuracy=val_acc)
    return doctor


if __name__ == "__main__":
    for f in main().findings:
        print(f"{f.severity:8} {f.code:24} {f.layer or '-':16} {f.message}")
