"""1 process vs 2 processes (``torchrun``, gloo, CPU) on the same config and global batch.

The 1-process run trains in this process (``workflows.run_training``, as ``torchdoctor
train`` does); the 2-process run is
``torchrun --nproc_per_node 2 -m torchdoctor train CONFIG --out DIR`` started from it, with
the Doctor attached in both. Printed: for every epoch metric, the largest |2-process -
1-process| difference over the epochs, and the wall time of the two runs (noisy on a shared
machine: process start-up and the gradient all-reduce dominate a model this small).

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/bench_ddp.py [--config digits] [--epochs 5]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torchdoctor as td
from torchdoctor.configs import config_path
from torchdoctor.workflows import run_training

METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="digits", help="a packaged config name")
    ap.add_argument("--epochs", type=int, default=5)
    args = ap.parse_args()
    overrides = [f"train.epochs={args.epochs}"]
    path = config_path(args.config)

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        one = run_training(path, overrides=overrides, out=Path(tmp) / "one").history
        t_one = time.perf_counter() - t0
        out = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", "2", "-m", "torchdoctor", "train", str(path), "--out", str(out), "--quiet",
               *[a for o in overrides for a in ("--set", o)]]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, timeout=900, env={**os.environ, "OMP_NUM_THREADS": "1"})
        t_two = time.perf_counter() - t0
        two = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]

    print(f"config {args.config}, {args.epochs} epochs, global batch "
          f"{td.load_config(path).train.batch_size}")
    for k in METRICS:
        if k in one[0]:
            diff = max(abs(a[k] - b[k]) for a, b in zip(one, two, strict=True))
            print(f"  max |2 proc - 1 proc| {k:15s} {diff:.2e}")
    print(f"  wall time: 1 process {t_one:.1f} s (in this process), 2 processes {t_two:.1f} s "
          f"(torchrun, start-up included); ratio {t_two / t_one:.2f} (noisy)")


if __name__ == "__main__":
    main()
