"""Healthy: a small convolutional DCGAN (Radford et al. 2016) on the 8x8 digits, in the DCGAN
order (D on real, D on detached fake, then G's loss through D), BCE on logits, Adam 2e-4.

Run: ``python examples/gan_loops/conv_dcgan_digits.py``
"""

from __future__ import annotations

import torch
from torch import nn

import torchdoctor as td
from torchdoctor.data import load_raw

EXPECTED: set[str] = set()
NZ = 16


def main(steps: int = 500, seed: int = 0) -> td.GanDoctor:
    torch.manual_seed(seed)
    images = torch.tensor(load_raw("digits", seed=seed).x) / 8.0 - 1.0  # (N, 1, 8, 8)
    G = nn.Sequential(nn.Linear(NZ, 32 * 4 * 4), nn.BatchNorm1d(32 * 4 * 4), nn.ReLU(),
                      nn.Unflatten(1, (32, 4, 4)),
                      nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.BatchNorm2d(16), nn.ReLU(),
                      nn.Conv2d(16, 1, 3, 1, 1), nn.Tanh())
    D = nn.Sequential(nn.Conv2d(1, 16, 4, 2, 1), nn.LeakyReLU(0.2),
                      nn.Conv2d(16, 32, 4, 2, 1), nn.LeakyReLU(0.2),
                      nn.Flatten(), nn.Linear(32 * 2 * 2, 1))
    opt_g = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    crit = nn.BCEWithLogitsLoss()
    gd = td.GanDoctor(G, D, opt_g, opt_d, console=False)
    for _ in range(steps):
        real = images[torch.randint(len(images), (64,))]
        D.zero_grad()
        out_r = D(real)
        err_r = crit(out_r, torch.ones_like(out_r))
        err_r.backward()
        fake = G(torch.randn(64, NZ))
        out_f = D(fake.detach())
        err_f = crit(out_f, torch.zeros_like(out_f))
        err_f.backward()
        gd.step_d(err_r + err_f, real_scores=out_r, fake_scores=out_f, real=real, fake=fake)
        opt_d.step()
        G.zero_grad()
        out_g = D(fake)
        err_g = crit(out_g, torch.ones_like(out_g))
        err_g.backward()
        gd.step_g(err_g, fake_scores=out_g)
        opt_g.step()
    gd.close()
    return gd


if __name__ == "__main__":
    for f in main().findings:
        print(f.severity, f.code, f.layer or "", f.message)
