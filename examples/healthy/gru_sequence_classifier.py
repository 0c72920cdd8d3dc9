"""Healthy: a GRU classifies noisy sine waves by frequency; the model takes a tuple input.

Each sequence is 24 steps of a 2-channel signal (a sine and its cosine at one of three
frequencies, random phase, noise std 0.3); the label is the frequency. The model's forward
takes ``(x, lengths)`` (variable-length batches, as padded sequence code does) and the loop
hands the doctor that tuple as ``inputs``. Adam at its default rate.

Run: ``python examples/healthy/gru_sequence_classifier.py``
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED: set[str] = set()  # healthy: no finding of severity warning or above


def make_data(n: int = 900, steps: int = 24, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    freq = (0.15 + 0.12 * y.float()).unsqueeze(1)
    phase = 2 * math.pi * torch.rand(n, 1, generator=g)
    t = torch.arange(steps).float().unsqueeze(0)
    x = torch.stack([torch.sin(2 * math.pi * freq * t + phase), torch.cos(2 * math.pi * freq * t + phase)], 2)
    x = x + 0.3 * torch.randn(x.shape, generator=g)
    lengths = torch.randint(steps // 2, steps + 1, (n,), generator=g)
    return x, lengths, y


class GRUClassifier(nn.Module):
    def __init__(self, hidden: int = 32, classes: int = 3) -> None:
        super().__init__()
        self.gru = nn.GRU(2, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, lengths = batch
        seq, _ = self.gru(x)  # (N, T, H); read the state at each sequence's last valid step
        last = seq[torch.arange(x.shape[0]), lengths - 1]
        return self.head(last)


def main(epochs: int | None = None) -> td.Doctor:
    torch.manual_seed(0)
    x, lengths, y = make_data()
    loader = DataLoader(TensorDataset(x[200:], lengths[200:], y[200:]), batch_size=32, shuffle=True)
    model = GRUClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(epochs or 6):
            model.train()
            for xb, lb, yb in loader:
                out = model((xb, lb))
                loss = loss_fn(out, yb)
                optimizer.zero_grad()
                loss.backward()
                doctor.step(loss, inputs=(xb, lb), targets=yb, outputs=out)
                optimizer.step()
            model.eval()
            with torch.no_grad():
                out = model((x[:200], lengths[:200]))
                val_loss = loss_fn(out, y[:200]).item()
                val_acc = (out.argmax(1) == y[:200]).float().mean().item()
            doctor.observe(val_loss=val_loss, val_accuracy=val_acc)
    return doctor


if __name__ == "__main__":
    for f in main().findings:
        print(f"{f.severity:8} {f.code:24} {f.layer or '-':16} {f.message}")
