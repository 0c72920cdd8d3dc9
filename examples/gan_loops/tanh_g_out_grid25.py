"""Fault: the generator ends in tanh (outputs in [-1, 1]) on the 5x5 grid, whose modes reach
+-4: it can produce only the centre mode and the space around it; hinge loss, two D steps.

Run: ``python examples/gan_loops/tanh_g_out_grid25.py``
"""

from __future__ import annotations

import torch
from torch import nn

import torchdoctor as td
from torchdoctor.data import load_raw

EXPECTED: set[str] = {"gan_mode_collapse"}


def main(steps: int = 600, seed: int = 0) -> td.GanDoctor:
    torch.manual_seed(seed)
    grid = torch.tensor(load_raw("grid25", seed=seed).x)
    G = nn.Sequential(nn.Linear(2, 128), nn.LeakyReLU(0.1), nn.Linear(128, 128),
                      nn.LeakyReLU(0.1), nn.Linear(128, 2), nn.Tanh())
    D = nn.Sequential(nn.Linear(2, 128), nn.LeakyReLU(0.1), nn.Linear(128, 128),
                      nn.LeakyReLU(0.1), nn.Linear(128, 1))
    opt_g = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.0, 0.9))
    gd = td.GanDoctor(G, D, opt_g, opt_d, console=False)
    for _ in range(steps):
        for _ in range(2):
            real = grid[torch.randint(len(grid), (128,))]
            with torch.no_grad():
                fake = G(torch.randn(128, 2))
            sr, sf = D(real), D(fake)
            loss_d = torch.relu(1.0 - sr).mean() + torch.relu(1.0 + sf).mean()
            opt_d.zero_grad()
            loss_d.backward()
            gd.step_d(loss_d, real_scores=sr, fake_scores=sf, real=real, fake=fake)
            opt_d.step()
        sg = D(G(torch.randn(128, 2)))
        loss_g = -sg.mean()
        opt_g.zero_grad()
        loss_g.backward()
        gd.step_g(loss_g, fake_scores=sg)
        opt_g.step()
    gd.close()
    return gd


if __name__ == "__main__":
    for f in main().findings:
        print(f.severity, f.code, f.layer or "", f.message)
