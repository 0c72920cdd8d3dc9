"""Healthy: multi-label tagging with ``BCEWithLogitsLoss`` on multi-hot targets, dict output.

Each of 1500 samples (20 Gaussian features) carries any of 6 tags; tag k is on when a fixed
random projection of the features exceeds a threshold, so a sample has 0 to 6 tags at once
(multi-hot targets, not one class). The model returns ``{"logits": ..., "features": ...}``,
handed to the doctor as it is. Adam.

Run: ``python examples/healthy/multilabel_dict_output.py``
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED: set[str] = set()  # healthy: no finding of severity warning or above


def make_data(n: int = 1500, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 20, generator=g)
    W = torch.randn(20, 6, generator=g)
    Y = (X @ W + 0.3 * torch.randn(n, 6, generator=g) > 0.5).float()  # multi-hot (N, 6)
    return X, Y


class Tagger(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
        self.head = nn.Linear(64, 6)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.body(x)
        return {"logits": self.head(h), "features": h}


def main(epochs: int | None = None) -> td.Doctor:
    torch.manual_seed(0)
    X, Y = make_data()
    loader = DataLoader(TensorDataset(X[300:], Y[300:]), batch_size=64, shuffle=True)
    model = Tagger()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(epochs or 8):
            model.train()
            for x, yb in loader:
                out = model(x)
                loss = loss_fn(out["logits"], yb)
                optimizer.zero_grad()
                loss.backward()
                doctor.step(loss, inputs=x, targets=yb, outputs=out)
                optimizer.step()
            model.eval()
            with torch.no_grad():
                logits = model(X[:300])["logits"]
                val_loss = loss_fn(logits, Y[:300]).item()
                val_acc = ((logits > 0).float() == Y[:300]).float().mean().item()  # per tag
            doctor.observe(val_loss=val_loss, val_accuracy=val_acc)
    return doctor


if __name__ == "__main__":
    for f in main().findings:
        print(f"{f.severity:8} {f.code:24} {f.layer or '-':16} {f.message}")
