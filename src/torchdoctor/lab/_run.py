"""Running experiments: seeds, budget, the result document and its files.

- :func:`run_experiment` runs one experiment in this process.
- :func:`run_safely` does the same but never raises: an experiment that fails becomes a
  result with verdict ``not available`` and its error in one line.
- :func:`run_many` runs several, in this process or in worker processes, and hands each result
  to ``on_result`` as soon as it is finished (so a killed run keeps the finished ones).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from torchdoctor.lab._experiment import Context, Experiment, Figure, Outcome

#: ``tick(experiment name, what was done)``: one unit of work finished.
Tick = Callable[[str, str], None]


@dataclass
class LabResult:
    """A finished experiment: its outcome, figures and wall time (s).

    ``error`` is the one-line error of an experiment that raised (its verdict is then
    ``not available``), else ``None``.
    """

    experiment: Experiment
    outcome: Outcome
    figures: list[Figure]
    seconds: float
    quick: bool
    seeds: int
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``NAME.json`` document."""
        e, o = self.experiment, self.outcome
        return {
            "name": e.name, "claim": e.claim, "reference": e.reference, "setup": e.setup,
            "verdict": o.verdict, "summary": o.summary, "table": o.table,
            "checks": [c.to_dict() for c in o.checks], "notes": o.notes, "error": self.error,
            "figures": [f"{e.name}-{f.name}.svg" for f in self.figures],
            "quick": self.quick, "seeds": self.seeds, "seconds": round(self.seconds, 2),
        }


def _seeds(exp: Experiment, quick: bool, seeds: int | None) -> int:
    n = seeds if seeds is not None else (1 if quick else exp.default_seeds)
    if n < 1:
        raise ValueError(f"seeds = {n}: must be >= 1")
    return n


def run_experiment(exp: Experiment, *, quick: bool = False, seeds: int | None = None,
                   tick: Callable[[str], None] | None = None) -> LabResult:
    """Run ``exp`` (torch seeded with 0 first) and collect its result; errors propagate."""
    from torchdoctor.report.charts import house_style

    n = _seeds(exp, quick, seeds)
    ctx = Context(quick=quick, seeds=n, tick=tick)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    with house_style():  # the figures' style, the caller's matplotlib untouched
        outcome = exp.measure(ctx)
    if not isinstance(outcome, Outcome):
        raise TypeError(f"experiment {exp.name}: measure returned {type(outcome).__name__}, "
                        "not Outcome")
    return LabResult(exp, outcome, list(ctx.figures), time.perf_counter() - t0, quick, n)


def one_line(exc: BaseException) -> str:
    """``Type: message`` on one line (at most 300 characters)."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= 300 else text[:297] + "..."


def failed_result(exp: Experiment, error: str, *, quick: bool, seeds: int,
                  seconds: float = 0.0) -> LabResult:
    """The result of an experiment that could not run: verdict ``not available``."""
    outcome = Outcome([], f"the experiment failed: {error}", [], verdict="not available")
    return LabResult(exp, outcome, [], seconds, quick, seeds, error=error)


def run_safely(exp: Experiment, *, quick: bool = False, seeds: int | None = None,
               tick: Callable[[str], None] | None = None) -> LabResult:
    """:func:`run_experiment` that reports an exception as a ``not available`` result."""
    n = _seeds(exp, quick, seeds)
    t0 = time.perf_counter()
    try:
        return run_experiment(exp, quick=quick, seeds=n, tick=tick)
    except Exception as exc:  # noqa: BLE001 - one experiment's failure must not stop the others
        return failed_result(exp, one_line(exc), quick=quick, seeds=n,
                             seconds=time.perf_counter() - t0)


def write_result(result: LabResult, out: Path) -> Path:
    """Write ``out/NAME.json`` and ``out/NAME-FIG.svg``; returns the JSON path."""
    from torchdoctor import rundir

    out.mkdir(parents=True, exist_ok=True)
    name = result.experiment.name
    for f in result.figures:
        rundir.atomic_write_text(out / f"{name}-{f.name}.svg", f.svg)
    path = out / f"{name}.json"
    rundir.atomic_write_json(path, result.to_json(), indent=1)
    return path


def default_jobs() -> int:
    """Worker processes for :func:`run_many`: ``min(2, CPUs available)``."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(2, cpus))


# ------------------------------------------------------------------ worker processes
_TICKS: Any = None  # the worker's queue of (name, what) ticks


def _init_worker(ticks: Any) -> None:
    global _TICKS
    _TICKS = ticks
    torch.set_num_threads(1)  # two workers on two cores: one thread each


def _work(exp: Experiment, quick: bool, seeds: int | None) -> LabResult:
    """Run ``exp`` in a worker (``exp`` arrives pickled: its ``measure`` is importable)."""
    tick = None if _TICKS is None else (lambda what: _TICKS.put((exp.name, what)))
    return run_safely(exp, quick=quick, seeds=seeds, tick=tick)


def run_many(experiments: Sequence[Experiment], *, quick: bool = False,
             seeds: int | None = None, jobs: int = 1,
             on_result: Callable[[LabResult], None] | None = None,
             tick: Tick | None = None) -> list[LabResult]:
    """Run ``experiments`` (``jobs`` > 1: in that many worker processes); never raises for
    a failing experiment. ``on_result`` gets each result as it finishes; the returned list is
    in the order of ``experiments``."""
    if jobs < 1:
        raise ValueError(f"jobs = {jobs}: must be >= 1")
    results: dict[str, LabResult] = {}

    def done(r: LabResult) -> None:
        results[r.experiment.name] = r
        if on_result is not None:
            on_result(r)

    if jobs == 1 or len(experiments) <= 1:
        for exp in experiments:
            t = None if tick is None else (lambda what, n=exp.name: tick(n, what))
            done(run_safely(exp, quick=quick, seeds=seeds, tick=t))
    else:
        _run_in_workers(experiments, quick, seeds, min(jobs, len(experiments)), done, tick)
    return [results[e.name] for e in experiments]


def _run_in_workers(experiments: Sequence[Experiment], quick: bool, seeds: int | None,
                    jobs: int, done: Callable[[LabResult], None], tick: Tick | None) -> None:
    import multiprocessing as mp
    import queue
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    ctx = mp.get_context("spawn")  # no fork of a process whose torch threads already run
    ticks = ctx.Queue()

    def drain() -> None:
        while True:
            try:
                name, what = ticks.get_nowait()
            except (queue.Empty, OSError, EOFError):
                return
            if tick is not None:
                tick(name, what)

    by_future = {}
    with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_worker,
                             initargs=(ticks,)) as pool:
        for exp in experiments:
            by_future[pool.submit(_work, exp, quick, seeds)] = exp
        pending = set(by_future)
        try:
            while pending:
                finished, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                drain()
                for fut in finished:
                    exp = by_future[fut]
                    try:
                        done(fut.result())
                    except Exception as exc:  # noqa: BLE001 - a worker died: report, go on
                        done(failed_result(exp, one_line(exc), quick=quick,
                                           seeds=_seeds(exp, quick, seeds)))
        except BaseException:  # Ctrl-C: drop the queued experiments, keep what is written
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    drain()
