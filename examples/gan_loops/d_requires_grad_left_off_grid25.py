"""Fault: the discriminator's parameters are frozen (``requires_grad_(False)``) for the
generator's step and never unfrozen; the fakes are not detached, so D's loss still
backpropagates (into G) without error, but D stops learning after its first step.

Run: ``python examples/gan_loops/d_requires_grad_left_off_grid25.py``
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

import torchdoctor as td
from torchdoctor.data import load_raw

EXPECTED: set[str] = {"gan_discriminator_ineffective"}


def main(steps: int = 1000, seed: int = 0) -> td.GanDoctor:
    torch.manual_seed(seed)
    pts = torch.tensor(load_raw("grid25", seed=seed).x)
    G = nn.Sequential(nn.Linear(8, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 2))
    D = nn.Sequential(nn.Linear(2, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 1))
    opt_g = torch.optim.Adam(G.parameters(), 5e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 5e-4, betas=(0.5, 0.999))
    gd = td.GanDoctor(G, D, opt_g, opt_d, console=False)
    for _ in range(steps):
        real = pts[torch.randint(len(pts), (128,))]
        fake = G(torch.randn(128, 8))
        opt_d.zero_grad()
        s_r, s_f = D(real), D(fake)  # fakes not detached
        loss_d = F.softplus(-s_r).mean() + F.softplus(s_f).mean()
        loss_d.backward()
        gd.step_d(loss_d, real_scores=s_r, fake_scores=s_f, real=real, fake=fake)
        opt_d.step()
        D.requires_grad_(False)  # for G's step ... and never set back to True
        opt_g.zero_grad()
        s_g = D(G(torch.randn(128, 8)))
        loss_g = F.softplus(-s_g).mean()
        loss_g.backward()
        gd.step_g(loss_g, fake_scores=s_g)
        opt_g.step()
    gd.close()
    return gd


if __name__ == "__main__":
    for f in main().findings:
        print(f.severity, f.code, f.layer or "", f.message)
