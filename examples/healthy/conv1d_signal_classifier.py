"""Healthy: a 1-D CNN classifies noisy waveforms (sine, square, sawtooth) of random frequency.

Signals of 64 samples, one channel, additive noise std 0.3; two ``Conv1d`` blocks with
BatchNorm, global average pooling, a linear head; Adam. The waveform shape is the class.

Run: ``python examples/healthy/conv1d_signal_classifier.py``
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED: set[str] = set()  # healthy: no finding of severity warning or above


def make_data(n: int = 1200, length: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    freq = 2 + 4 * torch.rand(n, 1, generator=g)
    phase = torch.rand(n, 1, generator=g)
    t = torch.arange(length).float().unsqueeze(0) / length
    cycle = (freq * t + phase) % 1.0
    waves = torch.stack([torch.sin(2 * math.pi * cycle), torch.sign(cycle - 0.5), 2 * cycle - 1])
    x = waves[y, torch.arange(n)] + 0.3 * torch.randn(n, length, generator=g)
    return x.unsqueeze(1), y  # (N, 1, L)


def main(epochs: int | None = None) -> td.Doctor:
    torch.manual_seed(0)
    x, y = make_data()
    loader = DataLoader(TensorDataset(x[200:], y[200:]), batch_size=32, shuffle=True)
    model = nn.Sequential(
        nn.Conv1d(1, 16, 5, padding=2), nn.BatchNorm1d(16), nn.ReLU(),
        nn.Conv1d(16, 32, 5, padding=2), nn.BatchNorm1d(32), nn.ReLU(),
        nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(32, 3),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(epochs or 5):
            model.train()
            for xb, yb in loader:
                out = model(xb)
                loss = loss_fn(out, yb)
                optimizer.zero_grad()
                loss.backward()
                doctor.step(loss, inputs=xb, targets=yb, outputs=out)
                optimizer.step()
            model.eval()
            with torch.no_grad():
                out = model(x[:200])
                val_loss = loss_fn(out, y[:200]).item()
                val_acc = (out.argmax(1) == y[:200]).float().mean().item()
            doctor.observe(val_loss=val_loss, val_accuracy=val_acc)
    return doctor


if __name__ == "__main__":
    for f in main().findings:
        print(f"{f.severity:8} {f.code:24} {f.layer or '-':16} {f.message}")
