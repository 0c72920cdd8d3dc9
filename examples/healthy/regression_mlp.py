"""Healthy: regression of a smooth 4-D function with an MLP and MSE loss, Adam.

Targets y = sin(x1) + 0.5 x2^2 - x3 x4 + noise (std 0.1), inputs drawn from N(0, 1) and the
target standardized; no output activation (cause 7 in ``docs/non-convergence.md``: for regression,
no activation on the last layer). MSE is the right loss here, so the doctor must not call it
``wrong_loss``, and must stay silent.

Run: ``python examples/healthy/regression_mlp.py``
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED: set[str] = set()  # healthy: no finding of severity warning or above


def make_data(n: int = 1500, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 4, generator=g)
    y = torch.sin(X[:, 0]) + 0.5 * X[:, 1] ** 2 - X[:, 2] * X[:, 3]
    y = y + 0.1 * torch.randn(n, generator=g)
    return X, ((y - y.mean()) / y.std()).unsqueeze(1)  # targets (N, 1), standardized


def main(epochs: int | None = None) -> td.Doctor:
    torch.manual_seed(0)
    X, y = make_data()
    Xtr, ytr, Xva, yva = X[300:], y[300:], X[:300], y[:300]
    loader = DataLoader(TensorDataset(Xtr, ytr), batch_size=64, shuffle=True)
    model = nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.MSELoss()
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
                val_loss = loss_fn(model(Xva), yva).item()
            doctor.observe(val_loss=val_loss)
    return doctor


if __name__ == "__main__":
    for f in main().findings:
        print(f"{f.severity:8} {f.code:24} {f.layer or '-':16} {f.message}")
