"""The symptom spec: everything the package knows about one symptom code, in one place.

A :class:`SymptomSpec` holds a code's meaning, what its rule measures, the thresholds it
compares against (fields of :class:`~torchdoctor.catalogue.Thresholds`), its remedies (codes
of the remedy registry, best first), its repair priority and who produces it. Specs are
registered with :func:`symptom`, which checks every reference at import time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from torchdoctor.catalogue._remedies import REMEDIES
from torchdoctor.catalogue._thresholds import Thresholds

__all__ = ["PRODUCERS", "ROLES", "SPECS", "SymptomSpec", "symptom"]

#: Repair roles, treated in this order: a setup bug (cause) before the mechanism it produces
#: (symptom), before what the run shows in the end (outcome).
ROLES: tuple[str, ...] = ("cause", "symptom", "outcome")
#: Who produces findings of a code: a doctor rule (``torchdoctor.doctor.symptoms``), the data
#: checkup, the shift check, or nobody yet (``reserved``: a code of the public contract whose
#: producer is still to be built).
PRODUCERS: tuple[str, ...] = ("rule", "checkup", "shift", "reserved")


@dataclass(frozen=True)
class SymptomSpec:
    """One symptom code.

    Attributes:
        code: the finding code, e.g. ``"dead_relu"``.
        meaning: one line: what is wrong.
        evidence: what the rule measures and when it fires (a sentence or two).
        remedies: remedy codes, best first (keys of the remedy registry).
        role: ``"cause"``, ``"symptom"`` or ``"outcome"`` (see :data:`ROLES`). Repair leaves
            outcomes out of its merged candidate when a cause or symptom was found.
        rank: position in the repair order, lower first (unique; causes usually 100-199,
            symptoms 200-299, outcomes 300-399, codes repair never sees 400+).
        thresholds: names of the :class:`Thresholds` fields the producer compares against.
        producer: one of :data:`PRODUCERS`.
        live: what ``Doctor(treat=True)`` does about it while training ("" for nothing).
    """

    code: str
    meaning: str
    evidence: str
    remedies: tuple[str, ...]
    role: str
    rank: int
    thresholds: tuple[str, ...] = ()
    producer: str = "rule"
    live: str = ""


#: Every symptom spec by code, in registration order.
SPECS: dict[str, SymptomSpec] = {}
_THRESHOLD_NAMES = frozenset(f.name for f in dataclasses.fields(Thresholds))


def symptom(code: str, meaning: str, evidence: str, *, remedies: tuple[str, ...], role: str,
            rank: int, thresholds: tuple[str, ...] = (), producer: str = "rule",
            live: str = "") -> SymptomSpec:
    """Register the spec of ``code`` and return it.

    Raises:
        ValueError: ``code`` registered twice, an unknown remedy code or threshold name, a
            role not in :data:`ROLES`, a producer not in :data:`PRODUCERS`, a rank already
            taken, or no remedies.
    """
    if code in SPECS:
        raise ValueError(f"symptom code must be registered once, got a second {code!r}")
    unknown = [r for r in remedies if r not in REMEDIES]
    if unknown or not remedies:
        raise ValueError(f"remedies of {code!r} must be non-empty codes of the remedy registry, "
                         f"got unknown {unknown or 'none given'}")
    if len(set(remedies)) != len(remedies):
        raise ValueError(f"remedies of {code!r} must not repeat, got {remedies}")
    bad = [t for t in thresholds if t not in _THRESHOLD_NAMES]
    if bad:
        raise ValueError(f"thresholds of {code!r} must be fields of Thresholds "
                         f"({', '.join(sorted(_THRESHOLD_NAMES))}), got {bad}")
    if role not in ROLES:
        raise ValueError(f"role of {code!r} must be one of {ROLES}, got {role!r}")
    if producer not in PRODUCERS:
        raise ValueError(f"producer of {code!r} must be one of {PRODUCERS}, got {producer!r}")
    taken = {s.rank: s.code for s in SPECS.values()}
    if rank in taken:
        raise ValueError(f"rank of {code!r} must be unique, got {rank} (taken by {taken[rank]!r})")
    spec = SymptomSpec(code, meaning, evidence, tuple(remedies), role, rank, tuple(thresholds),
                       producer, live)
    SPECS[code] = spec
    return spec
