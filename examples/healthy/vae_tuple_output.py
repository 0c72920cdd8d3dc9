"""Healthy: a variational autoencoder on the digit images; forward returns a tuple.

Pixels scaled to [0, 1]; the encoder gives the mean and log-variance of a 4-D code, the
decoder gives reconstruction logits; the loss is binary cross-entropy with logits plus the KL
term (Kingma & Welling 2014). ``forward`` returns ``(recon_logits, mu, logvar)``, the usual
VAE signature, handed to the doctor as it is. Adam.

Run: ``python examples/healthy/vae_tuple_output.py``
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED: set[str] = set()  # healthy: no finding of severity warning or above


class VAE(nn.Module):
    def __init__(self, code: int = 4) -> None:
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(64, 128), nn.ReLU())
        self.mu, self.logvar = nn.Linear(128, code), nn.Linear(128, code)
        self.dec = nn.Sequential(nn.Linear(code, 64), nn.ReLU(), nn.Linear(64, 64))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = self.enc(x)
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z), mu, logvar


def vae_loss(recon: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    rec = F.binary_cross_entropy_with_logits(recon, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return (rec + kl) / x.shape[0]


def main(epochs: int | None = None) -> td.Doctor:
    torch.manual_seed(0)
    X = torch.tensor(load_digits().data, dtype=torch.float32) / 16.0
    Xtr, Xva = X[300:], X[:300]
    loader = DataLoader(TensorDataset(Xtr), batch_size=32, shuffle=True)
    model = VAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    with td.Doctor(model, optimizer) as doctor:
        for _ in range(epochs or 10):
            model.train()
            for (x,) in loader:
                out = model(x)
                loss = vae_loss(*out[:1], x, *out[1:])
                optimizer.zero_grad()
                loss.backward()
                doctor.step(loss, inputs=x, targets=x, outputs=out)
                optimizer.step()
            model.eval()
            with torch.no_grad():
                val_loss = vae_loss(*model(Xva)[:1], Xva, *model(Xva)[1:]).item()
            doctor.observe(val_loss=val_loss)
    return doctor


if __name__ == "__main__":
    for f in main().findings:
        print(f"{f.severity:8} {f.code:24} {f.layer or '-':16} {f.message}")
