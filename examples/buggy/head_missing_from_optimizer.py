"""Bug: per-group learning rates, and the head's parameter group was never added.

Fine-tuning style: the body should train at a low rate and the classifier head at a higher
one, so the optimizer gets parameter groups, but only the body's group is there. The head's
weights get gradients on every step and never change: the body has to learn to fit a random
head. Public bug studies list parameters missing from the optimizer
(Islam et al., FSE 2019).

Run: ``python examples/buggy/head_missing_from_optimizer.py``
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED = {"no_update"}


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU())
        self.head = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def main(epochs: int | None = None) -> td.Doctor:
    torch.manual_seed(0)
    X, y = load_digits(return_X_y=True)
    X, y = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    X = (X - X[360:].mean(0)) / (X[360:].std(0) + 1e-6)
    loader = DataLoader(TensorDataset(X[360:], y[360:]), batch_size=64, shuffle=True)
    model = Net()
    groups = [{"params": model.body.parameters(), "lr": 1e-3}]  # BUG: no group for model.head
    optimizer = torch.optim.Adam(groups)
    loss_fn = nn.CrossEntropyLoss()
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(epochs or 6):
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
                out = model(X[:360])
                val_loss = loss_fn(out, y[:360]).item()
                val_acc = (out.argmax(1) == y[:360]).float().mean().item()
            doctor.observe(val_loss=val_loss, val_accuracy=val_acc)
    return doctor


if __name__ == "__main__":
    for f in main().findings:
        print(f"{f.severity:8} {f.code:24} {f.layer or '-':16} {f.message}")
