"""Fault: the minimax loss on the 5x5 grid with the discriminator's learning rate 50x the
generator's (Adam 5e-3 vs 1e-4) and a wider D: D wins and G's saturating loss gives it
nothing to learn from.

Run: ``python examples/gan_loops/minimax_d_lr_50x_grid25.py``
"""

from __future__ import annotations

import torch
from torch import nn

import torchdoctor as td
from torchdoctor.data import load_raw

EXPECTED: set[str] = {"gan_discriminator_wins"}


class Generator(nn.Module):
    def __init__(self, nz: int = 4) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(nz, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                                 nn.Linear(64, 2))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Discriminator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                                 nn.Linear(256, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


def main(steps: int = 800, seed: int = 0) -> td.GanDoctor:
    torch.manual_seed(seed)
    data = torch.tensor(load_raw("grid25", seed=seed).x)
    G, D = Generator(), Discriminator()
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-4)
    opt_d = torch.optim.Adam(D.parameters(), lr=5e-3)
    bce = nn.BCELoss()
    gd = td.GanDoctor(G, D, opt_g, opt_d, console=False)
    ones, zeros = torch.ones(100), torch.zeros(100)
    for _ in range(steps):
        x = data[torch.randint(len(data), (100,))]
        x_fake = G(torch.randn(100, 4))
        p_real, p_fake = D(x), D(x_fake.detach())
        err_d = bce(p_real, ones) + bce(p_fake, zeros)
        D.zero_grad()
        err_d.backward()
        gd.step_d(err_d, real_scores=p_real, fake_scores=p_fake, real=x, fake=x_fake)
        opt_d.step()
        p_gen = D(x_fake)
        err_g = -bce(p_gen, zeros)  # minimax: minimise log(1 - D(G(z)))
        G.zero_grad()
        err_g.backward()
        gd.step_g(err_g, fake_scores=p_gen)
        opt_g.step()
    gd.close()
    return gd


if __name__ == "__main__":
    for f in main().findings:
        print(f.severity, f.code, f.layer or "", f.message)
