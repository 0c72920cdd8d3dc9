"""The doctor: vital signs, symptoms and remedies for any PyTorch training loop.

``Doctor(model, optimizer)`` attaches probes; ``doctor.step(loss, ...)`` after each backward,
``doctor.observe(...)`` once per epoch; ``doctor.findings`` lists what is wrong, with the
evidence and ranked remedies (:mod:`torchdoctor.doctor.remedies`). What each symptom means,
its thresholds and its cures: :mod:`torchdoctor.catalogue` and ``docs/symptoms.md``.
"""

from torchdoctor.catalogue import Thresholds
from torchdoctor.doctor._doctor import (
    FLUSH_SECONDS,
    FREE_STEPS,
    INTERVAL,
    SAMPLE_BUDGET,
    SAMPLE_EVERY,
    Doctor,
)
from torchdoctor.doctor._explained import explain
from torchdoctor.doctor._history import carry_resolved
from torchdoctor.doctor._sinks import ConsoleSink, RunDirSink, Sink
from torchdoctor.doctor._tensorboard import TensorBoardSink, require_tensorboard
from torchdoctor.doctor._treat import LiveTreatment
from torchdoctor.doctor.remedies import remedies_for
from torchdoctor.doctor.symptoms import RULES, diagnose
from torchdoctor.doctor.vitals import Vitals
from torchdoctor.findings import Finding, Remedy

__all__ = [
    "ConsoleSink",
    "Doctor",
    "FLUSH_SECONDS",
    "FREE_STEPS",
    "Finding",
    "INTERVAL",
    "LiveTreatment",
    "RULES",
    "Remedy",
    "RunDirSink",
    "SAMPLE_BUDGET",
    "SAMPLE_EVERY",
    "Sink",
    "TensorBoardSink",
    "Thresholds",
    "Vitals",
    "carry_resolved",
    "diagnose",
    "explain",
    "remedies_for",
    "require_tensorboard",
]
