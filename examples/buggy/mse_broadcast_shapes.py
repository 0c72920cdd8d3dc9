"""Bug: MSE between ``(N, 1)`` predictions and ``(N,)`` targets: the loss broadcasts to N x N.

A regression of a smooth 5-D function. The targets come as a 1-D vector, the model outputs
one column, and ``nn.MSELoss()(out, y)`` broadcasts ``(N, 1) - (N,)`` to an ``(N, N)``
matrix: every prediction is compared with every target of the batch, so the model learns to
predict the batch mean. PyTorch only warns. A shape fault from public bug studies
(Islam et al., FSE 2019: "dimension mismatch").

Run: ``python examples/buggy/mse_broadcast_shapes.py``
"""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED = {"loss_shape_mismatch"}


def make_data(n: int = 1500, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 5, generator=g)
    y = X[:, 0] - 0.5 * X[:, 1] * X[:, 2] + torch.sin(2 * X[:, 3]) + 0.1 * torch.randn(n, generator=g)
    return X, (y - y.mean()) / y.std()  # targets (N,)


def main(epochs: int | None = None) -> td.Doctor:
    torch.manual_seed(0)
    warnings.filterwarnings("ignore", message="Using a target size")  # as many users do
    X, y = make_data()
    loader = DataLoader(TensorDataset(X[300:], y[300:]), batch_size=64, shuffle=True)
    model = nn.Sequential(nn.Linear(5, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.MSELoss()
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(epochs or 8):
            model.train()
            for x, yb in loader:
                out = model(x)
                loss = loss_fn(out, yb)  # BUG: (N, 1) against (N,) broadcasts to (N, N)
                optimizer.zero_grad()
                loss.backward()
                doctor.step(loss, inputs=x, targets=yb, outputs=out)
                optimizer.step()
            model.eval()
            with torch.no_grad():
                val_loss = loss_fn(model(X[:300]).squeeze(1), y[:300]).item()
            doctor.observe(val_loss=val_loss)
    return doctor


if __name__ == "__main__":
    for f in main().findings:
        print(f"{f.severity:8} {f.code:24} {f.layer or '-':16} {f.message}")
