"""What a lab experiment is: a claim, a setup, and a function that measures it.

An experiment module in :mod:`torchdoctor.lab.experiments` defines one module-level
``EXPERIMENT = Experiment(...)``. Its ``measure(ctx)`` trains and measures, draws figures with
``ctx.figure``, and returns an :class:`Outcome` whose verdict comes from named numeric
:class:`Check` results (:func:`verdict_from`), never from a hand-written word.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Verdict = Literal["reproduced", "partly", "not reproduced", "not available"]
VERDICTS: tuple[str, ...] = ("reproduced", "partly", "not reproduced", "not available")


@dataclass(frozen=True)
class Check:
    """One measured test of the claim, e.g. ``GN error < BN error at batch 2``.

    Attributes:
        name: what was tested, in words, with the compared quantities.
        passed: the outcome, computed from the numbers.
        detail: the numbers behind it (``"GN 0.21 vs BN 0.34"``).
    """

    name: str
    passed: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": bool(self.passed), "detail": self.detail}


def verdict_from(checks: Sequence[Check]) -> Verdict:
    """``reproduced`` when every check passed, ``not reproduced`` when none did, else ``partly``."""
    if not checks:
        raise ValueError("an experiment's verdict needs at least one check")
    passed = sum(bool(c.passed) for c in checks)
    if passed == len(checks):
        return "reproduced"
    return "not reproduced" if passed == 0 else "partly"


@dataclass(frozen=True)
class Figure:
    """A drawn figure: ``name`` (file stem, unique in the experiment), inline ``svg``, ``caption``."""

    name: str
    svg: str
    caption: str = ""


@dataclass
class Outcome:
    """What ``measure`` returns.

    Attributes:
        checks: the numeric tests; the verdict is computed from them.
        summary: one line with the key numbers.
        table: rows (dicts of str → number or str), one per measured setting.
        verdict: set by :func:`verdict_from` unless the experiment is ``not available`` (a
            verdict given otherwise must agree with the checks).
        notes: optional plain-text remarks (what differs from the paper's setting).
    """

    checks: list[Check]
    summary: str
    table: list[dict[str, Any]]
    verdict: Verdict | None = None
    notes: str = ""

    def __post_init__(self) -> None:
        if self.verdict is None:
            self.verdict = verdict_from(self.checks)
        elif self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r}: allowed: {', '.join(VERDICTS)}")
        elif self.verdict != "not available" and self.verdict != verdict_from(self.checks):
            raise ValueError(f"verdict {self.verdict!r} disagrees with the checks "
                             f"({verdict_from(self.checks)!r}): leave it to the checks")


class Context:
    """Handed to ``measure``: the budget (``quick``, ``seeds``) and the figure sink.

    Attributes:
        quick: the short version (tests and previews: at most a few seconds on one core).
        seeds: how many seeds to average over (>= 1).
        figures: the figures drawn so far, in order.
    """

    def __init__(self, *, quick: bool, seeds: int,
                 tick: Callable[[str], None] | None = None) -> None:
        if seeds < 1:
            raise ValueError(f"seeds = {seeds}: must be >= 1")
        self.quick = quick
        self.seeds = seeds
        self.figures: list[Figure] = []
        self._tick = tick

    def figure(self, fig: Any, name: str, caption: str = "") -> None:
        """Keep matplotlib figure ``fig`` (made with :func:`torchdoctor.report.charts.figure`)."""
        from torchdoctor.report.charts import figure_svg

        if any(f.name == name for f in self.figures):
            raise ValueError(f"figure name {name!r} used twice in one experiment")
        self.figures.append(Figure(name, figure_svg(fig, title=caption or name), caption))

    def progress(self, what: str) -> None:
        """Report one unit of work done (drives the progress bar; cheap)."""
        if self._tick is not None:
            self._tick(what)


@dataclass(frozen=True)
class Experiment:
    """A lab experiment.

    Attributes:
        name: the CLI name (``torchdoctor lab NAME``), lowercase with ``_``.
        claim: the claim in our words, one sentence.
        reference: the paper(s) it comes from (authors, year, title, table or figure).
        setup: what is trained and measured, a short paragraph.
        measure: ``ctx -> Outcome``.
        default_seeds: seeds of the full run (``--quick`` uses 1 unless ``--seeds`` says).
    """

    name: str
    claim: str
    reference: str
    setup: str
    measure: Callable[[Context], Outcome]
    default_seeds: int = 3
    order: int = field(default=100, compare=False)

    def __post_init__(self) -> None:
        if not self.name.replace("_", "").isalnum() or self.name != self.name.lower():
            raise ValueError(f"experiment name {self.name!r}: lowercase letters, digits and _")


def finite_mean(values: Sequence[float]) -> float:
    """Mean of the finite values (NaN when there are none): a diverged seed does not poison it."""
    xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return sum(xs) / len(xs) if xs else float("nan")


def out_path(out: Path | str | None) -> Path | None:
    return None if out is None else Path(out)
