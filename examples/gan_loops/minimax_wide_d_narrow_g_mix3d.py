"""Fault: a 3-D mixture of 8 Gaussians (cube corners); the discriminator is 1024 units wide,
the generator 16, D learns 10x faster and G uses the minimax loss: D wins, G starves.

Run: ``python examples/gan_loops/minimax_wide_d_narrow_g_mix3d.py``
"""

from __future__ import annotations

import itertools

import torch
from torch import nn
from torch.nn import functional as F

import torchdoctor as td

EXPECTED: set[str] = {"gan_discriminator_wins"}


def cube_mixture(n: int, seed: int) -> torch.Tensor:
    """n points of 8 Gaussians (std 0.2) at the corners of [-3, 3]^3: (n, 3)."""
    gen = torch.Generator().manual_seed(seed)
    corners = torch.tensor(list(itertools.product([-3.0, 3.0], repeat=3)))
    return corners[torch.randint(8, (n,), generator=gen)] + 0.2 * torch.randn(n, 3, generator=gen)


def main(steps: int = 700, seed: int = 0) -> td.GanDoctor:
    torch.manual_seed(seed)
    data = cube_mixture(4000, seed)
    G = nn.Sequential(nn.Linear(3, 16), nn.ELU(), nn.Linear(16, 16), nn.ELU(), nn.Linear(16, 3))
    D = nn.Sequential(nn.Linear(3, 1024), nn.ELU(), nn.Linear(1024, 1024), nn.ELU(),
                      nn.Linear(1024, 1))
    opt_g = torch.optim.RMSprop(G.parameters(), lr=1e-4)
    opt_d = torch.optim.RMSprop(D.parameters(), lr=1e-3)
    gd = td.GanDoctor(G, D, opt_g, opt_d, console=False)
    for _ in range(steps):
        real = data[torch.randint(len(data), (64,))]
        fake = G(torch.randn(64, 3))
        s_real, s_fake = D(real), D(fake.detach())
        loss_d = F.binary_cross_entropy_with_logits(s_real, torch.ones_like(s_real)) \
            + F.binary_cross_entropy_with_logits(s_fake, torch.zeros_like(s_fake))
        opt_d.zero_grad()
        loss_d.backward()
        gd.step_d(loss_d, real_scores=s_real, fake_scores=s_fake, real=real, fake=fake)
        opt_d.step()
        s_gen = D(fake)
        loss_g = -F.binary_cross_entropy_with_logits(s_gen, torch.zeros_like(s_gen))
        opt_g.zero_grad()
        loss_g.backward()
        gd.step_g(loss_g, fake_scores=s_gen)
        opt_g.step()
    gd.close()
    return gd


if __name__ == "__main__":
    for f in main().findings:
        print(f.severity, f.code, f.layer or "", f.message)
