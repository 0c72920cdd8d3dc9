"""Fault: a 10-D mixture of 6 Gaussians; the discriminator's learning rate is 1e-8 (a typo for
1e-4) while the generator's is 1e-3: D is practically frozen, G outruns it and drifts.

Run: ``python examples/gan_loops/d_lr_typo_1e-8_mix10d.py``
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

import torchdoctor as td

EXPECTED: set[str] = {"gan_discriminator_ineffective"}
DIM = 10


def mixture(n: int, seed: int) -> torch.Tensor:
    """n points of 6 Gaussians (std 0.25), centres uniform in [-2, 2]^10: (n, 10)."""
    gen = torch.Generator().manual_seed(seed)
    centres = 4.0 * torch.rand(6, DIM, generator=gen) - 2.0
    return centres[torch.randint(6, (n,), generator=gen)] + 0.25 * torch.randn(n, DIM, generator=gen)


class MLP(nn.Module):
    def __init__(self, n_in: int, n_out: int, width: int = 128) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, width), nn.GELU(), nn.Linear(width, width), nn.GELU())
        self.head = nn.Linear(width, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def main(steps: int = 900, seed: int = 0) -> td.GanDoctor:
    torch.manual_seed(seed)
    data = mixture(4000, seed)
    G, D = MLP(6, DIM), MLP(DIM, 1)
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-8, betas=(0.5, 0.999))
    gd = td.GanDoctor(G, D, opt_g, opt_d, console=False)
    for _ in range(steps):
        real = data[torch.randint(len(data), (128,))]
        fake = G(torch.randn(128, 6)).detach()
        r, f = D(real), D(fake)
        loss_d = F.binary_cross_entropy_with_logits(r, torch.ones_like(r)) \
            + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))
        opt_d.zero_grad()
        loss_d.backward()
        gd.step_d(loss_d, real_scores=r, fake_scores=f, real=real, fake=fake)
        opt_d.step()
        g = D(G(torch.randn(128, 6)))
        loss_g = F.binary_cross_entropy_with_logits(g, torch.ones_like(g))
        opt_g.zero_grad()
        loss_g.backward()
        gd.step_g(loss_g, fake_scores=g)
        opt_g.step()
    gd.close()
    return gd


if __name__ == "__main__":
    for f in main().findings:
        print(f.severity, f.code, f.layer or "", f.message)
