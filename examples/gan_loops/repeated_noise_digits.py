"""Fault: on the 8x8 digits, the latent batch is one vector repeated 64 times
(``z.repeat(64, 1)``): every batch is one image; hinge loss, Adam, DCGAN order.

Run: ``python examples/gan_loops/repeated_noise_digits.py``
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F  # noqa: F401

import torchdoctor as td
from torchdoctor.data import load_raw

EXPECTED: set[str] = {"gan_mode_collapse"}


def mlp(n_in: int, n_out: int, width: int = 128, act: type[nn.Module] = nn.LeakyReLU) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, width), act(), nn.Linear(width, width), act(),
                         nn.Linear(width, n_out))


def data_of(name: str, seed: int) -> torch.Tensor:
    x = torch.tensor(load_raw(name, seed=seed).x)
    x = x.reshape(len(x), -1)
    return x / 8.0 - 1.0 if name == "digits" else x  # digits: 0..16 -> [-1, 1]


def main(steps: int = 800, seed: int = 0) -> td.GanDoctor:
    torch.manual_seed(seed)
    data = data_of("digits", seed)
    G = nn.Sequential(mlp(16, 64, 256), nn.Tanh())
    D = mlp(64, 1, 256)
    opt_g = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    gd = td.GanDoctor(G, D, opt_g, opt_d, console=False)
    for _ in range(steps):
        real = data[torch.randint(len(data), (64,))]
        fake = G(torch.randn(1, 16).repeat(64, 1))  # the bug
        d_real, d_fake = D(real), D(fake.detach())
        loss_d = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
        opt_d.zero_grad()
        loss_d.backward()
        gd.step_d(loss_d, real_scores=d_real, fake_scores=d_fake, real=real, fake=fake)
        opt_d.step()
        opt_g.zero_grad()
        d_gen = D(fake)
        loss_g = -d_gen.mean()
        loss_g.backward()
        gd.step_g(loss_g, fake_scores=d_gen)
        opt_g.step()
    gd.close()
    return gd


if __name__ == "__main__":
    for f in main().findings:
        print(f.severity, f.code, f.layer or "", f.message)
