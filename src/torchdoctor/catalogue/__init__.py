"""The symptom catalogue: one spec per symptom code, one remedy registry, one threshold set.

Everything else is derived from here: ``torchdoctor.SYMPTOM_CODES``, the report's glossary,
the repair order, the doctor's and the checkup's remedies, and ``docs/symptoms.md``
(``python -m torchdoctor.catalogue``). To add a symptom, see ``docs/adding-a-symptom.md``.

>>> from torchdoctor.catalogue import SPECS, Thresholds, remedies_for
>>> SPECS["dead_relu"].thresholds
('dead_fraction', 'theta', 'min_progress')
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from torchdoctor.catalogue._remedies import REMEDIES, RemedyInfo, remedy_info
from torchdoctor.catalogue._spec import PRODUCERS, ROLES, SPECS, SymptomSpec, symptom
from torchdoctor.catalogue._thresholds import Thresholds, threshold_doc, thresholds_from

if TYPE_CHECKING:
    from torchdoctor.findings import Remedy

#: The spec modules, one per family of symptoms; they register their specs on import, and
#: this order is the order of the codes (``SYMPTOM_CODES``, ``docs/symptoms.md``).
_FAMILIES = ("_gradients", "_activations", "_data", "_loop", "_progress", "_checkup", "_gan")
for _family in _FAMILIES:
    importlib.import_module(f"torchdoctor.catalogue.{_family}")

__all__ = [
    "PRODUCERS", "REMEDIES", "ROLES", "SPECS", "RemedyInfo", "SymptomSpec", "Thresholds",
    "outcome_codes", "remedies_for", "remedy", "remedy_info", "repair_order", "spec",
    "symptom", "symptoms_markdown", "threshold_doc", "thresholds_from",
]


def spec(code: str) -> SymptomSpec:
    """The spec of symptom ``code``.

    Raises:
        ValueError: unknown code (the message lists the valid ones).
    """
    if code not in SPECS:
        raise ValueError(f"code must be one of {sorted(SPECS)}, got {code!r}")
    return SPECS[code]


def repair_order() -> tuple[str, ...]:
    """Every code in the order repair treats findings: by :attr:`SymptomSpec.rank`."""
    return tuple(sorted(SPECS, key=lambda c: SPECS[c].rank))


def outcome_codes() -> frozenset[str]:
    """Codes whose role is ``"outcome"`` (left out of repair's merged candidate when a cause
    or symptom was found)."""
    return frozenset(c for c, s in SPECS.items() if s.role == "outcome")


def remedy(code: str, *, description: str | None = None, snippet: str | None = None,
           **values: Any) -> Remedy:
    """The :class:`~torchdoctor.findings.Remedy` of remedy ``code`` (empty patch), its text
    filled from ``values``; ``description``/``snippet`` replace the text when the producer
    knows better (e.g. the user's own optimizer and rate).

    Raises:
        ValueError: unknown remedy code.
    """
    from torchdoctor.findings import Remedy

    text, code_snippet = remedy_info(code).text(**values)
    return Remedy(code, description if description is not None else text,
                  snippet=snippet if snippet is not None else code_snippet)


def remedies_for(code: str, **values: Any) -> list[Remedy]:
    """The ranked remedies of symptom ``code`` (new objects, empty patches), their text filled
    from ``values`` where they have fields.

    Raises:
        ValueError: ``code`` is not a symptom code.
    """
    return [remedy(r, **values) for r in spec(code).remedies]


def symptoms_markdown() -> str:
    """``docs/symptoms.md``: the catalogue as Markdown, generated from the specs."""
    from torchdoctor.catalogue._docs import symptoms_markdown as markdown  # only for the docs

    return markdown()
