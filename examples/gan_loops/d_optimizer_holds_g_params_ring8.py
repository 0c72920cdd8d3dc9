"""Fault: a typo builds the discriminator's optimizer on the generator's parameters
(``opt_d = Adam(G.parameters())``): D is never updated and stays at its random
initialisation, and the generator learns to fool it, far from the ring.

Run: ``python examples/gan_loops/d_optimizer_holds_g_params_ring8.py``
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

import torchdoctor as td
from torchdoctor.data import load_raw

EXPECTED: set[str] = {"gan_discriminator_ineffective"}


def net(n_in: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, 64), nn.SiLU(), nn.Linear(64, 64), nn.SiLU(),
                         nn.Linear(64, n_out))


def main(steps: int = 1000, seed: int = 0) -> td.GanDoctor:
    torch.manual_seed(seed)
    ring = torch.tensor(load_raw("ring8", seed=seed).x)
    G, D = net(2, 2), net(2, 1)
    opt_g = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.999))  # the typo
    gd = td.GanDoctor(G, D, opt_g, opt_d, console=False)
    for _ in range(steps):
        real = ring[torch.randint(len(ring), (128,))]
        fake = G(torch.randn(128, 2))
        d_real, d_fake = D(real), D(fake.detach())
        loss_d = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) \
            + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
        opt_d.zero_grad()
        loss_d.backward()
        gd.step_d(loss_d, real_scores=d_real, fake_scores=d_fake, real=real, fake=fake)
        opt_d.step()
        d_gen = D(fake)
        loss_g = F.binary_cross_entropy_with_logits(d_gen, torch.ones_like(d_gen))
        opt_g.zero_grad()
        loss_g.backward()
        gd.step_g(loss_g, fake_scores=d_gen)
        opt_g.step()
    gd.close()
    return gd


if __name__ == "__main__":
    for f in main().findings:
        print(f.severity, f.code, f.layer or "", f.message)
