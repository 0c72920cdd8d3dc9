"""Bug: digit classification trained as regression of the class index with ``MSELoss``.

One output, trained to hit the number 0..9: the loss claims that mistaking a 3 for a 4 is
nine times less wrong than mistaking it for a 0, and rounding the output gives poor
accuracy. Class labels need one logit per class and cross-entropy ("wrong loss
function" and "wrong output shape" in Humbatova et al., ICSE 2020).

Run: ``python examples/buggy/mse_on_class_index.py``
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED = {"wrong_loss"}


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
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 1)
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.MSELoss()  # BUG: class index regressed as a number
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(epochs or 5):
            model.train()
            for x, y in loader:
                out = model(x).squeeze(1)
                loss = loss_fn(out, y.float())
                optimizer.zero_grad()
                loss.backward()
                doctor.step(loss, inputs=x, targets=y, outputs=out)
                optimizer.step()
            model.eval()
            with torch.no_grad():
                out = model(Xva).squeeze(1)
                val_loss = loss_fn(out, yva.float()).item()
                val_acc = (out.round().clamp(0, 9) == yva).float().mean().item()
            doctor.observe(val_loss=val_loss, val_accuracy=val_acc)
    return doctor


if __name__ == "__main__":
    for f in main().findings:
        print(f"{f.severity:8} {f.code:24} {f.layer or '-':16} {f.message}")
