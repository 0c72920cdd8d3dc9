"""Vital signs: probes on the model and optimizer, and the host-side timeline they fill."""

from torchdoctor.doctor.vitals._outputs import (
    Batch,
    Selector,
    accuracy,
    batch_stats,
    class_counts,
    interpret,
    other_dim_devs,
)
from torchdoctor.doctor.vitals._recorder import Recorder, default_schedule
from torchdoctor.doctor.vitals._records import measured
from torchdoctor.doctor.vitals._timeline import LayerInfo, Vitals, finite, series

__all__ = [
    "Batch",
    "LayerInfo",
    "Recorder",
    "Selector",
    "Vitals",
    "accuracy",
    "batch_stats",
    "class_counts",
    "default_schedule",
    "finite",
    "interpret",
    "measured",
    "other_dim_devs",
    "series",
]
