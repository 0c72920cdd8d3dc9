"""Healthy: the non-saturating GAN on the 5x5 grid with an exponential moving average of the
generator's weights (decay 0.999) and evaluation samples drawn from the EMA copy under
``torch.no_grad`` every 100 steps.

Run: ``python examples/gan_loops/ema_g_no_grad_sampling_grid25.py``
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn import functional as F

import torchdoctor as td
from torchdoctor.data import load_raw

EXPECTED: set[str] = set()


def mlp(n_in: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, 256), nn.LeakyReLU(0.2), nn.Linear(256, 256),
                         nn.LeakyReLU(0.2), nn.Linear(256, n_out))


def main(steps: int = 1200, seed: int = 0) -> td.GanDoctor:
    torch.manual_seed(seed)
    grid = torch.tensor(load_raw("grid25", seed=seed).x)
    G, D = mlp(2, 2), mlp(2, 1)
    G_ema = copy.deepcopy(G).requires_grad_(False)
    opt_g = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.5, 0.999))
    gd = td.GanDoctor(G, D, opt_g, opt_d, console=False)
    spread = []
    for step in range(steps):
        real = grid[torch.randint(len(grid), (128,))]
        fake = G(torch.randn(128, 2))
        d_real, d_fake = D(real), D(fake.detach())
        loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        opt_d.zero_grad()
        loss_d.backward()
        gd.step_d(loss_d, real_scores=d_real, fake_scores=d_fake, real=real, fake=fake)
        opt_d.step()
        d_gen = D(fake)
        loss_g = F.softplus(-d_gen).mean()
        opt_g.zero_grad()
        loss_g.backward()
        gd.step_g(loss_g, fake_scores=d_gen)
        opt_g.step()
        with torch.no_grad():
            for p_ema, p in zip(G_ema.parameters(), G.parameters(), strict=True):
                p_ema.lerp_(p, 0.001)
            if step % 100 == 0:
                spread.append(float(G_ema(torch.randn(512, 2)).std()))
    gd.close()
    return gd


if __name__ == "__main__":
    for f in main().findings:
        print(f.severity, f.code, f.layer or "", f.message)
