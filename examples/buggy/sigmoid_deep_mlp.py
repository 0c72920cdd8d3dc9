"""Bug: a 10-layer MLP with sigmoid activations everywhere.

The sigmoid's derivative is at most 0.25, so the gradient shrinks by that factor (times the
weight scale) at every layer: the first layers barely learn while the last ones do. Cause 10
("too deep a network") in ``docs/non-convergence.md``; the vanishing-gradient
problem AUTOTRAINER (Zhang et al., ICSE 2021) detects.

Run: ``python examples/buggy/sigmoid_deep_mlp.py``
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED = {"vanishing_gradient"}


def load_data(seed: int = 0) -> tuple[torch.Tensor, ...]:
    X, y = load_digits(return_X_y=True)
    X, y = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    tr, va = perm[360:], perm[:360]
    X = (X - X[tr].mean()) / X[tr].std()
    return X[tr], y[tr], X[va], y[va]


def main(epochs: int | None = None) -> td.Doctor:
    torch.manual_seed(0)
    Xtr, ytr, Xva, yva = load_data()
    loader = DataLoader(TensorDataset(Xtr, ytr), batch_size=64, shuffle=True)
    # BUG: ten sigmoid layers: each one multiplies the backward signal by <= 0.25
    layers: list[nn.Module] = [nn.Linear(64, 64), nn.Sigmoid()]
    for _ in range(9):
        layers += [nn.Linear(64, 64), nn.Sigmoid()]
    model = nn.Sequential(*layers, nn.Linear(64, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(epochs or 6):
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
