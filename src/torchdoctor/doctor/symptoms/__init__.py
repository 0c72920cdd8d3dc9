"""Symptom rules: pure functions ``(Vitals, Thresholds) -> list[Finding]``, one per code.

Each code's meaning, thresholds (with sources), remedies and repair priority are its spec in
:mod:`torchdoctor.catalogue`; a rule compares its vitals against the ``Thresholds`` it is given.
"""

from torchdoctor.doctor.symptoms import (  # noqa: F401
    _activations,
    _data,
    _gan,
    _gradients,
    _io_shapes,
    _no_update,
    _progress,
)
from torchdoctor.doctor.symptoms._registry import RULES, diagnose, learning_failing, rule

__all__ = ["RULES", "diagnose", "learning_failing", "rule"]
