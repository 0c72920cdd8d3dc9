"""Bug: a binary classifier with 2 % positives, trained with plain ``BCEWithLogitsLoss``.

3000 samples from ``make_classification`` with class weights 98 % / 2 %; one output logit,
float 0/1 targets, no ``pos_weight``, no resampling. The model reaches 98 % accuracy by
answering "negative" and finds few of the positives. Class balancing: He & Garcia (2009);
SageMaker Debugger's ``ClassImbalance`` rule.

Run: ``python examples/buggy/rare_positives_bce.py``
"""

from __future__ import annotations

import torch
from sklearn.datasets import make_classification
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED = {"class_imbalance"}


def main(epochs: int | None = None) -> td.Doctor:
    torch.manual_seed(0)
    X, y = make_classification(3000, n_features=20, n_informative=6, weights=[0.98],
                               flip_y=0.0, random_state=0)
    X, y = torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    loader = DataLoader(TensorDataset(X[500:], y[500:]), batch_size=64, shuffle=True)
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()  # BUG: no pos_weight for 2 % positives
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(epochs or 5):
            model.train()
            for x, yb in loader:
                out = model(x).squeeze(1)  # (N,) logits against (N,) float 0/1 targets
                loss = loss_fn(out, yb)
                optimizer.zero_grad()
                loss.backward()
                doctor.step(loss, inputs=x, targets=yb, outputs=out)
                optimizer.step()
            model.eval()
            with torch.no_grad():
                out = model(X[:500]).squeeze(1)
                val_loss = loss_fn(out, y[:500]).item()
                val_acc = ((out > 0).float() == y[:500]).float().mean().item()
            doctor.observe(val_loss=val_loss, val_accuracy=val_acc)
    return doctor


if __name__ == "__main__":
    for f in main().findings:
        print(f"{f.severity:8} {f.code:24} {f.layer or '-':16} {f.message}")
