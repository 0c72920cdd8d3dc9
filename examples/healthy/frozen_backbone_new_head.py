"""Healthy: fine-tuning a new head on a frozen backbone.

A backbone (64 -> 128 -> 64, ReLU) is first trained on digits 0-4; then it is frozen
(``requires_grad_(False)``) and a fresh linear head is trained on digits 5-9 with only the
head's parameters in the optimizer: the usual transfer-learning recipe. The doctor watches the
second phase on the whole model.

Run: ``python examples/healthy/frozen_backbone_new_head.py``
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from torch import nn

import torchdoctor as td

EXPECTED: set[str] = set()  # healthy: no finding of severity warning or above


def main(epochs: int | None = None) -> td.Doctor:
    torch.manual_seed(0)
    X, y = load_digits(return_X_y=True)
    X, y = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    X = (X - X.mean(0)) / (X.std(0) + 1e-6)
    old, new = y < 5, y >= 5
    backbone = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU())
    pretrain = nn.Sequential(backbone, nn.Linear(64, 5))
    opt = torch.optim.Adam(pretrain.parameters(), lr=3e-3)
    for _ in range(60):  # "pretraining" on the old task, full batch
        opt.zero_grad()
        nn.functional.cross_entropy(pretrain(X[old]), y[old]).backward()
        opt.step()
    backbone.requires_grad_(False)
    Xn, yn = X[new], y[new] - 5
    Xtr, ytr, Xva, yva = Xn[180:], yn[180:], Xn[:180], yn[:180]
    model = nn.Sequential(backbone, nn.Linear(64, 5))
    optimizer = torch.optim.SGD(model[1].parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(epochs or 8):
            model.train()
            perm = torch.randperm(len(ytr))
            for idx in perm.split(32):
                x, yb = Xtr[idx], ytr[idx]
                out = model(x)
                loss = loss_fn(out, yb)
                optimizer.zero_grad()
                loss.backward()
                doctor.step(loss, inputs=x, targets=yb, outputs=out)
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
