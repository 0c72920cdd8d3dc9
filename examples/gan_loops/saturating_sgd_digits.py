"""Fault: the saturating generator loss on the 8x8 digits with SGD (momentum 0.9) and a
discriminator given 20x the generator's rate: D wins and G's gradient vanishes.

Run: ``python examples/gan_loops/saturating_sgd_digits.py``
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
    data = data_of("digits", seed)
    G, D = mlp(16, 64), mlp(64, 1, 256)
    opt_g = torch.optim.SGD(G.parameters(), 5e-4, momentum=0.9)
    opt_d = torch.optim.SGD(D.parameters(), 1e-2, momentum=0.9)
    gd = td.GanDoctor(G, D, opt_g, opt_d, console=False)
    for _ in range(steps):
        for _ in range(2):
            real = data[torch.randint(len(data), (128,))]
            fake = G(torch.randn(128, 16)).detach()
            d_real, d_fake = D(real), D(fake)
            loss_d = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) \
                + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
            opt_d.zero_grad()
            loss_d.backward()
            gd.step_d(loss_d, real_scores=d_real, fake_scores=d_fake, real=real, fake=fake)
            opt_d.step()
        d_gen = D(G(torch.randn(128, 16)))
        loss_g = -F.binary_cross_entropy_with_logits(d_gen, torch.zeros_like(d_gen))  # saturating
        opt_g.zero_grad()
        loss_g.backward()
        gd.step_g(loss_g, fake_scores=d_gen)
        opt_g.step()
    gd.close()
    return gd


if __name__ == "__main__":
    for f in main().findings:
        print(f.severity, f.code, f.layer or "", f.message)
