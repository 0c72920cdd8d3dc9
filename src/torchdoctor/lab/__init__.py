"""The lab: each claim behind torchdoctor's remedies reproduced as a seeded experiment.

>>> import torchdoctor as td
>>> list(td.lab.EXPERIMENTS)                 # names, in page order
>>> result = td.lab.run("init_depth", quick=True)
>>> result.outcome.verdict, result.outcome.summary
>>> td.lab.run_all("lab-out", quick=True)    # every experiment: NAME.json, SVGs, lab.html

Each experiment is one module of :mod:`torchdoctor.lab.experiments` defining
``EXPERIMENT = Experiment(name, claim, reference, setup, measure)``; ``measure(ctx)`` returns an
:class:`Outcome` whose verdict is computed from :class:`Check` results. See docs/lab.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from torchdoctor.lab._experiment import (
    VERDICTS,
    Check,
    Context,
    Experiment,
    Figure,
    Outcome,
    finite_mean,
    verdict_from,
)
from torchdoctor.lab._page import PAGE_FILE, render_lab_page, write_lab_page
from torchdoctor.lab._registry import discover
from torchdoctor.lab._run import (
    LabResult,
    default_jobs,
    run_experiment,
    run_many,
    run_safely,
    write_result,
)

__all__ = [
    "EXPERIMENTS", "PAGE_FILE", "VERDICTS", "Check", "Context", "Experiment", "Figure",
    "LabResult", "Outcome", "default_jobs", "discover", "finite_mean", "get", "render_lab_page", "run", "run_all",
    "run_experiment", "run_many", "run_safely", "verdict_from", "write_lab_page", "write_result",
]


def __getattr__(name: str) -> Any:
    if name == "EXPERIMENTS":  # discovered on first use: importing the lab stays cheap
        value = discover()
        globals()["EXPERIMENTS"] = value
        return value
    raise AttributeError(f"module 'torchdoctor.lab' has no attribute {name!r}")


def _experiments() -> dict[str, Experiment]:
    return globals()["EXPERIMENTS"] if "EXPERIMENTS" in globals() else __getattr__("EXPERIMENTS")


def get(name: str) -> Experiment:
    """The experiment called ``name``; ValueError naming the allowed names otherwise."""
    experiments = _experiments()
    if name not in experiments:
        raise ValueError(f"unknown experiment {name!r}; allowed: {', '.join(experiments)}, all")
    return experiments[name]


def run(name: str, quick: bool = False, seeds: int | None = None) -> LabResult:
    """Run experiment ``name`` (``quick``: the seconds-long version; ``seeds``: how many)."""
    if seeds is not None and seeds < 1:
        raise ValueError(f"seeds = {seeds}: must be >= 1")
    return run_experiment(get(name), quick=quick, seeds=seeds)


def run_all(out: Path | str, *, quick: bool = False, seeds: int | None = None,
            jobs: int | None = None, names: Sequence[str] | None = None,
            on_result: Callable[[LabResult], None] | None = None,
            tick: Callable[[str, str], None] | None = None) -> list[LabResult]:
    """Run every experiment (or ``names``), writing ``out/NAME.json``, its figures and
    ``out/lab.html`` as each one finishes (a killed run keeps the finished ones).

    Args:
        out: the directory (created; must not be a file).
        quick: the seconds-long versions.
        seeds: seeds per experiment (default: each experiment's own; 1 when quick).
        jobs: worker processes (default :func:`default_jobs`).
        names: a subset, in page order; default all.
        on_result: called with each result as it finishes (after its files are written).
        tick: ``tick(name, what)`` for each unit of work done (drives a progress bar).

    Returns:
        The results in page order; a failed experiment has verdict ``not available``.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: is a file; give a directory")
    if seeds is not None and seeds < 1:
        raise ValueError(f"seeds = {seeds}: must be >= 1")
    exps = [get(n) for n in names] if names is not None else list(_experiments().values())
    order = {e.name: i for i, e in enumerate(exps)}
    finished: list[LabResult] = []

    def done(result: LabResult) -> None:
        write_result(result, out)
        finished.append(result)
        finished.sort(key=lambda r: order[r.experiment.name])
        write_lab_page(finished, out)
        if on_result is not None:
            on_result(result)

    return run_many(exps, quick=quick, seeds=seeds, jobs=jobs or default_jobs(), on_result=done,
                    tick=tick)
