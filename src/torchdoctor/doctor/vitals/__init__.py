"""Vital signs: probes on the model and optimizer, and the host-side timeline they fill."""

from torchdoctor.doctor.vitals._recorder import Recorder, default_schedule
from torchdoctor.doctor.vitals._records import measured
from torchdoctor.doctor.vitals._timeline import LayerInfo, Vitals, finite, series

__all__ = [
    "LayerInfo",
    "Recorder",
    "Vitals",
    "default_schedule",
    "finite",
    "measured",
    "series",
]
