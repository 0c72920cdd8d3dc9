"""Healthy: WGAN-GP (Gulrajani et al. 2017; lambda 10, 5 critic steps, Adam 1e-3 (0.5, 0.9))
on a 3-D mixture of 8 Gaussians at the corners of [-2, 2]^3.

Run: ``python examples/gan_loops/wgan_gp_5_critic_mix3d.py``
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

import torchdoctor as td

EXPECTED: set[str] = set()


def corners3d(n: int, seed: int) -> torch.Tensor:
    """n points of 8 Gaussians (std 0.2) at the corners of [-2, 2]^3: (n, 3)."""
    gen = torch.Generator().manual_seed(seed)
    c = torch.tensor(list(itertools.product([-2.0, 2.0], repeat=3)))
    return c[torch.randint(8, (n,), generator=gen)] + 0.2 * torch.randn(n, 3, generator=gen)


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    eps = torch.rand(len(real), 1)
    x = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return ((grad.norm(2, dim=1) - 1.0) ** 2).mean()


def main(steps: int = 500, seed: int = 0) -> td.GanDoctor:
    torch.manual_seed(seed)
    data = corners3d(4000, seed)
    G = nn.Sequential(nn.Linear(3, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 3))
    C = nn.Sequential(nn.Linear(3, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 1))
    opt_g = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.9))
    opt_c = torch.optim.Adam(C.parameters(), 1e-3, betas=(0.5, 0.9))
    gd = td.GanDoctor(G, C, opt_g, opt_c, console=False)
    for _ in range(steps):
        for _ in range(5):
            real = data[torch.randint(len(data), (128,))]
            fake = G(torch.randn(128, 3)).detach()
            c_real, c_fake = C(real), C(fake)
            loss_c = c_fake.mean() - c_real.mean() + 10.0 * gradient_penalty(C, real, fake)
            opt_c.zero_grad()
            loss_c.backward()
            gd.step_d(loss_c, real_scores=c_real, fake_scores=c_fake, real=real, fake=fake)
            opt_c.step()
        c_gen = C(G(torch.randn(128, 3)))
        loss_g = -c_gen.mean()
        opt_g.zero_grad()
        loss_g.backward()
        gd.step_g(loss_g, fake_scores=c_gen)
        opt_g.step()
    gd.close()
    return gd


if __name__ == "__main__":
    for f in main().findings:
        print(f.severity, f.code, f.layer or "", f.message)
