"""Dataset arrays checked at the door, for the trainer and the checkup alike.

Every refusal is a ``ValueError`` of one line that starts with the source (``data.name =
npz:PATH``), names the array, shows the offending value and says what is allowed. The checks:
inputs are a real numeric array (N, features...) with at least one sample and one feature,
finite and within float32; labels are one per sample; integer labels are classes 0..K-1 with
K <= :data:`MAX_CLASSES` and (for training data) at least two classes present; float targets
are finite regression targets (N,) or (N, T).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["FLOAT32_MAX", "MAX_CLASSES", "check_inputs", "check_labels"]

#: Most classes a dataset may have (labels 0..MAX_CLASSES-1); a label of 10^9 is a mistake.
MAX_CLASSES = 10_000
#: Largest finite float32: inputs are cast to float32 for the model.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _kind_of(a: np.ndarray) -> str:
    if a.dtype.kind in "US":
        return "strings"
    if a.dtype.kind == "O":
        return "Python objects"
    if a.dtype.kind == "c":
        return "complex numbers"
    if a.dtype.kind == "V":
        return "records"
    if a.dtype.kind == "M" or a.dtype.kind == "m":
        return "dates/times"
    return str(a.dtype)


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask.reshape(len(mask), -1).any(axis=1))[0])


def check_inputs(x: Any, source: str, name: str = "x") -> np.ndarray:
    """``x`` as a float32 array (N, ...) of rank 2, 3 or 4, or ``ValueError``.

    Args:
        x: the inputs: tabular (N, D), sequences (N, C, L) or images (N, C, H, W).
        source: what the message starts with, e.g. ``"data.name = npz:d.npz"``.
        name: the array's name in the message.
    """
    a = np.asarray(x)
    if a.ndim == 0:
        raise ValueError(f"{source}: {name} is a single value; expected an array of samples "
                         "(N, features), (N, C, L) or (N, C, H, W)")
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{source}: {name} holds {_kind_of(a)}; expected real numbers")
    if a.ndim not in (2, 3, 4):
        raise ValueError(f"{source}: {name} has shape {a.shape}; expected rank 2 (N, features), "
                         "3 (N, C, L) or 4 (N, C, H, W)")
    if a.shape[0] == 0:
        raise ValueError(f"{source}: {name} has 0 samples (shape {a.shape}); expected at least 2")
    if int(np.prod(a.shape[1:])) == 0:
        raise ValueError(f"{source}: {name} has 0 features per sample (shape {a.shape}); "
                         "expected at least 1")
    if a.dtype.kind == "f":
        bad = ~np.isfinite(a)
        if bad.any():
            raise ValueError(f"{source}: {name} holds {int(bad.sum())} NaN/Inf value(s) (first in "
                             f"sample {_first_bad(bad)}); expected finite numbers")
    big = float(np.abs(a).max()) if a.dtype.kind != "b" else 1.0
    if big > FLOAT32_MAX:
        raise ValueError(f"{source}: {name} holds values up to {big:.3g}; expected |x| <= "
                         f"{FLOAT32_MAX:.3g} (float32)")
    return a.astype(np.float32)


def check_labels(y: Any, n: int, source: str, name: str = "y", *,
                 min_classes: int = 2) -> tuple[np.ndarray, str, int]:
    """Labels or targets for ``n`` samples: ``(y, task, num_classes)``, or ``ValueError``.

    Integer (or boolean) ``y`` of shape (N,) or (N, 1) are class labels 0..K-1 → int64,
    ``"classification"``, K = max + 1. Float ``y`` of shape (N,) or (N, T) are regression
    targets → float32, ``"regression"``, 0.

    Args:
        y: the labels or targets.
        n: the number of samples (rows of ``x``).
        source: what the message starts with.
        name: the array's name in the message.
        min_classes: distinct classes required (2 for training data; 1 for a target sample).
    """
    a = np.asarray(y)
    if a.ndim == 0:
        raise ValueError(f"{source}: {name} is a single value; expected one label per sample ({n},)")
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{source}: {name} holds {_kind_of(a)}; expected integer class labels "
                         "0..K-1 or float regression targets")
    if len(a) != n:
        raise ValueError(f"{source}: {name} has {len(a)} rows but x has {n}; expected one per sample")
    if a.dtype.kind in "biu":
        if a.ndim == 2 and a.shape[1] == 1:
            a = a[:, 0]
        if a.ndim != 1:
            raise ValueError(f"{source}: {name} has shape {a.shape}; class labels must be one "
                             f"integer per sample ({n},) (one-hot rows: take argmax; regression "
                             "targets: store floats)")
        a = a.astype(np.int64)
        lo, hi = int(a.min()), int(a.max())
        if lo < 0:
            raise ValueError(f"{source}: {name} has class label {lo}; expected labels 0..K-1")
        if hi >= MAX_CLASSES:
            raise ValueError(f"{source}: {name} has class label {hi}; expected labels 0..K-1 with "
                             f"K <= {MAX_CLASSES}")
        present = np.unique(a)
        if len(present) < min_classes:
            raise ValueError(f"{source}: {name} has only class {present.tolist()[0]}; a "
                             f"classifier needs at least {min_classes} classes")
        return a, "classification", hi + 1
    if a.ndim not in (1, 2) or (a.ndim == 2 and a.shape[1] == 0):
        raise ValueError(f"{source}: {name} has shape {a.shape}; regression targets must be "
                         f"({n},) or ({n}, T) with T >= 1")
    bad = ~np.isfinite(a)
    if bad.any():
        raise ValueError(f"{source}: {name} holds {int(bad.sum())} NaN/Inf value(s) (first in "
                         f"sample {_first_bad(bad)}); expected finite targets")
    big = float(np.abs(a).max())
    if big > FLOAT32_MAX:
        raise ValueError(f"{source}: {name} holds values up to {big:.3g}; expected |y| <= "
                         f"{FLOAT32_MAX:.3g} (float32)")
    return a.astype(np.float32), "regression", 0
