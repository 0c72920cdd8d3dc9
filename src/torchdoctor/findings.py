"""Findings and remedies: the objects every diagnosis in torchdoctor returns.

A :class:`Finding` is one recognised symptom (a code from :data:`SYMPTOM_CODES`), with its
severity, a human message, where and when it was seen, and the evidence (the numbers, the
threshold and its source). :class:`Remedy` is one ranked cure: a sentence, a code snippet for a
user's own loop, and a config patch (dotted keys of the YAML config) that ``repair`` applies;
the patch is empty outside torchdoctor's own trainer (a Doctor in a user's loop gives none).

This module sits at the bottom of the package so that the doctor, the data checkup and the
shift tools can all produce the same objects.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from torchdoctor.catalogue import SPECS
from torchdoctor.rundir import jsonable

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[str, ...] = ("error", "warning", "info")
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "error": 2}

#: Every symptom code a finding may carry, with its one-line meaning, derived from the symptom
#: specs (:mod:`torchdoctor.catalogue`; the catalogue is ``docs/symptoms.md``).
SYMPTOM_CODES: dict[str, str] = {code: spec.meaning for code, spec in SPECS.items()}


@dataclass(frozen=True)
class Remedy:
    """One cure for a finding.

    Attributes:
        code: short identifier, e.g. ``"use_kaiming_init"``.
        description: one sentence a person reads.
        patch: config patch as dotted keys, e.g. ``{"model.init": "kaiming_normal"}``, set
            by torchdoctor's own trainer, ``diagnose`` and ``repair``; empty in a user's own
            loop and when the cure cannot be expressed in the config.
        snippet: a few lines of PyTorch for a user's own loop.
    """

    code: str
    description: str
    patch: dict[str, Any] = field(default_factory=dict)
    snippet: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Finding:
    """One recognised symptom with its evidence.

    Attributes:
        code: a key of :data:`SYMPTOM_CODES`.
        severity: ``"error"``, ``"warning"`` or ``"info"``.
        message: one or two sentences, with the key numbers.
        layer: qualified module name the symptom was seen in, or ``None``.
        step: optimizer step (0-based) of the first evidence, or ``None``.
        evidence: the numbers behind the verdict (values, threshold, source).
        remedies: ranked cures, best first.
    """

    code: str
    severity: Severity
    message: str
    layer: str | None = None
    step: int | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    remedies: list[Remedy] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.code not in SYMPTOM_CODES:
            raise ValueError(
                f"code must be one of {sorted(SYMPTOM_CODES)}, got {self.code!r}"
            )
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")

    @property
    def key(self) -> tuple[str, str | None]:
        """Identity used for deduplication: one finding per (code, layer)."""
        return (self.code, self.layer)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, one finding of ``diagnose --json`` (see ``docs/cli.md``)."""
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "layer": self.layer,
            "step": self.step,
            "evidence": jsonable(self.evidence),  # the run directory's encoding: NaN as "nan"
            "remedies": [r.to_dict() for r in self.remedies],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        return cls(
            code=d["code"],
            severity=d["severity"],
            message=d["message"],
            layer=d.get("layer"),
            step=d.get("step"),
            evidence=dict(d.get("evidence") or {}),
            remedies=[Remedy(**r) for r in d.get("remedies") or []],
        )


def worst_severity(findings: list[Finding]) -> str | None:
    """The most severe level among ``findings``, or ``None`` when there are none."""
    if not findings:
        return None
    return max((f.severity for f in findings), key=SEVERITY_RANK.__getitem__)
