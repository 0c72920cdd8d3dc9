"""Bug: a language model ends in softmax, then ``CrossEntropyLoss`` applies its own.

The LSTM next-token model of the healthy gallery (sequences counting modulo 12 with a
stride of 1 to 3), with ``nn.Softmax(dim=-1)`` after the output layer. The logits are
``(N, T, V)``: each position's row sums to 1, cross-entropy takes a log-softmax of those
probabilities, and the gradients shrink to almost nothing. Cause 7 in ``docs/non-convergence.md``.

Run: ``python examples/buggy/lm_softmax_before_cross_entropy.py``
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED = {"wrong_output_activation"}
VOCAB = 12


def make_data(n: int = 1000, length: int = 17, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    start = torch.randint(0, VOCAB, (n, 1), generator=g)
    stride = torch.randint(1, 4, (n, 1), generator=g)
    seq = (start + stride * torch.arange(length)) % VOCAB
    return seq[:, :-1], seq[:, 1:]


class LSTMLanguageModel(nn.Module):
    def __init__(self, dim: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, dim)
        self.lstm = nn.LSTM(dim, dim, batch_first=True)
        self.out = nn.Linear(dim, VOCAB)
        self.softmax = nn.Softmax(dim=-1)  # BUG: CrossEntropyLoss wants the raw logits

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(self.embed(tokens))
        return self.softmax(self.out(h))  # (N, T, V)


def main(epochs: int | None = None) -> td.Doctor:
    torch.manual_seed(0)
    x, y = make_data()
    loader = DataLoader(TensorDataset(x[200:], y[200:]), batch_size=32, shuffle=True)
    model = LSTMLanguageModel()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(epochs or 4):
            model.train()
            for xb, yb in loader:
                out = model(xb)
                loss = loss_fn(out.transpose(1, 2), yb)  # (N, V, T) against (N, T)
                optimizer.zero_grad()
                loss.backward()
                doctor.step(loss, inputs=xb, targets=yb, outputs=out)
                optimizer.step()
            model.eval()
            with torch.no_grad():
                out = model(x[:200])
                val_loss = loss_fn(out.transpose(1, 2), y[:200]).item()
                val_acc = (out.argmax(-1) == y[:200]).float().mean().item()
            doctor.observe(val_loss=val_loss, val_accuracy=val_acc)
    return doctor


if __name__ == "__main__":
    for f in main().findings:
        print(f"{f.severity:8} {f.code:24} {f.layer or '-':16} {f.message}")
