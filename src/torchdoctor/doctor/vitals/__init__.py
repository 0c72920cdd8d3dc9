"""Vital signs: probes on the model and optimizer, and the host-side timeline they fill."""

from torchdoctor.doctor.vitals._budget import SamplingBudget
from torchdoctor.doctor.vitals._layout import Block, Layout
from torchdoctor.doctor.vitals._recorder import MAX_HIST_CLASSES, Recorder, default_schedule
from torchdoctor.doctor.vitals._records import measured, vitals_layout
from torchdoctor.doctor.vitals._timeline import LayerInfo, Vitals, finite, series

__all__ = [
    "MAX_HIST_CLASSES",
    "Block",
    "LayerInfo",
    "Layout",
    "Recorder",
    "SamplingBudget",
    "Vitals",
    "default_schedule",
    "finite",
    "measured",
    "series",
    "vitals_layout",
]
