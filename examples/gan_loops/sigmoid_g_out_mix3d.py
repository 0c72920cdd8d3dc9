"""Fault: the generator's last layer is a sigmoid (outputs in [0, 1]) while the data, a 3-D
mixture of 6 Gaussians on the axes at +-3, lie in [-4, 4]: the samples cannot reach the data
and pile up in one small corner; non-saturating loss.

Run: ``python examples/gan_loops/sigmoid_g_out_mix3d.py``
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

import torchdoctor as td

EXPECTED: set[str] = {"gan_mode_collapse"}


def axes_mixture(n: int, seed: int) -> torch.Tensor:
    """n points of 6 Gaussians (std 0.25) at +-3 on each axis of 3-D space: (n, 3)."""
    gen = torch.Generator().manual_seed(seed)
    centres = torch.cat([3.0 * torch.eye(3), -3.0 * torch.eye(3)])
    return centres[torch.randint(6, (n,), generator=gen)] + 0.25 * torch.randn(n, 3, generator=gen)


def main(steps: int = 800, seed: int = 0) -> td.GanDoctor:
    torch.manual_seed(seed)
    data = axes_mixture(3000, seed)
    G = nn.Sequential(nn.Linear(4, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                      nn.Linear(128, 3), nn.Sigmoid())
    D = nn.Sequential(nn.Linear(3, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 1))
    opt_g = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.5, 0.999))
    gd = td.GanDoctor(G, D, opt_g, opt_d, console=False)
    for _ in range(steps):
        real = data[torch.randint(len(data), (128,))]
        fake = G(torch.randn(128, 4))
        a, b = D(real), D(fake.detach())
        loss_d = F.binary_cross_entropy_with_logits(a, torch.ones_like(a)) \
            + F.binary_cross_entropy_with_logits(b, torch.zeros_like(b))
        opt_d.zero_grad()
        loss_d.backward()
        gd.step_d(loss_d, real_scores=a, fake_scores=b, real=real, fake=fake)
        opt_d.step()
        c = D(fake)
        loss_g = F.binary_cross_entropy_with_logits(c, torch.ones_like(c))
        opt_g.zero_grad()
        loss_g.backward()
        gd.step_g(loss_g, fake_scores=c)
        opt_g.step()
    gd.close()
    return gd


if __name__ == "__main__":
    for f in main().findings:
        print(f.severity, f.code, f.layer or "", f.message)
