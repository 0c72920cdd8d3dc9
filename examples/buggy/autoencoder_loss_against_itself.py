"""Bug: the autoencoder's loss compares the reconstruction with itself (detached).

Meant: ``loss_fn(recon, x)``. Written: ``loss_fn(recon, recon.detach())``, a slip from code
that detaches teacher outputs. The loss is exactly 0 on every step, every gradient is
exactly 0, Adam applies updates of exactly 0, and the reconstruction never improves, while
the loss curve looks "perfect". Cause 2 (not checking the outputs) in
``docs/non-convergence.md``.

Run: ``python examples/buggy/autoencoder_loss_against_itself.py``
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
    X = torch.tensor(load_digits().data, dtype=torch.float32) / 16.0
    Xtr, Xva = X[300:], X[:300]
    loader = DataLoader(TensorDataset(Xtr), batch_size=32, shuffle=True)
    model = nn.Sequential(
        nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 8),
        nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 64), nn.Sigmoid(),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.MSELoss()
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(epochs or 6):
            model.train()
            for (x,) in loader:
                recon = model(x)
                loss = loss_fn(recon, recon.detach())  # BUG: the target should be x
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
