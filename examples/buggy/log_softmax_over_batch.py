"""Bug: ``log_softmax`` over dim 0, the batch, before ``NLLLoss``.

The model ends in ``F.log_softmax(logits, dim=0)``: each class column is normalized across
the samples of the batch instead of each sample's row across the classes. The rows are not
log-probabilities, the loss couples unrelated samples, and the model learns far worse than it
should (and predicts differently for the same sample in another batch). Cause 7 (the wrong
last-layer activation) in ``docs/non-convergence.md``.

Run: ``python examples/buggy/log_softmax_over_batch.py``
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED = {"wrong_softmax_dim"}


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(self.net(x), dim=0)  # BUG: dim=1 (the classes) was meant


def main(epochs: int | None = None) -> td.Doctor:
    torch.manual_seed(0)
    X, y = load_digits(return_X_y=True)
    X, y = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    X = (X - X[360:].mean(0)) / (X[360:].std(0) + 1e-6)
    loader = DataLoader(TensorDataset(X[360:], y[360:]), batch_size=64, shuffle=True)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.NLLLoss()
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
