"""What a finding that comes and goes is: the one policy the console, ``doctor.findings`` and
the report share.

Rules run again at every diagnosis on the whole timeline, so a symptom can appear (dead units
at step 25) and later vanish (the units recovered). Policy:

- a finding that was reported at warning or error and is no longer raised is **kept**,
  marked resolved: severity ``info``, message prefixed ``Resolved (steps a-b):``, evidence
  ``resolved=True``, ``peak_severity``, ``first_step``, ``last_seen_step``. So everything the
  console announced is still in ``doctor.findings`` and in the report, and warning+ in the
  final list means "still wrong at the end";
- ``nonfinite`` is never resolved: a NaN that happened corrupted the run, even if a live
  treatment rolled it back;
- a finding raised again replaces its resolved entry (and is announced again);
- a finding whose severity fell (error -> warning, e.g. once learning recovered) keeps its
  ``peak_severity`` in the evidence.
"""

from __future__ import annotations

import dataclasses

from torchdoctor.findings import SEVERITY_RANK, Finding

__all__ = ["NEVER_RESOLVED", "carry_resolved"]

#: Codes that stay at their severity once raised.
NEVER_RESOLVED = frozenset({"nonfinite"})


def _peak(f: Finding) -> str:
    return str(f.evidence.get("peak_severity", f.severity))


def carry_resolved(old: list[Finding], new: list[Finding], step: int) -> tuple[list[Finding], list[Finding]]:
    """Merge the previous findings into a fresh diagnosis (module docstring).

    Args:
        old: the findings before this diagnosis (resolved ones included).
        new: what the rules raise now.
        step: the current step (the last step a vanished finding was seen at, roughly).

    Returns:
        ``(findings, newly_resolved)``: the merged list (most severe first) and the findings
        that were resolved by this diagnosis (for a console line).
    """
    fresh = {f.key: f for f in new}
    merged = list(new)
    resolved: list[Finding] = []
    for f in old:
        was = _peak(f)
        if f.key in fresh:
            g = fresh[f.key]
            if SEVERITY_RANK[was] > SEVERITY_RANK[_peak(g)]:
                g.evidence["peak_severity"] = was
            continue
        if SEVERITY_RANK[was] < SEVERITY_RANK["warning"]:
            continue
        if f.evidence.get("resolved"):
            merged.append(f)
            continue
        if f.code in NEVER_RESOLVED:
            merged.append(f)
            continue
        first = f.evidence.get("first_step", f.step)
        ev = {**f.evidence, "resolved": True, "peak_severity": was, "first_step": first,
              "last_seen_step": step}
        span = f"steps {first}-{step}" if first is not None else f"until step {step}"
        r = dataclasses.replace(f, severity="info", message=f"Resolved ({span}): {f.message}", evidence=ev)
        merged.append(r)
        resolved.append(r)
    merged.sort(key=lambda f: (-SEVERITY_RANK[f.severity], f.code, f.layer or ""))
    return merged, resolved
