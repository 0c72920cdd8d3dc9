"""The lab: each claim behind torchdoctor's remedies reproduced as a seeded experiment.

>>> import torchdoctor as td
>>> list(td.lab.EXPERIMENTS)                 # names, in page order
>>> result = td.lab.run("init_depth", quick=True)
>>> result.outcome.verdict, result.outcome.summary

Each experiment is one module of :mod:`torchdoctor.lab.experiments` defining
``EXPERIMENT = Experiment(name, claim, reference, setup, measure)``; ``measure(ctx)`` returns an
:class:`Outcome` whose verdict is computed from :class:`Check` results. See docs/lab.md.
"""

from __future__ import annotations

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
from torchdoctor.lab._run import LabResult, run_experiment, write_result

__all__ = [
    "EXPERIMENTS", "VERDICTS", "Check", "Context", "Experiment", "Figure", "LabResult",
    "Outcome", "finite_mean", "run", "verdict_from", "write_result",
]


def __getattr__(name: str) -> Any:
    if name == "EXPERIMENTS":  # discovered on first use: importing the lab stays cheap
        from torchdoctor.lab._registry import discover

        value = discover()
        globals()["EXPERIMENTS"] = value
        return value
    raise AttributeError(f"module 'torchdoctor.lab' has no attribute {name!r}")


def run(name: str, quick: bool = False, seeds: int | None = None) -> LabResult:
    """Run experiment ``name`` (``quick``: the seconds-long version; ``seeds``: how many)."""
    experiments = __getattr__("EXPERIMENTS") if "EXPERIMENTS" not in globals() else globals()["EXPERIMENTS"]
    if name not in experiments:
        raise ValueError(f"unknown experiment {name!r}; allowed: {', '.join(experiments)}")
    return run_experiment(experiments[name], quick=quick, seeds=seeds)
