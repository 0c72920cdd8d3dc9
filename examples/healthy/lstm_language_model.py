"""Healthy: a small LSTM language model; outputs (N, T, V) and targets (N, T).

Each sequence counts modulo 12 with its own stride (1, 2 or 3) from a random start; the
model predicts every next token. The logits have one row per position, ``(N, T, V)``, and the
targets one class per position, ``(N, T)``: the usual language-model shapes, handed to the
doctor as they are (the loss flattens them).

Run: ``python examples/healthy/lstm_language_model.py``
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED: set[str] = set()  # healthy: no finding of severity warning or above
VOCAB = 12


def make_data(n: int = 1000, length: int = 17, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    start = torch.randint(0, VOCAB, (n, 1), generator=g)
    stride = torch.randint(1, 4, (n, 1), generator=g)
    seq = (start + stride * torch.arange(length)) % VOCAB
    return seq[:, :-1], seq[:, 1:]  # inputs and next tokens, (N, T) each


class LSTMLanguageModel(nn.Module):
    def __init__(self, dim: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, dim)
        self.lstm = nn.LSTM(dim, dim, batch_first=True)
        self.out = nn.Linear(dim, VOCAB)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(self.embed(tokens))
        return self.out(h)  # (N, T, V)


def main(epochs: int | None = None) -> td.Doctor:
    torch.manual_seed(0)
    x, y = make_data()
    loader = DataLoader(TensorDataset(x[200:], y[200:]), batch_size=32, shuffle=True)
    model = LSTMLanguageModel()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(epochs or 5):
            model.train()
            for xb, yb in loader:
                out = model(xb)
                loss = loss_fn(out.reshape(-1, VOCAB), yb.reshape(-1))
                optimizer.zero_grad()
                loss.backward()
                doctor.step(loss, inputs=xb, targets=yb, outputs=out)
                optimizer.step()
            model.eval()
            with torch.no_grad():
                out = model(x[:200])
                val_loss = loss_fn(out.reshape(-1, VOCAB), y[:200].reshape(-1)).item()
                val_acc = (out.argmax(-1) == y[:200]).float().mean().item()
            doctor.observe(val_loss=val_loss, val_accuracy=val_acc)
    return doctor


if __name__ == "__main__":
    for f in main().findings:
        print(f"{f.severity:8} {f.code:24} {f.layer or '-':16} {f.message}")
