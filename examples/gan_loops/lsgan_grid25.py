"""Healthy: least-squares GAN (Mao et al. 2017) on the 5x5 grid; RMSprop 5e-4, one D step per G
step, fakes drawn under torch.no_grad for D's step.

Run: ``python examples/gan_loops/lsgan_grid25.py``
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
    data = data_of("grid25", seed)
    G, D = mlp(2, 2, 256), mlp(2, 1, 256)
    opt_g = torch.optim.RMSprop(G.parameters(), 5e-4)
    opt_d = torch.optim.RMSprop(D.parameters(), 5e-4)
    gd = td.GanDoctor(G, D, opt_g, opt_d, console=False)
    for _ in range(steps):
        real = data[torch.randint(len(data), (128,))]
        with torch.no_grad():
            fake = G(torch.randn(128, 2))
        d_real, d_fake = D(real), D(fake)
        loss_d = 0.5 * ((d_real - 1) ** 2).mean() + 0.5 * (d_fake ** 2).mean()
        opt_d.zero_grad()
        loss_d.backward()
        gd.step_d(loss_d, real_scores=d_real, fake_scores=d_fake, real=real, fake=fake)
        opt_d.step()
        d_gen = D(G(torch.randn(128, 2)))
        loss_g = 0.5 * ((d_gen - 1) ** 2).mean()
        opt_g.zero_grad()
        loss_g.backward()
        gd.step_g(loss_g, fake_scores=d_gen)
        opt_g.step()
    gd.close()
    return gd


if __name__ == "__main__":
    for f in main().findings:
        print(f.severity, f.code, f.layer or "", f.message)
