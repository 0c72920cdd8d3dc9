"""Healthy: least-squares GAN (Mao et al. 2017) on the ring of 8 Gaussians; nets as classes,
Adam (beta1 0.5), one D step per G step.

Run: ``python examples/gan_loops/lsgan_ring8.py``
"""

from __future__ import annotations

import torch
from torch import nn

import torchdoctor as td
from torchdoctor.data import load_raw

EXPECTED: set[str] = set()


class Net(nn.Module):
    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(n_in, 128), nn.Linear(128, 128), nn.Linear(128, n_out)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return self.layers[-1](x)


def main(steps: int = 1500, seed: int = 0) -> td.GanDoctor:
    torch.manual_seed(seed)
    ring = torch.tensor(load_raw("ring8", seed=seed).x)
    G, D = Net(2, 2), Net(2, 1)
    opt_g = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.5, 0.999))
    gd = td.GanDoctor(G, D, opt_g, opt_d, console=False)
    for _ in range(steps):
        real = ring[torch.randint(len(ring), (128,))]
        fake = G(torch.randn(128, 2))
        a, b = D(real), D(fake.detach())
        loss_d = 0.5 * ((a - 1.0) ** 2).mean() + 0.5 * (b ** 2).mean()
        opt_d.zero_grad()
        loss_d.backward()
        gd.step_d(loss_d, real_scores=a, fake_scores=b, real=real, fake=fake)
        opt_d.step()
        c = D(fake)
        loss_g = 0.5 * ((c - 1.0) ** 2).mean()
        opt_g.zero_grad()
        loss_g.backward()
        gd.step_g(loss_g, fake_scores=c)
        opt_g.step()
    gd.close()
    return gd


if __name__ == "__main__":
    for f in main().findings:
        print(f.severity, f.code, f.layer or "", f.message)
