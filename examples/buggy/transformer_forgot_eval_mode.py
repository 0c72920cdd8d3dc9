"""Bug: the Transformer encoder is validated without ``model.eval()``: dropout stays on.

The keyword-classification Transformer of the healthy gallery (two encoder layers, dropout
0.3, forward returning a dataclass with ``logits``). The validation pass runs under
``torch.no_grad()`` but the model is left in training mode, so dropout keeps dropping during
evaluation and the validation numbers are noisy and pessimistic. UMLAUT's "missing
eval()" check (Schoop et al., CHI 2021).

Run: ``python examples/buggy/transformer_forgot_eval_mode.py``
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED = {"train_mode_in_eval"}


def make_data(n: int = 1200, length: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(4, 20, (n, length), generator=g)
    y = torch.randint(0, 4, (n,), generator=g)
    tokens[torch.arange(n), torch.randint(0, length, (n,), generator=g)] = y
    return tokens, y


@dataclass
class EncoderOutput:
    logits: torch.Tensor
    pooled: torch.Tensor


class Encoder(nn.Module):
    def __init__(self, d: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(20, d)
        layer = nn.TransformerEncoderLayer(d, 4, dim_feedforward=64, dropout=0.3, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(d, 4)

    def forward(self, tokens: torch.Tensor) -> EncoderOutput:
        pooled = self.encoder(self.embed(tokens)).mean(1)
        return EncoderOutput(self.head(pooled), pooled)


def main(epochs: int | None = None) -> td.Doctor:
    torch.manual_seed(0)
    x, y = make_data()
    loader = DataLoader(TensorDataset(x[200:], y[200:]), batch_size=32, shuffle=True)
    model = Encoder()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(epochs or 4):
            model.train()
            for xb, yb in loader:
                out = model(xb)
                loss = loss_fn(out.logits, yb)
                optimizer.zero_grad()
                loss.backward()
                doctor.step(loss, inputs=xb, targets=yb, outputs=out)
                optimizer.step()
            with torch.no_grad():  # BUG: model.eval() is missing
                logits = model(x[:200]).logits
                val_loss = loss_fn(logits, y[:200]).item()
                val_acc = (logits.argmax(1) == y[:200]).float().mean().item()
            doctor.observe(val_loss=val_loss, val_accuracy=val_acc)
    return doctor


if __name__ == "__main__":
    for f in main().findings:
        print(f"{f.severity:8} {f.code:24} {f.layer or '-':16} {f.message}")
