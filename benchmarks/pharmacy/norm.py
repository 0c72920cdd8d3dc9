"""SwitchNorm2d speed: ours (one-pass IN moments, fused autograd Function) and the naive version
(each IN / LN / BN statistic computed separately, plain autograd) against nn.BatchNorm2d.

Forward + backward on CPU at N×C×H×W = 32×64×16×16, float32, training mode. The three are timed
in alternating blocks of 20 steps in one process, median of the blocks' per-step times;
ratio = ours / BatchNorm2d (bound 1.5). Blocks, not single steps: a single step's time depends
on what ran just before it (the naive version's many temporaries evict the caches), which made
the per-step ratio swing between 0.9 and 1.8 from run to run.
Measured once with one thread and once with the default thread count.

Run: ``.venv/bin/python benchmarks/pharmacy/norm.py [--repeats 15]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn

from torchdoctor.nn import SwitchNorm2d

SHAPE = (32, 64, 16, 16)
BOUND = 1.5
BLOCK = 20  # steps timed together: one step alone is at the mercy of what ran just before


def naive_switch_norm(x: Tensor, m: SwitchNorm2d) -> Tensor:
    """Each statistic separately, as the reference code does (biased variances here)."""
    mean_in = x.mean((2, 3), keepdim=True)
    var_in = x.var((2, 3), keepdim=True, unbiased=False)
    mean_ln = x.mean((1, 2, 3), keepdim=True)
    var_ln = x.var((1, 2, 3), keepdim=True, unbiased=False)
    mean_bn = x.mean((0, 2, 3), keepdim=True)
    var_bn = x.var((0, 2, 3), keepdim=True, unbiased=False)
    mw = torch.softmax(m.mean_weight, 0)
    vw = torch.softmax(m.var_weight, 0)
    mean = mw[0] * mean_in + mw[1] * mean_ln + mw[2] * mean_bn
    var = vw[0] * var_in + vw[1] * var_ln + vw[2] * var_bn
    y = (x - mean) / torch.sqrt(var + m.eps)
    return y * m.weight.view(1, -1, 1, 1) + m.bias.view(1, -1, 1, 1)


def _step(fn: Callable[[Tensor], Tensor], x: Tensor, g: Tensor) -> None:
    x.grad = None
    fn(x).backward(g)


def _measure(repeats: int, shape: tuple[int, ...],
             clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Median ms per step of each implementation: ``repeats`` blocks of :data:`BLOCK` steps each,
    the blocks alternating between implementations (rotating which goes first)."""
    torch.manual_seed(0)
    c = shape[1]
    x = torch.randn(*shape, requires_grad=True)
    g = torch.randn(*shape)
    bn = nn.BatchNorm2d(c).train()
    sn = SwitchNorm2d(c).train()
    fns = {"bn": bn, "ours": sn, "naive": lambda t: naive_switch_norm(t, sn)}
    times: dict[str, list[float]] = {k: [] for k in fns}
    names = list(fns)
    for f in fns.values():  # warm-up: the allocator and the caches settle
        for _ in range(BLOCK):
            _step(f, x, g)
    for r in range(repeats):
        for k in names[r % 3:] + names[:r % 3]:
            t0 = clock()
            for _ in range(BLOCK):
                _step(fns[k], x, g)
            times[k].append((clock() - t0) * 1e3 / BLOCK)
    return {k: statistics.median(v) for k, v in times.items()}


def bench_switchnorm(repeats: int = 15, shape: tuple[int, ...] = SHAPE,
                     threads: tuple[int, ...] | None = None) -> list[dict]:
    """Rows ``{"name", "ours_ms", "reference_ms", "ratio", "bound"}``: SwitchNorm2d (ours) and
    the naive SwitchNorm, each against nn.BatchNorm2d (forward + backward, median wall ms).

    Each entry of ``threads`` is one measurement with ``torch.set_num_threads``; ``None``: one
    measurement with the current setting. With one thread a second pair of rows times the
    same steps by the thread's CPU clock (``time.thread_time``): it leaves out the time the
    process waited for a core, which on a loaded machine is most of the wall time. One thread is the stable number on a shared machine;
    with several threads any other busy process stalls the parallel kernels (of BatchNorm2d
    too) and inflates every timing.
    """
    rows = []
    default = torch.get_num_threads()
    dims = "×".join(map(str, shape))
    try:
        for t in threads or (default,):
            torch.set_num_threads(t)
            clocks = [("wall", time.perf_counter)]
            if t == 1:  # one thread: all the work runs on this thread, so its CPU clock sees it
                clocks.append(("cpu", time.thread_time))
            for clock_name, clock in clocks:
                med = _measure(repeats, shape, clock)
                label = f"{t} thr, {clock_name}"
                rows += [
                    {"name": f"SwitchNorm2d fwd+bwd {dims} ours / BatchNorm2d ({label})",
                     "ours_ms": med["ours"], "reference_ms": med["bn"],
                     "ratio": med["ours"] / med["bn"], "bound": BOUND},
                    {"name": f"SwitchNorm2d fwd+bwd {dims} naive / BatchNorm2d ({label})",
                     "ours_ms": med["naive"], "reference_ms": med["bn"],
                     "ratio": med["naive"] / med["bn"], "bound": None},
                ]
    finally:
        torch.set_num_threads(default)
    return rows


def _print(rows: list[dict]) -> None:
    print(f"{'benchmark':<72} {'ours ms':>9} {'ref ms':>9} {'ratio':>7} {'bound':>6}")
    for r in rows:
        bound = "" if r["bound"] is None else f"{r['bound']:.2f}"
        print(f"{r['name']:<72} {r['ours_ms']:9.3f} {r['reference_ms']:9.3f} "
              f"{r['ratio']:7.2f} {bound:>6}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, default {torch.get_num_threads()} threads")
    _print(bench_switchnorm(args.repeats, threads=tuple(sorted({1, torch.get_num_threads()}))))
