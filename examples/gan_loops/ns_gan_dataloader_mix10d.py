"""Healthy: the non-saturating GAN on a 10-D mixture of 5 Gaussians (std 0.5, centres of norm
3), fed by a ``torch.utils.data.DataLoader``; Adam 5e-4 (0.5, 0.999).

Run: ``python examples/gan_loops/ns_gan_dataloader_mix10d.py``
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import torchdoctor as td

EXPECTED: set[str] = set()
DIM, NZ = 10, 10


def mixture10d(n: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed + 1)
    centres = torch.randn(5, DIM, generator=gen)
    centres = 3.0 * centres / centres.norm(dim=1, keepdim=True)
    return centres[torch.randint(5, (n,), generator=gen)] + 0.5 * torch.randn(n, DIM, generator=gen)


def main(steps: int = 1200, seed: int = 0) -> td.GanDoctor:
    torch.manual_seed(seed)
    loader = DataLoader(TensorDataset(mixture10d(6400, seed)), batch_size=128, shuffle=True,
                        drop_last=True)
    G = nn.Sequential(nn.Linear(NZ, 128), nn.LeakyReLU(0.2), nn.Linear(128, 128),
                      nn.LeakyReLU(0.2), nn.Linear(128, DIM))
    D = nn.Sequential(nn.Linear(DIM, 128), nn.LeakyReLU(0.2), nn.Linear(128, 128),
                      nn.LeakyReLU(0.2), nn.Linear(128, 1))
    opt_g = torch.optim.Adam(G.parameters(), 5e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 5e-4, betas=(0.5, 0.999))
    gd = td.GanDoctor(G, D, opt_g, opt_d, console=False)
    step = 0
    while step < steps:
        for (real,) in loader:
            fake = G(torch.randn(len(real), NZ))
            o_r, o_f = D(real), D(fake.detach())
            loss_d = F.softplus(-o_r).mean() + F.softplus(o_f).mean()
            opt_d.zero_grad()
            loss_d.backward()
            gd.step_d(loss_d, real_scores=o_r, fake_scores=o_f, real=real, fake=fake)
            opt_d.step()
            o_g = D(fake)
            loss_g = F.softplus(-o_g).mean()
            opt_g.zero_grad()
            loss_g.backward()
            gd.step_g(loss_g, fake_scores=o_g)
            opt_g.step()
            step += 1
            if step >= steps:
                break
    gd.close()
    return gd


if __name__ == "__main__":
    for f in main().findings:
        print(f.severity, f.code, f.layer or "", f.message)
