"""The sampling budget: sampled steps kept within a share of the training time.

A sampled step costs a fixed ~0.1-0.3 ms of probes (kernel launches and Python), which is
nothing beside a 10 ms step and a lot beside a 0.1 ms one. The budget measures both sides as
training runs: the duration of a plain step (the period between two ``close_step`` calls,
timed one step in a few, pauses clipped) and the extra time of each sampled step, and lets a
step the schedule picks be sampled only while the extra time stays within ``share`` of the
training time so far.
"""

from __future__ import annotations

import math

__all__ = ["SamplingBudget"]


class SamplingBudget:
    """Bookkeeping of the sampled steps' cost against the training time.

    Args:
        share: largest share of training time the sampled steps may take, or ``None`` (no
            limit: every step the schedule picks is sampled).
        free: steps before this one are sampled as the schedule says and cost nothing.
        max_gap: a step the schedule picks is sampled anyway when the last sample is this
            many steps back.
    """

    def __init__(self, share: float | None, *, free: int = 5, max_gap: int = 1000) -> None:
        self.share, self.free, self.max_gap = share, free, max_gap
        self.spent_ns = 0
        self.period_ns = 0.0

    @property
    def step_seconds(self) -> float | None:
        """Running estimate of one plain step's duration (seconds), ``None`` before the first."""
        return self.period_ns / 1e9 if self.period_ns else None

    def plain_period(self, ns: int) -> None:
        """A plain step took ``ns``; a pause (evaluation, other work) counts as 3 steps at most."""
        est = self.period_ns
        self.period_ns = ns if not est else est + 0.1 * (min(ns, 3 * est) - est)

    def charge(self, ns: float, step: int) -> None:
        """Count ``ns`` nanoseconds as the cost of sampling ``step`` (free steps cost nothing)."""
        if step >= self.free and ns > 0:
            self.spent_ns += int(ns)

    def extra(self, period_ns: int) -> float:
        """A period holding sampled work, less a plain step's duration (a pause in it, e.g.
        an evaluation, counts as at most 10 plain steps)."""
        est = self.period_ns
        return min(period_ns, 11 * est) - est if est else 0.0

    def allows(self, step: int, last_sample: int) -> bool:
        """Whether ``step``, picked by the schedule, may be sampled."""
        if self.share is None or step <= self.free or step - last_sample >= self.max_gap:
            return True
        # the training time so far: the steps after the free ones times a plain step's period
        return self.spent_ns <= self.share * self.period_ns * (step - self.free)

    def next_allowed(self, step: int, last_sample: int) -> int:
        """The first step after ``step`` that :meth:`allows` can pass if nothing more is spent
        and a plain step keeps its duration: the recorder need not ask before it."""
        if self.share is None or not self.period_ns:
            return step + 1
        due = self.free + math.ceil(self.spent_ns / (self.share * self.period_ns))
        return max(step + 1, min(last_sample + self.max_gap, due))
