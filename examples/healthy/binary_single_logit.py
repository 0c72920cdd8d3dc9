"""Healthy: binary classification of the breast-cancer data with one logit and BCE.

scikit-learn's breast cancer set (569 samples, 30 features, 37 % / 63 % classes),
standardized; the model ends in one output unit, ``(N, 1)`` logits, trained with
``BCEWithLogitsLoss`` against float 0/1 targets of shape ``(N, 1)``. Adam.

Run: ``python examples/healthy/binary_single_logit.py``
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_breast_cancer
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED: set[str] = set()  # healthy: no finding of severity warning or above


def main(epochs: int | None = None) -> td.Doctor:
    torch.manual_seed(0)
    X, y = load_breast_cancer(return_X_y=True)
    X, y = torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.float32).unsqueeze(1)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    tr, va = perm[120:], perm[:120]
    X = (X - X[tr].mean(0)) / X[tr].std(0)
    loader = DataLoader(TensorDataset(X[tr], y[tr]), batch_size=32, shuffle=True)
    model = nn.Sequential(nn.Linear(30, 32), nn.ReLU(), nn.Linear(32, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(epochs or 10):
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
                out = model(X[va])
                val_loss = loss_fn(out, y[va]).item()
                val_acc = ((out > 0).float() == y[va]).float().mean().item()
            doctor.observe(val_loss=val_loss, val_accuracy=val_acc)
    return doctor


if __name__ == "__main__":
    for f in main().findings:
        print(f"{f.severity:8} {f.code:24} {f.layer or '-':16} {f.message}")
