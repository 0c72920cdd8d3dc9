"""Bug: a GRU fed raw sensor readings (pressure in pascals, ~101 000) without normalization.

Each sequence is 24 barometer readings (mean 101 325 Pa, swings of a few hundred Pa whose
frequency is the class) plus their time stamps in seconds; the model takes
``(readings, timestamps)`` as a tuple. Nothing is standardized: the GRU's gates saturate at
once and the model barely learns. Causes 1 and 3 in ``docs/non-convergence.md``
(forgot to normalize / no preprocessing).

Run: ``python examples/buggy/gru_raw_sensor_tuple_input.py``
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED = {"unnormalized_input"}


def make_data(n: int = 900, steps: int = 24, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    freq = (0.1 + 0.1 * y.float()).unsqueeze(1)
    t = torch.arange(steps).float().unsqueeze(0) * 60.0  # one reading a minute
    phase = 2 * math.pi * torch.rand(n, 1, generator=g)
    swing = 300 * torch.sin(2 * math.pi * freq * t / 60.0 + phase)
    pressure = 101325 + swing + 50 * torch.randn(n, steps, generator=g)
    return pressure.unsqueeze(2), t.expand(n, steps).unsqueeze(2), y


class SensorGRU(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(2, 32, batch_first=True)
        self.head = nn.Linear(32, 3)

    def forward(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        readings, stamps = batch
        seq, _ = self.gru(torch.cat([readings, stamps], 2))  # BUG: raw units, no scaling
        return self.head(seq[:, -1])


def main(epochs: int | None = None) -> td.Doctor:
    torch.manual_seed(0)
    p, t, y = make_data()
    loader = DataLoader(TensorDataset(p[200:], t[200:], y[200:]), batch_size=32, shuffle=True)
    model = SensorGRU()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(epochs or 4):
            model.train()
            for pb, tb, yb in loader:
                out = model((pb, tb))
                loss = loss_fn(out, yb)
                optimizer.zero_grad()
                loss.backward()
                doctor.step(loss, inputs=(pb, tb), targets=yb, outputs=out)
                optimizer.step()
            model.eval()
            with torch.no_grad():
                out = model((p[:200], t[:200]))
                val_loss = loss_fn(out, y[:200]).item()
                val_acc = (out.argmax(1) == y[:200]).float().mean().item()
            doctor.observe(val_loss=val_loss, val_accuracy=val_acc)
    return doctor


if __name__ == "__main__":
    for f in main().findings:
        print(f"{f.severity:8} {f.code:24} {f.layer or '-':16} {f.message}")
