"""Fault: on the 8x8 digits the loop computes and backpropagates the discriminator's loss but
never calls ``opt_d.step()``: D stays at its random initialisation and G fools it; the DCGAN
order (G's loss backpropagates through D, whose gradients are zeroed before its next backward).

Run: ``python examples/gan_loops/forgot_opt_d_step_digits.py``
"""

from __future__ import annotations

import torch
from torch import nn

import torchdoctor as td
from torchdoctor.data import load_raw

EXPECTED: set[str] = {"gan_discriminator_ineffective"}


def main(steps: int = 700, seed: int = 0) -> td.GanDoctor:
    torch.manual_seed(seed)
    imgs = torch.tensor(load_raw("digits", seed=seed).x).view(-1, 64) / 8.0 - 1.0
    netG = nn.Sequential(nn.Linear(24, 128), nn.ReLU(True), nn.Linear(128, 64), nn.Tanh())
    netD = nn.Sequential(nn.Linear(64, 128), nn.LeakyReLU(0.2, True), nn.Linear(128, 1), nn.Sigmoid())
    optG = torch.optim.Adam(netG.parameters(), 2e-4, betas=(0.5, 0.999))
    optD = torch.optim.Adam(netD.parameters(), 2e-4, betas=(0.5, 0.999))
    criterion = nn.BCELoss()
    gd = td.GanDoctor(netG, netD, optG, optD, console=False)
    for _ in range(steps):
        real = imgs[torch.randint(len(imgs), (64,))]
        label = torch.full((64, 1), 1.0)
        netD.zero_grad()
        out_real = netD(real)
        err_real = criterion(out_real, label)
        err_real.backward()
        fake = netG(torch.randn(64, 24))
        out_fake = netD(fake.detach())
        err_fake = criterion(out_fake, label.fill_(0.0))
        err_fake.backward()
        gd.step_d(err_real + err_fake, real_scores=out_real, fake_scores=out_fake, real=real,
                  fake=fake)
        # optD.step() forgotten
        netG.zero_grad()
        out_gen = netD(fake)
        err_g = criterion(out_gen, label.fill_(1.0))
        err_g.backward()
        gd.step_g(err_g, fake_scores=out_gen)
        optG.step()
    gd.close()
    return gd


if __name__ == "__main__":
    for f in main().findings:
        print(f.severity, f.code, f.layer or "", f.message)
