"""Fault: on the 8x8 digits the latent is drawn with standard deviation 1e-3 (a scale meant for
weight initialisation): every latent is nearly the same, so is every image; LSGAN loss.

Run: ``python examples/gan_loops/latent_std_1e-3_digits.py``
"""

from __future__ import annotations

import torch
from torch import nn

import torchdoctor as td
from torchdoctor.data import load_raw

EXPECTED: set[str] = {"gan_mode_collapse"}
Z_STD = 1e-3


class Gen(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2, self.out = nn.Linear(20, 128), nn.Linear(128, 128), nn.Linear(128, 64)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.fc1(z))
        h = torch.relu(self.fc2(h))
        return torch.tanh(self.out(h))


def main(steps: int = 700, seed: int = 0) -> td.GanDoctor:
    torch.manual_seed(seed)
    x_all = torch.tensor(load_raw("digits", seed=seed).x).reshape(-1, 64) / 8.0 - 1.0
    G = Gen()
    D = nn.Sequential(nn.Linear(64, 128), nn.LeakyReLU(0.2), nn.Linear(128, 1))
    opt_g = torch.optim.Adam(G.parameters(), 5e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 5e-4, betas=(0.5, 0.999))
    gd = td.GanDoctor(G, D, opt_g, opt_d, console=False)
    for _ in range(steps):
        x = x_all[torch.randint(len(x_all), (64,))]
        g_out = G(Z_STD * torch.randn(64, 20))
        dr, df = D(x), D(g_out.detach())
        loss_d = 0.5 * ((dr - 1) ** 2).mean() + 0.5 * (df ** 2).mean()
        opt_d.zero_grad()
        loss_d.backward()
        gd.step_d(loss_d, real_scores=dr, fake_scores=df, real=x, fake=g_out)
        opt_d.step()
        dg = D(g_out)
        loss_g = 0.5 * ((dg - 1) ** 2).mean()
        opt_g.zero_grad()
        loss_g.backward()
        gd.step_g(loss_g, fake_scores=dg)
        opt_g.step()
    gd.close()
    return gd


if __name__ == "__main__":
    for f in main().findings:
        print(f.severity, f.code, f.layer or "", f.message)
