"""Fault: a sigmoid discriminator trained with BCELoss and the saturating generator loss on the
5x5 grid; D is wide and fast (3 steps, 10x the rate): it wins, G gets no gradient.

Run: ``python examples/gan_loops/saturating_sigmoid_grid25.py``
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F  # noqa: F401

import torchdoctor as td
from torchdoctor.data import load_raw

EXPECTED: set[str] = {"gan_discriminator_wins"}


def mlp(n_in: int, n_out: int, width: int = 128, act: type[nn.Module] = nn.LeakyReLU) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, width), act(), nn.Linear(width, width), act(),
                         nn.Linear(width, n_out))


def data_of(name: str, seed: int) -> torch.Tensor:
    x = torch.tensor(load_raw(name, seed=seed).x)
    x = x.reshape(len(x), -1)
    return x / 8.0 - 1.0 if name == "digits" else x  # digits: 0..16 -> [-1, 1]


def main(steps: int = 500, seed: int = 0) -> td.GanDoctor:
    torch.manual_seed(seed)
    data = data_of("grid25", seed)
    G, D = mlp(2, 2), nn.Sequential(mlp(2, 1, 512), nn.Sigmoid())
    opt_g = torch.optim.Adam(G.parameters(), 0.0001)
    opt_d = torch.optim.Adam(D.parameters(), 0.001)
    gd = td.GanDoctor(G, D, opt_g, opt_d, console=False)
    for _ in range(steps):
        for _ in range(3):
            real = data[torch.randint(len(data), (128,))]
            fake = G(torch.randn(128, 2)).detach()
            d_real, d_fake = D(real), D(fake)
            loss_d = F.binary_cross_entropy(d_real, torch.ones_like(d_real)) \
                + F.binary_cross_entropy(d_fake, torch.zeros_like(d_fake))
            opt_d.zero_grad()
            loss_d.backward()
            gd.step_d(loss_d, real_scores=d_real, fake_scores=d_fake, real=real, fake=fake)
            opt_d.step()
        d_gen = D(G(torch.randn(128, 2)))
        loss_g = -F.binary_cross_entropy(d_gen, torch.zeros_like(d_gen))  # saturating: min log(1 - D)
        opt_g.zero_grad()
        loss_g.backward()
        gd.step_g(loss_g, fake_scores=d_gen)
        opt_g.step()
    gd.close()
    return gd


if __name__ == "__main__":
    for f in main().findings:
        print(f.severity, f.code, f.layer or "", f.message)
