"""Healthy: an autoencoder squeezes the 64 digit pixels through an 8-unit bottleneck.

Pixels scaled to [0, 1]; encoder 64 -> 32 -> 8, decoder 8 -> 32 -> 64 with a sigmoid on the
reconstruction, MSE against the input. The 8-unit code is narrower than the 64 outputs on
purpose: that is what an autoencoder is, not a classifier short of units. Adam.

Run: ``python examples/healthy/autoencoder_bottleneck.py``
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED: set[str] = set()  # healthy: no finding of severity warning or above


def main(epochs: int | None = None) -> td.Doctor:
    torch.manual_seed(0)
    X = torch.tensor(load_digits().data, dtype=torch.float32) / 16.0
    Xtr, Xva = X[300:], X[:300]
    loader = DataLoader(TensorDataset(Xtr), batch_size=32, shuffle=True)
    model = nn.Sequential(
        nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 8),  # encoder: the 8-unit code
        nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 64), nn.Sigmoid(),  # decoder
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.MSELoss()
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(epochs or 10):
            model.train()
            for (x,) in loader:
                recon = model(x)
                loss = loss_fn(recon, x)
                optimizer.zero_grad()
                loss.backward()
                doctor.step(loss, inputs=x, targets=x, outputs=recon)
                optimizer.step()
            model.eval()
            with torch.no_grad():
                val_loss = loss_fn(model(Xva), Xva).item()
            doctor.observe(val_loss=val_loss)
    return doctor


if __name__ == "__main__":
    for f in main().findings:
        print(f"{f.severity:8} {f.code:24} {f.layer or '-':16} {f.message}")
