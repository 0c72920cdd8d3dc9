"""Bug: a 10-layer ReLU MLP initialized with N(0, 0.3^2) weights, no clipping.

He initialization would use std sqrt(2/128) = 0.125; at 0.3 each layer multiplies the signal
by ~2.4 (forward and backward), about 6,000x over ten layers, so the gradient norms of the
early layers are enormous and SGD jumps around or diverges. Cause 9 ("weights not
initialized properly") in ``docs/non-convergence.md``; He et al. (2015) for the right scale.

Run: ``python examples/buggy/exploding_deep_large_init.py``
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED = {"exploding_gradient"}


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
    layers: list[nn.Module] = []
    for i in range(10):
        layers += [nn.Linear(64 if i == 0 else 128, 128), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(128, 10))
    for m in model:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.3)  # BUG: 2.4x He's std: signal grows every layer
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(epochs or 3):
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
