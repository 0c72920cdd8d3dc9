"""Fault: a 10-D mixture of 5 Gaussians; the "truncation trick" is applied during training
with psi = 0 (``z = psi * randn``), so the generator always sees the zero latent and makes one
sample; non-saturating loss, Adam.

Run: ``python examples/gan_loops/truncation_psi_zero_mix10d.py``
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

import torchdoctor as td

EXPECTED: set[str] = {"gan_mode_collapse"}
DIM, NZ, PSI = 10, 8, 0.0


def mixture10d(n: int, seed: int) -> torch.Tensor:
    """n points of 5 Gaussians (std 0.3) with centres of norm 3 in 10-D: (n, 10)."""
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(5, DIM, generator=gen)
    centres = 3.0 * centres / centres.norm(dim=1, keepdim=True)
    return centres[torch.randint(5, (n,), generator=gen)] + 0.3 * torch.randn(n, DIM, generator=gen)


def main(steps: int = 800, seed: int = 0) -> td.GanDoctor:
    torch.manual_seed(seed)
    data = mixture10d(5000, seed)
    G = nn.Sequential(nn.Linear(NZ, 128), nn.LeakyReLU(0.2), nn.Linear(128, 128),
                      nn.LeakyReLU(0.2), nn.Linear(128, DIM))
    D = nn.Sequential(nn.Linear(DIM, 128), nn.LeakyReLU(0.2), nn.Linear(128, 128),
                      nn.LeakyReLU(0.2), nn.Linear(128, 1))
    opt_g = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.5, 0.999))
    gd = td.GanDoctor(G, D, opt_g, opt_d, console=False)
    for _ in range(steps):
        real = data[torch.randint(len(data), (128,))]
        z = PSI * torch.randn(128, NZ)
        fake = G(z)
        d_r, d_f = D(real), D(fake.detach())
        loss_d = F.softplus(-d_r).mean() + F.softplus(d_f).mean()
        opt_d.zero_grad()
        loss_d.backward()
        gd.step_d(loss_d, real_scores=d_r, fake_scores=d_f, real=real, fake=fake)
        opt_d.step()
        d_g = D(fake)
        loss_g = F.softplus(-d_g).mean()
        opt_g.zero_grad()
        loss_g.backward()
        gd.step_g(loss_g, fake_scores=d_g)
        opt_g.step()
    gd.close()
    return gd


if __name__ == "__main__":
    for f in main().findings:
        print(f.severity, f.code, f.layer or "", f.message)
