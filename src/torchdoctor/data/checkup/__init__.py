"""Data checkup: normalization, class balance, train/validation duplicates, constant features.

Thresholds and remedies are the doctor's (:mod:`torchdoctor.catalogue`).

>>> findings, stats = run_checkup(x_train_raw, y_train, x_val_raw, y_val, normalize="standard")
"""

from torchdoctor.data.checkup._checkup import TASKS, run_checkup

__all__ = ["TASKS", "run_checkup"]
