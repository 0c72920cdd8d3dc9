"""Bug: classification trained with ``MSELoss`` on one-hot targets.

MSE on one-hot labels treats classes as regression targets: it spends its effort pulling
every wrong-class output to exactly 0, its gradient shrinks with the error, so training is
slow (79 % validation accuracy after 5 epochs where cross-entropy reaches ~96 %), and the
outputs are not probabilities. Cross-entropy is the loss for class labels ("wrong loss
function" in Humbatova et al., ICSE 2020).

Run: ``python examples/buggy/mse_on_one_hot.py``
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
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10)
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.MSELoss()  # BUG: regression loss on class labels
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(epochs or 5):
            model.train()
            for x, y in loader:
                target = nn.functional.one_hot(y, 10).float()
                out = model(x)
                loss = loss_fn(out, target)
                optimizer.zero_grad()
                loss.backward()
                doctor.step(loss, inputs=x, targets=target, outputs=out)
                optimizer.step()
            model.eval()
            with torch.no_grad():
                out = model(Xva)
                val_loss = loss_fn(out, nn.functional.one_hot(yva, 10).float()).item()
                val_acc = (out.argmax(1) == yva).float().mean().item()
            doctor.observe(val_loss=val_loss, val_accuracy=val_acc)
    return doctor


if __name__ == "__main__":
    for f in main().findings:
        print(f"{f.severity:8} {f.code:24} {f.layer or '-':16} {f.message}")
