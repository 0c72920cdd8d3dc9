"""Vital signs: probes on the model and optimizer, and the host-side timeline they fill."""

from torchdoctor.doctor.vitals._budget import SamplingBudget
from torchdoctor.doctor.vitals._layout import Block, Layout
from torchdoctor.doctor.vitals._outputs import (
    Batch,
    BatchView,
    accuracy,
    batch_stats,
    class_counts,
    interpret,
    other_dim_devs,
    view,
)
from torchdoctor.doctor.vitals._recorder import MAX_HIST_CLASSES, Recorder, default_schedule
from torchdoctor.doctor.vitals._records import measured, vitals_layout
from torchdoctor.doctor.vitals._reduce import RankReducer, rank_world
from torchdoctor.doctor.vitals._select import Selector
from torchdoctor.doctor.vitals._stats import ACTIVATION_KINDS
from torchdoctor.doctor.vitals._timeline import LayerInfo, Vitals, finite, series
from torchdoctor.doctor.vitals._updates import stepped_ids

__all__ = [
    "ACTIVATION_KINDS",
    "MAX_HIST_CLASSES",
    "Batch",
    "BatchView",
    "Block",
    "LayerInfo",
    "Layout",
    "RankReducer",
    "Recorder",
    "SamplingBudget",
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
    "rank_world",
    "series",
    "stepped_ids",
    "view",
    "vitals_layout",
]
