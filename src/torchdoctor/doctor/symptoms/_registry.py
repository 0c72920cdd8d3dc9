"""The symptom registry and the helpers every rule shares.

A rule is a pure function ``(Vitals, Thresholds) -> list[Finding]`` registered under its symptom
code with :func:`rule`; the code must have a spec in :mod:`torchdoctor.catalogue` (meaning,
thresholds with sources, remedies, repair priority). :func:`diagnose` runs them all (a rule that
raises is skipped with a logged warning) and deduplicates by ``(code, layer)``, keeping the most
severe.
"""

from __future__ import annotations

import logging
import math
import statistics
from collections.abc import Callable
from typing import Any

from torchdoctor.catalogue import SPECS, Thresholds, thresholds_from
from torchdoctor.doctor.vitals import Vitals, finite, series
from torchdoctor.findings import SEVERITY_RANK, Finding

__all__ = [
    "DEFAULT", "RULES", "diagnose", "epoch_values", "finding", "gate",
    "learning_failing", "loss_drop", "losses", "median", "recent", "rule", "train_accuracy",
]

log = logging.getLogger("torchdoctor")

Rule = Callable[[Vitals, Thresholds], list[Finding]]
#: Registered rules by symptom code, in registration order.
RULES: dict[str, Rule] = {}
#: The default thresholds (each documented with its source in ``docs/symptoms.md``).
DEFAULT = Thresholds()


def rule(code: str) -> Callable[[Rule], Rule]:
    """Register ``fn`` as the rule of symptom ``code``.

    Raises:
        ValueError: ``code`` has no spec in :mod:`torchdoctor.catalogue`, or already a rule.
    """
    if code not in SPECS or SPECS[code].producer != "rule":
        raise ValueError(f"code must have a spec with producer 'rule' in torchdoctor.catalogue, "
                         f"got {code!r}")

    def deco(fn: Rule) -> Rule:
        if code in RULES:
            raise ValueError(f"code must be registered once, got a second rule for {code!r}")
        RULES[code] = fn
        return fn

    return deco


def diagnose(vitals: Vitals, codes: list[str] | None = None, *,
             thresholds: Thresholds | dict[str, float] | None = None) -> list[Finding]:
    """Run the rules (all, or ``codes``) on ``vitals``; deduplicated, most severe first.

    Args:
        vitals: the recorded timeline.
        codes: the rules to run (default: all).
        thresholds: a :class:`Thresholds`, a dict of field overrides, or None (defaults).

    Raises:
        ValueError: an entry of ``codes`` has no rule, or a bad ``thresholds``.
    """
    t = thresholds_from(thresholds)
    names = list(RULES) if codes is None else list(codes)
    unknown = [c for c in names if c not in RULES]
    if unknown:
        raise ValueError(f"codes must name registered rules {sorted(RULES)}, got {unknown}")
    best: dict[tuple[str, str | None], Finding] = {}
    for code in names:
        try:
            found = RULES[code](vitals, t)
        except Exception as exc:  # a rule must never break training
            log.warning("torchdoctor: rule %r failed (%s: %s)", code, type(exc).__name__, exc)
            continue
        for f in found:
            old = best.get(f.key)
            if old is None or SEVERITY_RANK[f.severity] > SEVERITY_RANK[old.severity]:
                best[f.key] = f
    return sorted(best.values(), key=lambda f: (-SEVERITY_RANK[f.severity], f.code, f.layer or ""))


def finding(code: str, severity: str, message: str, *, layer: str | None = None,
            step: int | None = None, **evidence: Any) -> Finding:
    """Build a finding; ``evidence`` keyword arguments become its evidence dict."""
    return Finding(code=code, severity=severity, message=message, layer=layer,  # type: ignore[arg-type]
                   step=step, evidence=evidence)


def median(values: list[float]) -> float | None:
    vals = [v for v in values if finite(v)]
    return statistics.median(vals) if vals else None


def losses(v: Vitals) -> list[tuple[int, float]]:
    """Finite ``(step, loss)`` pairs."""
    return [(s, x) for s, x in series(v.records, "loss") if math.isfinite(x)]


def loss_drop(v: Vitals, min_points: int = 30) -> float | None:
    """Relative fall of the loss: (mean of the first 10 % - mean of the last 20 %) / first.

    ``None`` with fewer than ``min_points`` finite losses or a first loss near 0.
    """
    ls = [x for _, x in losses(v)]
    if len(ls) < min_points:
        return None
    head = ls[: max(5, len(ls) // 10)]
    tail = ls[-max(5, len(ls) // 5):]
    first, last = sum(head) / len(head), sum(tail) / len(tail)
    if abs(first) < 1e-8:
        return None
    return (first - last) / abs(first)


def epoch_values(v: Vitals, key: str) -> list[float]:
    """Finite values of one epoch metric, in epoch order."""
    return [float(e[key]) for e in v.epochs if finite(e.get(key))]


def train_accuracy(v: Vitals) -> float | None:
    """Latest training accuracy: from the epochs, else from the last sampled steps."""
    acc = epoch_values(v, "train_accuracy")
    if acc:
        return acc[-1]
    recs = [r for r in v.records if r.get("train_count")][-20:]
    if not recs:
        return None
    return sum(r["train_correct"] for r in recs) / sum(r["train_count"] for r in recs)


def learning_failing(v: Vitals, t: Thresholds = DEFAULT) -> bool:
    """Is learning failing? (AUTOTRAINER's gate before a gradient symptom becomes an error.)

    True when a loss is non-finite, when after two epochs the training accuracy is below
    ``t.theta``, or when the loss fell by less than ``t.min_progress`` of its first value.
    """
    if any(isinstance(r.get("loss"), str) for r in v.records):
        return True
    acc = epoch_values(v, "train_accuracy")
    if len(acc) >= 2 and max(acc[-2:]) < t.theta:
        return True
    drop = loss_drop(v)
    return drop is not None and drop < t.min_progress


def gate(v: Vitals, fallback: str = "info", t: Thresholds = DEFAULT) -> str:
    """``"error"`` when learning fails (:func:`learning_failing`), else ``fallback``."""
    return "error" if learning_failing(v, t) else fallback


def recent(records: list[dict[str, Any]], frac: float = 1 / 3, minimum: int = 3) -> list[dict[str, Any]]:
    """The last ``frac`` of ``records`` (at least ``minimum``)."""
    k = max(minimum, int(len(records) * frac))
    return records[-k:]
