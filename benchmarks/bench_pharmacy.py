"""Pharmacy benchmarks in one table: SwitchNorm2d (ours, naive) vs BatchNorm2d; LARS vs SGD
step; roi_align vs the explicit-loop reference.

Candidates run alternately in one process; each row is the ratio of medians
(ours / reference; lower is better) with its bound where the issue sets one.

    python benchmarks/bench_pharmacy.py [--repeats 30] [--threads 1]

``--threads`` defaults to 1: on a shared machine multi-threaded kernels mostly measure the
neighbours' load. Use ``--threads 0`` to keep PyTorch's default.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pharmacy.ops_optim import bench_lars, bench_roi_align  # noqa: E402


def _norm_rows(repeats: int) -> tuple[list[dict], str | None]:
    try:
        from pharmacy.norm import bench_switchnorm
    except ImportError as exc:
        return [], f"SwitchNorm rows skipped: benchmarks/pharmacy/norm.py not available ({exc})"
    return bench_switchnorm(max(5, repeats // 2)), None  # blocks of 20 steps each


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    rows, note = _norm_rows(args.repeats)
    rows += bench_lars(args.repeats)
    rows += bench_roi_align(max(3, args.repeats // 6))
    width = max(len(r["name"]) for r in rows)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), repeats={args.repeats}")
    print(f"{'benchmark':<{width}}  {'ours ms':>9}  {'ref ms':>9}  {'ratio':>7}  {'bound':>6}  ok")
    failed = 0
    for r in rows:
        bound = r.get("bound")
        ok = "-" if bound is None else ("yes" if r["ratio"] <= bound else "NO")
        failed += ok == "NO"
        bound_s = "-" if bound is None else f"{bound:.2f}"
        print(f"{r['name']:<{width}}  {r['ours_ms']:9.3f}  {r['reference_ms']:9.3f}  "
              f"{r['ratio']:7.3f}  {bound_s:>6}  {ok}")
    if note:
        print(note)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
