"""Bug: every weight initialized to the same constant.

All hidden units of a layer start identical, receive identical gradients and stay
identical forever: a 128-unit layer behaves like a single unit. Constant initialization never
breaks the symmetry (Glorot & Bengio 2010; cause 9 in ``docs/non-convergence.md``).

Run: ``python examples/buggy/constant_init.py``
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED = {"symmetric_weights"}


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
    model = nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10)
    )
    for m in model:
        if isinstance(m, nn.Linear):
            nn.init.constant_(m.weight, 0.01)  # BUG: identical units, symmetry never broken
            nn.init.zeros_(m.bias)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(epochs or 5):
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
