"""Bug: a ``StepLR`` schedule with ``gamma=0.0`` (meant: 0.1): the rate is 0 after one epoch.

A small CNN on the digit images with SGD at 0.05 and ``StepLR(step_size=1, gamma=0.0)``,
stepped once per epoch. After the first epoch every parameter group has a learning rate of
exactly 0: the loop keeps computing gradients and calling ``optimizer.step()``, and nothing
changes for the remaining epochs. A typo in a schedule (Humbatova et al., ICSE 2020, list
wrong learning-rate schedules among training faults).

Run: ``python examples/buggy/step_lr_gamma_zero.py``
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
    X, y = load_digits(return_X_y=True)
    X = torch.tensor(X, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0 - 0.5
    y = torch.tensor(y)
    loader = DataLoader(TensorDataset(X[360:], y[360:]), batch_size=64, shuffle=True)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 16, 10),
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.0)  # BUG: 0.1
    loss_fn = nn.CrossEntropyLoss()
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
            scheduler.step()
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
