"""Does doctor-informed pruning make a hyperparameter search cheaper? Three arms, one space.

The digits MLP searched over a space with broken regions: rates up to 30 (divergence), deep
sigmoid nets (vanishing gradients; Glorot & Bengio 2010), constant initialization (symmetric
units). For each seed, with the same sampler seed and the same trial budget:

1. ``none``: no pruning, no doctor;
2. ``median``: Optuna's ``MedianPruner`` on the validation accuracy (torchdoctor's settings:
   ``MEDIAN_STARTUP_TRIALS`` complete trials, ``MEDIAN_WARMUP_EPOCHS`` epochs unpruned);
3. ``doctor+median``: the doctor attached to each trial, an error finding prunes at once,
   plus the same median rule, where the trials the doctor pruned count toward its startup
   trials (``DoctorMedianPruner``).

The default sampler is Optuna's ``RandomSampler``: its samples do not depend on the results,
so the three arms of a seed try the very same configs and differ only in what they prune (the
best accuracy of ``none`` is then the reference the pruning arms must keep). ``--sampler tpe``
uses TPE instead, whose later samples follow the (pruned) history.

Printed per arm: the best validation accuracy found (mean, min over seeds), wall and CPU
seconds of the whole search, and both time ratios to ``none`` measured side by side in this
process (the arms of one seed run one after another); with the random sampler also the best
accuracy that any trial the arm pruned reached without pruning, and in parentheses the same
for the trials its doctor pruned (over all seeds: how good a config the pruning threw away). The machine may be shared: the CPU
ratio (``time.process_time``, one thread) is the steadier one.

    python benchmarks/bench_tune.py [--seeds 3] [--trials 30] [--epochs 15] [--sampler random|tpe]

``--against-default`` measures instead what ``td.tune`` (default space, TPE, doctor + median,
``--trials`` trials per seed) finds against the default config that ``torchdoctor train``
trains without one: the best value, and the best among the trials other than the first (the
first is the config's own values).

    python benchmarks/bench_tune.py --against-default [--seeds 3] [--trials 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

import torch

from torchdoctor.train.config import load_config
from torchdoctor.tune import Objective, make_pruner, parse_space

#: The searched space: healthy regions and broken ones.
SPACE: dict[str, Any] = {
    "train.lr": {"type": "float", "low": 1e-3, "high": 30.0, "log": True},
    "train.optimizer": ["sgdm", "adam"],
    "model.activation": ["relu", "tanh", "sigmoid"],
    "model.depth": {"type": "int", "low": 1, "high": 10},
    "model.width": [32, 64, 128],
    "model.init": ["default", "kaiming_normal", "constant"],
}
ARMS: tuple[tuple[str, str, bool], ...] = (
    ("none", "none", False), ("median", "median", False), ("doctor+median", "median", True))


def run_arm(pruner: str, doctor: bool, seed: int, trials: int, epochs: int,
            sampler: str = "random") -> dict[str, Any]:
    """One search in memory: best value, wall and CPU seconds, pruned counts."""
    import optuna

    base = load_config(None, [f"train.epochs={epochs}"])
    space = parse_space(SPACE, base)
    objective = Objective(base, space, doctor=doctor)
    objective.inputs(base)  # data prepared before the clock starts (every arm shares it)
    study = optuna.create_study(direction="maximize",
                                sampler=(optuna.samplers.TPESampler(seed=seed) if sampler == "tpe"
                                         else optuna.samplers.RandomSampler(seed=seed)),
                                pruner=make_pruner(pruner, doctor=doctor))
    w0, c0 = time.perf_counter(), time.process_time()
    study.optimize(objective, n_trials=trials)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    states = [t.state.name for t in study.trials]
    by_doctor = sum(1 for t in study.trials if t.user_attrs.get("pruned_by") == "doctor")
    done = [t.value for t in study.trials if t.state.name == "COMPLETE"]
    return {"best": max(done) if done else float("nan"), "wall": wall, "cpu": cpu,
            "pruned_doctor": by_doctor, "pruned_metric": states.count("PRUNED") - by_doctor,
            "complete": len(done),
            "values": {t.number: t.value for t in study.trials if t.value is not None},
            "pruned": [t.number for t in study.trials if t.state.name == "PRUNED"],
            "pruned_by_doctor": [t.number for t in study.trials
                                 if t.user_attrs.get("pruned_by") == "doctor"]}


def best_pruned(arm: dict[str, Any], reference: dict[str, Any], key: str = "pruned") -> float:
    """The best accuracy that a trial ``arm`` pruned (``key="pruned_by_doctor"``: that its
    doctor pruned) reached in the unpruned ``reference`` (same sampler seed; meaningful with
    the random sampler, whose trials are the same)."""
    vals = [reference["values"][n] for n in arm[key] if n in reference["values"]]
    return max(vals) if vals else float("nan")


def against_default(seeds: int, trials: int) -> int:
    """``td.tune`` with its defaults on the default config, against that config's accuracy."""
    import tempfile

    import optuna

    import torchdoctor as td
    from torchdoctor.train.trainer import Trainer

    default = Trainer(load_config(None)).fit().metrics["val_accuracy"]
    print(f"default config (torchdoctor train without a config): val_accuracy {default:.4f}")
    for seed in range(seeds):
        with tempfile.TemporaryDirectory() as d:
            r = td.tune(None, trials=trials, seed=seed, out=d)
            study = optuna.load_study(study_name=r.study, storage=td.tune.default_storage(d))
            others = [t.value for t in study.trials if t.number > 0 and t.value is not None]
            print(f"seed {seed}: best {r.best_value:.4f} (trial {r.best_trial}); best of the "
                  f"other trials {max(others):.4f}; {sum(v >= default for v in others)} of them "
                  f">= default; complete {r.n_complete}, pruned by the doctor "
                  f"{r.n_pruned_doctor}, on the metric {r.n_pruned_metric}; {r.seconds:.1f} s",
                  flush=True)
    return 0


def _best_over(arms: list[dict[str, Any]], refs: list[dict[str, Any]], key: str) -> float:
    vals = [best_pruned(a, r, key) for a, r in zip(arms, refs, strict=True)]
    vals = [v for v in vals if v == v]
    return max(vals) if vals else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--sampler", choices=("random", "tpe"), default="random")
    ap.add_argument("--against-default", action="store_true")
    args = ap.parse_args(argv)
    if args.against_default:
        return against_default(args.seeds, args.trials)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    torch.set_num_threads(1)
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in ARMS}
    run_arm("none", False, 0, 1, 1)  # warm-up: imports and first-call costs out of the clock
    for seed in range(args.seeds):
        for name, pruner, doctor in ARMS:
            r = run_arm(pruner, doctor, seed, args.trials, args.epochs, args.sampler)
            rows[name].append(r)
            print(f"seed {seed} {name:>14}: best {r['best']:.4f}  wall {r['wall']:6.1f} s  "
                  f"cpu {r['cpu']:6.1f} s  complete {r['complete']:2d}  pruned doctor "
                  f"{r['pruned_doctor']:2d} metric {r['pruned_metric']:2d}", flush=True)
    ref = rows["none"]
    print(f"\n{args.trials} trials x {args.seeds} seeds, {args.sampler} sampler, digits MLP, "
          f"{args.epochs} epochs per trial (timings on a shared machine are noisy; CPU is the "
          "steadier)")
    print(f"{'arm':>14} | {'best acc mean':>13} | {'best acc min':>12} | {'wall s':>7} | "
          f"{'cpu s':>7} | {'wall / none':>11} | {'cpu / none':>10} | pruned doctor/metric"
          + (" | best acc it pruned (doctor)" if args.sampler == "random" else ""))
    for name, _, _ in ARMS:
        rs = rows[name]
        wall_ratio = statistics.mean(r["wall"] / n["wall"] for r, n in zip(rs, ref, strict=True))
        cpu_ratio = statistics.mean(r["cpu"] / n["cpu"] for r, n in zip(rs, ref, strict=True))
        print(f"{name:>14} | {statistics.mean(r['best'] for r in rs):13.4f} | "
              f"{min(r['best'] for r in rs):12.4f} | {statistics.mean(r['wall'] for r in rs):7.1f} | "
              f"{statistics.mean(r['cpu'] for r in rs):7.1f} | {wall_ratio:11.2f} | "
              f"{cpu_ratio:10.2f} | {statistics.mean(r['pruned_doctor'] for r in rs):.1f}/"
              f"{statistics.mean(r['pruned_metric'] for r in rs):.1f}"
              + (f" | {_best_over(rs, ref, 'pruned'):.4f} "
                 f"({_best_over(rs, ref, 'pruned_by_doctor'):.4f})"
                 if args.sampler == "random" and name != "none" else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
