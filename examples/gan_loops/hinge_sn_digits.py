"""Healthy: hinge loss with spectral normalization (Miyato et al. 2018) in the discriminator,
on the 8x8 digits; Adam (0, 0.9), two D steps per G step.

Run: ``python examples/gan_loops/hinge_sn_digits.py``
"""

from __future__ import annotations

import torch
from torch import nn

import torchdoctor as td
from torchdoctor.data import load_raw

EXPECTED: set[str] = set()


def main(steps: int = 500, seed: int = 0) -> td.GanDoctor:
    torch.manual_seed(seed)
    x_all = torch.tensor(load_raw("digits", seed=seed).x).reshape(-1, 64) / 8.0 - 1.0
    sn = nn.utils.parametrizations.spectral_norm
    G = nn.Sequential(nn.Linear(32, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                      nn.Linear(256, 64), nn.Tanh())
    D = nn.Sequential(sn(nn.Linear(64, 256)), nn.LeakyReLU(0.1), sn(nn.Linear(256, 256)),
                      nn.LeakyReLU(0.1), sn(nn.Linear(256, 1)))
    opt_g = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.0, 0.9))
    gd = td.GanDoctor(G, D, opt_g, opt_d, console=False)
    for _ in range(steps):
        for _ in range(2):
            x = x_all[torch.randint(len(x_all), (64,))]
            with torch.no_grad():
                gx = G(torch.randn(64, 32))
            out_x, out_g = D(x), D(gx)
            loss_d = torch.relu(1 - out_x).mean() + torch.relu(1 + out_g).mean()
            opt_d.zero_grad()
            loss_d.backward()
            gd.step_d(loss_d, real_scores=out_x, fake_scores=out_g, real=x, fake=gx)
            opt_d.step()
        s = D(G(torch.randn(64, 32)))
        loss_g = -s.mean()
        opt_g.zero_grad()
        loss_g.backward()
        gd.step_g(loss_g, fake_scores=s)
        opt_g.step()
    gd.close()
    return gd


if __name__ == "__main__":
    for f in main().findings:
        print(f.severity, f.code, f.layer or "", f.message)
