"""Fault: on the 8x8 digits, the discriminator takes 10 steps per generator step with the
minimax (saturating) generator loss: D separates every pair and G's gradient vanishes.

Run: ``python examples/gan_loops/minimax_ten_d_steps_digits.py``
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

import torchdoctor as td
from torchdoctor.data import load_raw

EXPECTED: set[str] = {"gan_discriminator_wins"}
NZ = 16


def main(steps: int = 150, seed: int = 0) -> td.GanDoctor:
    torch.manual_seed(seed)
    digits = torch.tensor(load_raw("digits", seed=seed).x).flatten(1) / 8.0 - 1.0
    G = nn.Sequential(nn.Linear(NZ, 128), nn.ReLU(), nn.Linear(128, 64), nn.Tanh())
    D = nn.Sequential(nn.Linear(64, 256), nn.LeakyReLU(0.2), nn.Linear(256, 256),
                      nn.LeakyReLU(0.2), nn.Linear(256, 1))
    opt_g = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    gd = td.GanDoctor(G, D, opt_g, opt_d, console=False)
    for _ in range(steps):
        for _ in range(10):
            real = digits[torch.randint(len(digits), (64,))]
            with torch.no_grad():
                fake = G(torch.randn(64, NZ))
            lr, lf = D(real), D(fake)
            loss_d = F.softplus(-lr).mean() + F.softplus(lf).mean()
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            gd.step_d(loss_d, real_scores=lr, fake_scores=lf, real=real, fake=fake)
            opt_d.step()
        lg = D(G(torch.randn(64, NZ)))
        loss_g = -F.softplus(lg).mean()  # log(1 - sigmoid(l)) = -softplus(l): saturating
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        gd.step_g(loss_g, fake_scores=lg)
        opt_g.step()
    gd.close()
    return gd


if __name__ == "__main__":
    for f in main().findings:
        print(f.severity, f.code, f.layer or "", f.message)
