"""What does drawing the run report with matplotlib cost? Old hand-written SVG vs matplotlib.

A long synthetic run (``--steps`` 4,000 recorded steps, ``--layers`` 20 layers, 30 epochs, one
NaN loss, activation statistics on every 10th step) is written to a run directory with
:mod:`torchdoctor.rundir`, read back once, and its report page is rendered side by side in
this process by

- the old code: the hand-written SVG charts and PNG heat map as they were before the move to
  matplotlib (``report/_svg.py``, ``report/_heatmap.py`` and the sections using them, read
  from git at :data:`OLD_REV` into a temporary package), and
- the new code: ``torchdoctor.report.render_html`` (matplotlib, inline SVG).

Printed: wall and CPU seconds per page (best of ``--repeat``, old and new interleaved), page
size in bytes, and the ratios new/old; also the full ``build_report`` (reading the logs too)
and the cost of the first draw (matplotlib's import). Timings on a shared machine are noisy:
the CPU-time ratio is the steadier one.

    python benchmarks/bench_report.py [--steps 4000] [--layers 20] [--repeat 3]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import importlib  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: The last commit with the hand-written SVG charts.
OLD_REV = "ff378931a7163675f32377c07dc39f7b0a92f2ae"
OLD_MODULES = ("_svg", "_heatmap", "_sections", "_html")


def synthetic_run(n_steps: int, n_layers: int, epochs: int = 30, seed: int = 0) -> dict[str, Any]:
    """Config, metrics, vitals and findings of a long run whose early layers' gradients vanish."""
    rng = random.Random(seed)
    layers = [f"blocks.{i}.conv" for i in range(n_layers)]
    vitals = []
    for s in range(n_steps):
        sampled = s % 10 == 0
        per = {}
        for i, name in enumerate(layers):
            g = 10.0 ** (-1 - 0.3 * (n_layers - 1 - i)) * (1 + 0.2 * rng.random()) * (1 - 0.5 * s / n_steps)
            per[name] = {"grad_norm": g, "param_norm": 5.0 + i, "update_ratio": g / (5.0 + i) * 0.05,
                         "act_mean": 0.5 * 0.9**i if sampled else None,
                         "act_std": 0.9**i if sampled else None,
                         "frac_zero": min(1.0, 0.02 * i) if sampled else None,
                         "frac_saturated": 0.0 if sampled else None}
        loss = 2.3 * math.exp(-s / (n_steps / 3)) + 0.05 * rng.random()
        vitals.append({"step": s, "epoch": s * epochs // n_steps,
                       "loss": float("nan") if s == n_steps // 2 else loss,
                       "grad_norm": math.sqrt(sum(v["grad_norm"] ** 2 for v in per.values())),
                       "layers": per})
    metrics = [{"epoch": e, "train_loss": 2.3 / e, "val_loss": 2.4 / e, "train_accuracy": 1 - 0.9 / e,
                "val_accuracy": 1 - 0.95 / e} for e in range(1, epochs + 1)]
    findings = [{"code": "vanishing_gradient", "severity": "error", "message": "early layers",
                 "layer": layers[0], "step": 10, "evidence": {"grad_norm": 1e-7}, "remedies": []}]
    config = {"seed": seed, "model": {"arch": "mlp", "depth": n_layers}, "train": {"epochs": epochs}}
    return {"config": config, "metrics": metrics, "vitals": vitals, "findings": findings}


def write_run_dir(d: Path, run: dict[str, Any]) -> None:
    import yaml

    from torchdoctor import rundir

    d.mkdir(parents=True, exist_ok=True)
    rundir.atomic_write_text(d / rundir.CONFIG_FILE, yaml.safe_dump(run["config"]))
    rundir.rewrite_jsonl(d / rundir.METRICS_FILE, run["metrics"])
    rundir.rewrite_jsonl(d / rundir.VITALS_FILE, run["vitals"])
    rundir.atomic_write_json(d / rundir.FINDINGS_FILE, run["findings"])


def old_render_html(tmp: Path) -> Callable[..., str] | None:
    """``render_html`` of the hand-written SVG code at :data:`OLD_REV`, or ``None`` (no git)."""
    pkg = tmp / "old_report"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name in OLD_MODULES:
        try:
            text = subprocess.run(
                ["git", "-C", str(ROOT), "show", f"{OLD_REV}:src/torchdoctor/report/{name}.py"],
                capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return None
        for other in OLD_MODULES:
            text = text.replace(f"torchdoctor.report.{other} ", f"old_report.{other} ")
        (pkg / f"{name}.py").write_text(text)
    sys.path.insert(0, str(tmp))
    return importlib.import_module("old_report._html").render_html  # type: ignore[no-any-return]


def best_of(fn: Callable[[], str], repeat: int) -> tuple[float, float, int]:
    """(best wall s, best CPU s, page bytes) over ``repeat`` calls."""
    walls, cpus, size = [], [], 0
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        page = fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
        size = len(page.encode("utf-8"))
    return min(walls), min(cpus), size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--layers", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from torchdoctor.report import build_report, render_html
    from torchdoctor.rundir import read_jsonl

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        run_dir = tmp / "run"
        write_run_dir(run_dir, synthetic_run(args.steps, args.layers))
        t0 = time.perf_counter()
        vitals = read_jsonl(run_dir / "vitals.jsonl")
        read_s = time.perf_counter() - t0
        run = synthetic_run(args.steps, args.layers)
        inputs = {"title": "bench", "config": run["config"], "metrics": run["metrics"],
                  "vitals": vitals, "findings": run["findings"], "summary": {}}
        t0 = time.perf_counter()
        render_html(**inputs)  # first draw: imports matplotlib
        first = time.perf_counter() - t0
        old = old_render_html(tmp)
        new_t: list[tuple[float, float, int]] = []
        old_t: list[tuple[float, float, int]] = []
        for _ in range(args.repeat):  # interleaved: both sides see the same machine load
            new_t.append(best_of(lambda: render_html(**inputs), 1))
            if old is not None:
                old_t.append(best_of(lambda: old(**inputs), 1))  # type: ignore[misc]
        t0 = time.perf_counter()
        build_report(run_dir)
        build_s = time.perf_counter() - t0

    def best(rows: list[tuple[float, float, int]]) -> tuple[float, float, int]:
        return min(r[0] for r in rows), min(r[1] for r in rows), rows[-1][2]

    print(f"run: {args.steps} recorded steps x {args.layers} layers; reading vitals.jsonl {read_s:.2f} s")
    print(f"first page (matplotlib import included): {first:.2f} s wall")
    nw, nc, nb = best(new_t)
    print(f"{'':28s}{'wall s':>9s}{'CPU s':>9s}{'page bytes':>12s}")
    if old_t:
        ow, oc, ob = best(old_t)
        print(f"{'old (hand-written SVG)':28s}{ow:9.2f}{oc:9.2f}{ob:12,d}")
    print(f"{'new (matplotlib SVG)':28s}{nw:9.2f}{nc:9.2f}{nb:12,d}")
    if old_t:
        print(f"{'ratio new / old':28s}{nw / ow:9.2f}{nc / oc:9.2f}{nb / ob:12.2f}")
    else:
        print("old code unavailable (no git history): new numbers only")
    print(f"build_report (read logs + render + write): {build_s:.2f} s wall")


if __name__ == "__main__":
    main()
