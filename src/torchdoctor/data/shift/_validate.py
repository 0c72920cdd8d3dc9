"""Input checks and small helpers shared by the shift tools (validate at the door)."""

from __future__ import annotations

from typing import Any

import numpy as np


def as_2d(x: Any, name: str) -> np.ndarray:
    """``x`` as a finite float64 array (N, D); 1-D input is one feature per sample."""
    try:
        arr = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array, got {type(x).__name__}") from exc
    if arr.ndim == 1:
        arr = arr[:, None]
    elif arr.ndim > 2:  # images: flatten per sample
        arr = arr.reshape(arr.shape[0], -1)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (N, D), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} must have at least one sample, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite, got {int((~np.isfinite(arr)).sum())} NaN/Inf values")
    return arr


def to_common_precision(*arrays: np.ndarray) -> list[np.ndarray]:
    """Round every array through float32.

    A domain classifier separates float32 from float64 copies of the *same* data (digits: AUC
    0.83 from rounding alone), so samples that reached us in different precisions would look
    shifted. Seven significant digits are plenty to compare distributions.
    """
    return [a.astype(np.float32).astype(np.float64) for a in arrays]


def check_pair(source: np.ndarray, target: np.ndarray, min_each: int = 2) -> None:
    """Both samples have the same features and enough rows."""
    if source.shape[1] != target.shape[1]:
        raise ValueError(
            f"source_X and target_X must have the same number of features, "
            f"got {source.shape[1]} and {target.shape[1]}"
        )
    for name, arr in (("source_X", source), ("target_X", target)):
        if arr.shape[0] < min_each:
            raise ValueError(f"{name} must have >= {min_each} samples, got {arr.shape[0]}")


def as_probs(p: Any, name: str) -> np.ndarray:
    """Rows of class probabilities (N, K): non-negative, summing to 1 (within 1e-3)."""
    arr = as_2d(p, name)
    if arr.shape[1] < 2:
        raise ValueError(f"{name} must have >= 2 classes (columns), got shape {arr.shape}")
    if (arr < 0).any():
        raise ValueError(f"{name} must be probabilities >= 0, got min {arr.min():.3g}")
    sums = arr.sum(axis=1)
    if np.abs(sums - 1.0).max() > 1e-3:
        raise ValueError(
            f"{name} rows must sum to 1 (pass softmax probabilities, not logits), "
            f"got row sums in [{sums.min():.4g}, {sums.max():.4g}]"
        )
    return arr / sums[:, None]


def positive_int(value: int, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (natural log, in nats; 0 ≤ JS ≤ ln 2) of two distributions."""
    p = np.asarray(p, dtype=np.float64) / np.sum(p)
    q = np.asarray(q, dtype=np.float64) / np.sum(q)
    m = 0.5 * (p + q)

    def kl(a: np.ndarray, b: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log(a[mask] / b[mask])))

    return 0.5 * kl(p, m) + 0.5 * kl(q, m)
