"""Data checkup: normalization, class balance, train/validation duplicates, constant features.

>>> findings, stats = run_checkup(x_train_raw, y_train, x_val_raw, y_val, normalize="standard")
"""

from torchdoctor.data.checkup._checkup import TASKS, run_checkup
from torchdoctor.data.checkup._rules import (
    CENTRE_TOL,
    IMBALANCE_ERROR,
    IMBALANCE_WARN,
    SCALE_TOL,
    SPREAD_TOL,
)

__all__ = [
    "CENTRE_TOL",
    "IMBALANCE_ERROR",
    "IMBALANCE_WARN",
    "SCALE_TOL",
    "SPREAD_TOL",
    "TASKS",
    "run_checkup",
]
