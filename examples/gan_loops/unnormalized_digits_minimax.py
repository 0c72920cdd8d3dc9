"""Fault: the real digits are left in 0..16 (the normalisation to [-1, 1] forgotten) while the
generator ends in tanh; with the minimax loss D separates every pair from the first steps and
G never gets a gradient worth the name.

Run: ``python examples/gan_loops/unnormalized_digits_minimax.py``
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

import torchdoctor as td
from torchdoctor.data import load_raw

EXPECTED: set[str] = {"gan_discriminator_wins"}


def main(steps: int = 600, seed: int = 0) -> td.GanDoctor:
    torch.manual_seed(seed)
    images = torch.tensor(load_raw("digits", seed=seed).x)  # (N, 1, 8, 8) in 0..16
    G = nn.Sequential(nn.Linear(32, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, 64),
                      nn.Tanh(), nn.Unflatten(1, (1, 8, 8)))
    D = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.LeakyReLU(0.2), nn.Linear(128, 1))
    opt_g = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    gd = td.GanDoctor(G, D, opt_g, opt_d, console=False)
    for _ in range(steps):
        real = images[torch.randint(len(images), (64,))]
        fake = G(torch.randn(64, 32))
        out_r, out_f = D(real), D(fake.detach())
        loss_d = F.binary_cross_entropy_with_logits(torch.cat([out_r, out_f]),
                                                    torch.cat([torch.ones(64, 1), torch.zeros(64, 1)]))
        opt_d.zero_grad()
        loss_d.backward()
        gd.step_d(loss_d, real_scores=out_r, fake_scores=out_f, real=real, fake=fake)
        opt_d.step()
        out_g = D(fake)
        loss_g = torch.log1p(-torch.sigmoid(out_g) + 1e-12).mean()  # minimax generator loss
        opt_g.zero_grad()
        loss_g.backward()
        gd.step_g(loss_g, fake_scores=out_g)
        opt_g.step()
    gd.close()
    return gd


if __name__ == "__main__":
    for f in main().findings:
        print(f.severity, f.code, f.layer or "", f.message)
