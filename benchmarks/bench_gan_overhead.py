"""Overhead of the GanDoctor per GAN iteration, measured side by side in one process.

A plain non-saturating GAN iteration (one D step, one G step) on the ring of eight Gaussians:
MLP generator and discriminator (two hidden layers of ``--width``, LeakyReLU), batch 128, Adam.
Two identical copies train in alternation: without a GanDoctor, and with one at default
settings (console on; real and fake batches and both scores handed over, so the sample statistics run on
sampled steps). Each repeat times ``--steps`` iterations of each copy, the order alternating
between repeats; the printed ratio is the median over repeats of (with / without), with the
range of the middle half.

Run: ``python benchmarks/bench_gan_overhead.py [--repeats 15] [--steps 300] [--width 128]
[--cpu-time]`` (``--cpu-time``: the process's CPU time instead of wall time, steadier when
other processes share the cores).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

import torchdoctor as td
from torchdoctor.data import load_raw


def mlp(n_in: int, n_out: int, width: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, width), nn.LeakyReLU(0.2), nn.Linear(width, width),
                         nn.LeakyReLU(0.2), nn.Linear(width, n_out))


class Run:
    """One GAN (G, D, their optimizers) and its optional GanDoctor."""

    def __init__(self, width: int, doctor: bool, data: torch.Tensor) -> None:
        torch.manual_seed(0)
        self.G, self.D = mlp(2, 2, width), mlp(2, 1, width)
        self.opt_g = torch.optim.Adam(self.G.parameters(), 1e-3, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), 1e-3, betas=(0.5, 0.999))
        self.gd: Any = td.GanDoctor(self.G, self.D, self.opt_g, self.opt_d) \
            if doctor else None
        self.data = data
        self.ones, self.zeros = torch.ones(128, 1), torch.zeros(128, 1)

    def iterate(self, n: int, clock: Any = time.perf_counter) -> float:
        """Time ``n`` GAN iterations (seconds of ``clock``)."""
        G, D, gd, data = self.G, self.D, self.gd, self.data
        t0 = clock()
        for _ in range(n):
            real = data[torch.randint(len(data), (128,))]
            fake = G(torch.randn(128, 2))
            d_real, d_fake = D(real), D(fake.detach())
            loss_d = F.binary_cross_entropy_with_logits(d_real, self.ones) \
                + F.binary_cross_entropy_with_logits(d_fake, self.zeros)
            self.opt_d.zero_grad()
            loss_d.backward()
            if gd is not None:
                gd.step_d(loss_d, real_scores=d_real, fake_scores=d_fake, real=real, fake=fake)
            self.opt_d.step()
            d_gen = D(fake)
            loss_g = F.binary_cross_entropy_with_logits(d_gen, self.ones)
            self.opt_g.zero_grad()
            loss_g.backward()
            if gd is not None:
                gd.step_g(loss_g, fake_scores=d_gen)
            self.opt_g.step()
        return clock() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--cpu-time", action="store_true",
                    help="time with the process's CPU time (steadier on a shared machine)")
    args = ap.parse_args()
    clock = time.process_time if args.cpu_time else time.perf_counter
    torch.set_num_threads(1)
    data = torch.tensor(load_raw("ring8").x)
    plain, doc = Run(args.width, False, data), Run(args.width, True, data)
    plain.iterate(20)
    doc.iterate(20)  # warm-up (the doctor's first steps are all sampled)
    ratios, base = [], []
    for rep in range(args.repeats):
        order = (plain, doc) if rep % 2 == 0 else (doc, plain)
        times = {id(r): r.iterate(args.steps, clock) for r in order}
        ratios.append(times[id(doc)] / times[id(plain)])
        base.append(times[id(plain)] / args.steps)
    q = statistics.quantiles(ratios, n=4)
    print(f"GAN iteration (MLP width {args.width}, batch 128, ring8): plain "
          f"{statistics.median(base) * 1e3:.2f} ms; with GanDoctor "
          f"{statistics.median(ratios):.3f}x (middle half {q[0]:.3f}-{q[2]:.3f}, "
          f"{args.repeats} repeats of {args.steps} iterations, "
          f"{'CPU' if args.cpu_time else 'wall'} time)")
    doc.gd.close()


if __name__ == "__main__":
    main()
