"""Healthy: the DCGAN order (Radford et al. 2016) on the 8x8 digits: D's loss in two
backward passes (real, then fake.detach()), then G's loss backpropagates through D (D's
.grad is left for D's next zero_grad); BatchNorm in G; samples drawn under torch.no_grad.

Run: ``python examples/gan_loops/dcgan_order_digits.py``
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F  # noqa: F401

import torchdoctor as td
from torchdoctor.data import load_raw

EXPECTED: set[str] = set()


def mlp(n_in: int, n_out: int, width: int = 128, act: type[nn.Module] = nn.LeakyReLU) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, width), act(), nn.Linear(width, width), act(),
                         nn.Linear(width, n_out))


def data_of(name: str, seed: int) -> torch.Tensor:
    x = torch.tensor(load_raw(name, seed=seed).x)
    x = x.reshape(len(x), -1)
    return x / 8.0 - 1.0 if name == "digits" else x  # digits: 0..16 -> [-1, 1]


def main(steps: int = 1500, seed: int = 0) -> td.GanDoctor:
    torch.manual_seed(seed)
    data = data_of("digits", seed)
    G = nn.Sequential(nn.Linear(32, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, 256),
                      nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, 64), nn.Tanh())
    D = mlp(64, 1, 256)
    opt_g = torch.optim.Adam(G.parameters(), 2e-4 * 2, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    gd = td.GanDoctor(G, D, opt_g, opt_d, console=False)
    for step in range(steps):
        real = data[torch.randint(len(data), (64,))]
        D.zero_grad()
        d_real = D(real)
        F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)).backward()
        fake = G(torch.randn(64, 32))
        d_fake = D(fake.detach())
        F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)).backward()
        loss_d = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) \
            + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
        gd.step_d(loss_d, real_scores=d_real, fake_scores=d_fake, real=real, fake=fake)
        opt_d.step()
        G.zero_grad()
        d_gen = D(fake)
        loss_g = F.binary_cross_entropy_with_logits(d_gen, torch.ones_like(d_gen))
        loss_g.backward()
        gd.step_g(loss_g, fake_scores=d_gen)
        opt_g.step()
        if step % 500 == 499:
            with torch.no_grad():
                G(torch.randn(16, 32))  # samples to look at, in training mode
    gd.close()
    return gd


if __name__ == "__main__":
    for f in main().findings:
        print(f.severity, f.code, f.layer or "", f.message)
