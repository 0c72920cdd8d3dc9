"""Datasets: the registry (the config's ``data.name``), preparation, checkup and shift tools.

>>> from torchdoctor.data import load
>>> bundle = load(cfg.data, seed=cfg.seed)
"""

from torchdoctor.data._prepare import (
    TARGET_POOL_FRACTION,
    DataBundle,
    Normalizer,
    load,
    prepare,
)
from torchdoctor.data._sources import DATASETS, RawDataset, load_npz, load_raw

__all__ = [
    "DATASETS",
    "TARGET_POOL_FRACTION",
    "DataBundle",
    "Normalizer",
    "RawDataset",
    "load",
    "load_npz",
    "load_raw",
    "prepare",
]
