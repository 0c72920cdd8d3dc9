"""Healthy: a small Transformer encoder whose forward returns a dataclass with ``logits``.

Sequences of 16 tokens from a vocabulary of 20 hold exactly one of four "keyword" tokens
among random filler; the class is which keyword. Two encoder layers (d_model 32, 4 heads),
mean pooling, a linear head. Like many libraries' models, forward returns an output object
(``logits`` and the pooled features), handed to the doctor as it is. AdamW.

Run: ``python examples/healthy/transformer_encoder_dataclass_output.py``
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED: set[str] = set()  # healthy: no finding of severity warning or above


def make_data(n: int = 1200, length: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(4, 20, (n, length), generator=g)  # filler tokens 4..19
    y = torch.randint(0, 4, (n,), generator=g)  # keyword tokens 0..3
    where = torch.randint(0, length, (n,), generator=g)
    tokens[torch.arange(n), where] = y
    return tokens, y


@dataclass
class EncoderOutput:
    logits: torch.Tensor  # (N, classes)
    pooled: torch.Tensor  # (N, d_model)


class Encoder(nn.Module):
    def __init__(self, d: int = 32, classes: int = 4) -> None:
        super().__init__()
        self.embed = nn.Embedding(20, d)
        self.pos = nn.Parameter(0.02 * torch.randn(16, d))
        layer = nn.TransformerEncoderLayer(d, 4, dim_feedforward=64, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(d, classes)

    def forward(self, tokens: torch.Tensor) -> EncoderOutput:
        pooled = self.encoder(self.embed(tokens) + self.pos).mean(1)
        return EncoderOutput(logits=self.head(pooled), pooled=pooled)


def main(epochs: int | None = None) -> td.Doctor:
    torch.manual_seed(0)
    x, y = make_data()
    loader = DataLoader(TensorDataset(x[200:], y[200:]), batch_size=32, shuffle=True)
    model = Encoder()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(epochs or 5):
            model.train()
            for xb, yb in loader:
                out = model(xb)
                loss = loss_fn(out.logits, yb)
                optimizer.zero_grad()
                loss.backward()
                doctor.step(loss, inputs=xb, targets=yb, outputs=out)
                optimizer.step()
            model.eval()
            with torch.no_grad():
                logits = model(x[:200]).logits
                val_loss = loss_fn(logits, y[:200]).item()
                val_acc = (logits.argmax(1) == y[:200]).float().mean().item()
            doctor.observe(val_loss=val_loss, val_accuracy=val_acc)
    return doctor


if __name__ == "__main__":
    for f in main().findings:
        print(f"{f.severity:8} {f.code:24} {f.layer or '-':16} {f.message}")
