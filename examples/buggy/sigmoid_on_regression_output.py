"""Bug: a sigmoid on the output of a regression whose targets run from 0 to 10.

Ratings between 0 and 10 depend smoothly on 6 features; the model ends in ``nn.Sigmoid()``
(copied from a classifier), so it can never predict above 1, and MSE stays large however long
it trains. Cause 7 in ``docs/non-convergence.md``: for regression, no activation on the
last layer.

Run: ``python examples/buggy/sigmoid_on_regression_output.py``
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED = {"output_range_mismatch"}


def make_data(n: int = 1500, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 6, generator=g)
    score = X[:, 0] + 0.5 * X[:, 1] - 0.5 * X[:, 2] * X[:, 3] + 0.2 * torch.randn(n, generator=g)
    return X, (10 * torch.sigmoid(score)).unsqueeze(1)  # ratings in (0, 10), shape (N, 1)


def main(epochs: int | None = None) -> td.Doctor:
    torch.manual_seed(0)
    X, y = make_data()
    loader = DataLoader(TensorDataset(X[300:], y[300:]), batch_size=64, shuffle=True)
    model = nn.Sequential(
        nn.Linear(6, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1),
        nn.Sigmoid(),  # BUG: outputs in (0, 1), targets in (0, 10)
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
