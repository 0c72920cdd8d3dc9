"""Healthy: WGAN-GP (Gulrajani et al. 2017) on the ring: a critic with unbounded scores,
5 critic steps per generator step, gradient penalty 10, Adam 1e-4 (0.5, 0.9).

Run: ``python examples/gan_loops/wgan_gp_ring8.py``
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F  # noqa: F401

import torchdoctor as td
from torchdoctor.data import load_raw

EXPECTED: set[str] = set()


def mlp(n_in: int, n_out: int, width: int = 128, act: type[nn.Module] = nn.LeakyReLU) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, width), act(), nn.Linear(width, width), act(),
                         nn.Linear(width, n_out))


def data_of(name: str, seed: int) -> torch.Tensor:
    x = torch.tensor(load_raw(name, seed=seed).x)
    x = x.reshape(len(x), -1)
    return x / 8.0 - 1.0 if name == "digits" else x  # digits: 0..16 -> [-1, 1]


def main(steps: int = 500, seed: int = 0) -> td.GanDoctor:
    torch.manual_seed(seed)
    data = data_of("ring8", seed)
    G, D = mlp(2, 2), mlp(2, 1)
    opt_g = torch.optim.Adam(G.parameters(), 5e-4, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), 5e-4, betas=(0.5, 0.9))
    gd = td.GanDoctor(G, D, opt_g, opt_d, console=False)
    for _ in range(steps):
        for _ in range(5):
            real = data[torch.randint(len(data), (128,))]
            with torch.no_grad():
                fake = G(torch.randn(128, 2))
            d_real, d_fake = D(real), D(fake)
            eps = torch.rand(128, 1)
            mix = (eps * real + (1 - eps) * fake).requires_grad_(True)
            grad, = torch.autograd.grad(D(mix).sum(), mix, create_graph=True)
            gp = ((grad.norm(dim=1) - 1) ** 2).mean()
            loss_d = d_fake.mean() - d_real.mean() + 10 * gp
            opt_d.zero_grad()
            loss_d.backward()
            gd.step_d(loss_d, real_scores=d_real, fake_scores=d_fake, real=real, fake=fake)
            opt_d.step()
        d_gen = D(G(torch.randn(128, 2)))
        loss_g = -d_gen.mean()
        opt_g.zero_grad()
        loss_g.backward()
        gd.step_g(loss_g, fake_scores=d_gen)
        opt_g.step()
    gd.close()
    return gd


if __name__ == "__main__":
    for f in main().findings:
        print(f.severity, f.code, f.layer or "", f.message)
