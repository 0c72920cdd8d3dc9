"""Healthy: hinge loss (Lim & Ye 2017; Miyato et al. 2018) with a spectrally normalized
discriminator on the 5x5 grid of Gaussians; Adam 2e-4 (0.5, 0.999), 2 D steps per G step.

Run: ``python examples/gan_loops/hinge_sn_grid25.py``
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


def main(steps: int = 1200, seed: int = 0) -> td.GanDoctor:
    torch.manual_seed(seed)
    data = data_of("grid25", seed)
    sn = nn.utils.parametrizations.spectral_norm
    G = mlp(2, 2, 256)
    D = nn.Sequential(sn(nn.Linear(2, 256)), nn.LeakyReLU(0.2), sn(nn.Linear(256, 256)),
                      nn.LeakyReLU(0.2), sn(nn.Linear(256, 1)))
    opt_g = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.5, 0.999))
    gd = td.GanDoctor(G, D, opt_g, opt_d, console=False)
    for _ in range(steps):
        for _ in range(2):
            real = data[torch.randint(len(data), (128,))]
            fake = G(torch.randn(128, 2)).detach()
            d_real, d_fake = D(real), D(fake)
            loss_d = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
            opt_d.zero_grad()
            loss_d.backward()
            gd.step_d(loss_d, real_scores=d_real, fake_scores=d_fake, real=real, fake=fake)
            opt_d.step()
        d_gen = D(G(torch.randn(128, 2)))
        loss_g = -d_gen.mean()
        opt_g.zero_grad()
        loss_g.backward()
        gd.step_g(loss_g, fake_scores=d_gen)
        opt_g.step()
    gd.close()
    return gd


if __name__ == "__main__":
    for f in main().findings:
        print(f.severity, f.code, f.layer or "", f.message)
