"""Bug: a ``tanh`` output on a regression whose targets are prices between 0 and 5.

House-price-like targets (in units of 100k, between 0.2 and 5) from 8 standardized
features; the network ends in ``nn.Tanh()`` (meant to "keep the outputs stable"), so it can
never predict above 1 and most targets are out of reach. Cause 7 (the wrong last-layer
activation) in ``docs/non-convergence.md``.

Run: ``python examples/buggy/tanh_on_positive_regression.py``
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED = {"output_range_mismatch"}


def make_data(n: int = 1500, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 8, generator=g)
    score = 0.8 * X[:, 0] + 0.4 * X[:, 1] - 0.3 * X[:, 2] * X[:, 3] + 0.2 * torch.randn(n, generator=g)
    return X, (0.2 + 4.8 * torch.sigmoid(score)).unsqueeze(1)  # prices in (0.2, 5), (N, 1)


def main(epochs: int | None = None) -> td.Doctor:
    torch.manual_seed(0)
    X, y = make_data()
    loader = DataLoader(TensorDataset(X[300:], y[300:]), batch_size=64, shuffle=True)
    model = nn.Sequential(
        nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1),
        nn.Tanh(),  # BUG: outputs in (-1, 1), targets in (0.2, 5)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.MSELoss()
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(epochs or 8):
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
                val_loss = loss_fn(model(X[:300]), y[:300]).item()
            doctor.observe(val_loss=val_loss)
    return doctor


if __name__ == "__main__":
    for f in main().findings:
        print(f"{f.severity:8} {f.code:24} {f.layer or '-':16} {f.message}")
