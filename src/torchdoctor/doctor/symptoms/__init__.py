"""Symptom rules: pure functions ``Vitals -> list[Finding]``, one per symptom code.

Each rule's thresholds are module constants whose docstrings name their source.
"""

from torchdoctor.doctor.symptoms import (  # noqa: F401
    _activations,
    _data,
    _gradients,
    _io_shapes,
    _no_update,
    _progress,
)
from torchdoctor.doctor.symptoms._registry import RULES, diagnose, learning_failing, rule

__all__ = ["RULES", "diagnose", "learning_failing", "rule"]
