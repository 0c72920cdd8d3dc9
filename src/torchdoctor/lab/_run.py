"""Running an experiment: seeds, budget, the result document and its files."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from torchdoctor.lab._experiment import Context, Experiment, Figure, Outcome


@dataclass
class LabResult:
    """A finished experiment: its outcome, figures and wall time (s)."""

    experiment: Experiment
    outcome: Outcome
    figures: list[Figure]
    seconds: float
    quick: bool
    seeds: int

    def to_json(self) -> dict[str, Any]:
        """The ``NAME.json`` document."""
        e, o = self.experiment, self.outcome
        return {
            "name": e.name, "claim": e.claim, "reference": e.reference, "verdict": o.verdict,
            "summary": o.summary, "table": o.table, "checks": [c.to_dict() for c in o.checks],
            "figures": [f"{e.name}-{f.name}.svg" for f in self.figures],
            "quick": self.quick, "seeds": self.seeds, "seconds": round(self.seconds, 2),
        }


def run_experiment(exp: Experiment, *, quick: bool = False, seeds: int | None = None,
                   tick: Any = None) -> LabResult:
    """Run ``exp`` (torch seeded, one thread unless set otherwise) and collect its result."""
    n = seeds if seeds is not None else (1 if quick else exp.default_seeds)
    ctx = Context(quick=quick, seeds=n, tick=tick)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    outcome = exp.measure(ctx)
    if not isinstance(outcome, Outcome):
        raise TypeError(f"experiment {exp.name}: measure returned {type(outcome).__name__}, "
                        "not Outcome")
    return LabResult(exp, outcome, list(ctx.figures), time.perf_counter() - t0, quick, n)


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
