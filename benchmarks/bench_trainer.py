"""Does the framework tax training? Our Trainer's time per epoch vs a minimal hand-written loop.

Same model, data, batch order and optimizer; epochs alternate between the two in one process
and the ratio of medians is printed (bound: <= 1.10). Both loops evaluate the validation set
once per epoch, as any real loop does. The Trainer runs without a run directory and without the
Doctor (the Doctor's own cost is measured by bench_overhead.py).

    python benchmarks/bench_trainer.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from torchdoctor.train import Trainer
from torchdoctor.train.config import load_config
from torchdoctor.train.trainer import epoch_seed

BOUND = 1.10

CASES = {
    "digits mlp 3x64": ["model.arch=mlp"],
    "digits cnn 2x32 bn": ["model.arch=cnn", "model.depth=2", "model.width=32", "model.norm=batch"],
}


def hand_written_epoch(model, opt, x, y, xv, yv, seed: int, epoch: int, bs: int) -> float:
    """The minimal loop a person writes: shuffle, forward, loss, zero_grad, backward, step, eval."""
    torch.manual_seed(epoch_seed(seed, epoch))
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(epoch_seed(seed, epoch)))
    model.train()
    total = 0.0
    for s in range(0, len(x), bs):
        idx = order[s:s + bs]
        out = model(x[idx])
        loss = F.cross_entropy(out, y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.detach() * len(idx)
    model.eval()
    with torch.no_grad():
        val = F.cross_entropy(model(xv), yv)
    return float(total) / len(x) + 0 * float(val)


def bench_case(name: str, overrides: list[str], repeats: int) -> tuple[float, float, float]:
    cfg = load_config(None, [*overrides, "train.epochs=100000"])
    ours = Trainer(cfg)
    ref = Trainer(cfg)  # same model, optimizer and data, driven by the hand-written loop
    d = ref.data
    t_ours, t_ref = [], []
    ev = {e: [] for e in ("on_train_epoch_start", "on_after_backward", "on_before_optimizer_step",
                          "on_train_batch_end", "on_validation_end")}
    def run_ours() -> float:
        t0 = time.perf_counter()
        ours._run_epoch(ev, None)
        ours.epoch += 1
        return time.perf_counter() - t0

    def run_ref(r: int) -> float:
        t0 = time.perf_counter()
        hand_written_epoch(ref.model, ref.optimizer, d.x_train, d.y_train, d.x_val, d.y_val,
                           cfg.seed, r, cfg.train.batch_size)
        return time.perf_counter() - t0

    for r in range(repeats + 2):  # two warm-up rounds; the order alternates every round
        if r % 2 == 0:
            a, b = run_ours(), run_ref(r)
        else:
            b, a = run_ref(r), run_ours()
        if r >= 2:
            t_ours.append(a)
            t_ref.append(b)
    mo, mr = statistics.median(t_ours), statistics.median(t_ref)
    return mo * 1e3, mr * 1e3, mo / mr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"{'case':<22} {'trainer ms/epoch':>17} {'hand loop ms/epoch':>19} {'ratio':>7}  bound")
    worst = 0.0
    for name, ov in CASES.items():
        ours, ref, ratio = bench_case(name, ov, args.repeats)
        worst = max(worst, ratio)
        print(f"{name:<22} {ours:>17.2f} {ref:>19.2f} {ratio:>7.3f}  <= {BOUND}")
    print(f"worst ratio {worst:.3f} ({'within' if worst <= BOUND else 'OVER'} the bound {BOUND})")


if __name__ == "__main__":
    main()
