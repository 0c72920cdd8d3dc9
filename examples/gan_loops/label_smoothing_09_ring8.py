"""Healthy: the non-saturating GAN on the ring of 8 Gaussians with one-sided label smoothing
(real targets 0.9; Salimans et al. 2016); SGD with momentum for D, Adam for G.

Run: ``python examples/gan_loops/label_smoothing_09_ring8.py``
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

import torchdoctor as td
from torchdoctor.data import load_raw

EXPECTED: set[str] = set()


def main(steps: int = 1500, seed: int = 0) -> td.GanDoctor:
    torch.manual_seed(seed)
    data = torch.tensor(load_raw("ring8", seed=seed).x)
    G = nn.Sequential(nn.Linear(4, 128), nn.Tanh(), nn.Linear(128, 128), nn.Tanh(), nn.Linear(128, 2))
    D = nn.Sequential(nn.Linear(2, 128), nn.Tanh(), nn.Linear(128, 128), nn.Tanh(), nn.Linear(128, 1))
    opt_g = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.SGD(D.parameters(), 0.05, momentum=0.9)
    gd = td.GanDoctor(G, D, opt_g, opt_d, console=False)
    for _ in range(steps):
        real = data[torch.randint(len(data), (128,))]
        fake = G(torch.randn(128, 4))
        lr_, lf = D(real), D(fake.detach())
        loss_d = F.binary_cross_entropy_with_logits(lr_, torch.full_like(lr_, 0.9)) \
            + F.binary_cross_entropy_with_logits(lf, torch.zeros_like(lf))
        opt_d.zero_grad()
        loss_d.backward()
        gd.step_d(loss_d, real_scores=lr_, fake_scores=lf, real=real, fake=fake)
        opt_d.step()
        lg = D(fake)
        loss_g = F.binary_cross_entropy_with_logits(lg, torch.ones_like(lg))
        opt_g.zero_grad()
        loss_g.backward()
        gd.step_g(loss_g, fake_scores=lg)
        opt_g.step()
    gd.close()
    return gd


if __name__ == "__main__":
    for f in main().findings:
        print(f.severity, f.code, f.layer or "", f.message)
