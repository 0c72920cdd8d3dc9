"""``run_checkup``: data findings before training (``torchdoctor checkup``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from torchdoctor.catalogue import Thresholds, thresholds_from
from torchdoctor.data._arrays import check_labels
from torchdoctor.data.checkup import _rules
from torchdoctor.data.shift import as_2d
from torchdoctor.findings import SEVERITY_RANK, Finding

TASKS = ("classification", "regression", "gan")


def run_checkup(
    x_train: Any,
    y_train: Any,
    x_val: Any = None,
    y_val: Any = None,
    *,
    task: str = "classification",
    raw: bool = True,
    normalize: str | None = None,
    near_tol: float = 0.01,
    thresholds: Thresholds | dict[str, float] | None = None,
) -> tuple[list[Finding], dict]:
    """Inspect training (and validation) data; return findings and JSON-ready statistics.

    Args:
        x_train (array[N, D]): training inputs (images flattened), before normalization when
            ``raw`` is True.
        y_train (array[N]): training labels (classes when ``task="classification"``) or None.
        x_val (array[M, D]): validation inputs in the same space as ``x_train``, or None.
        y_val (array[M]): validation labels, or None.
        task: ``classification`` | ``regression`` | ``gan``; class balance only for
            classification.
        raw: ``x`` is before the pipeline's normalization; with a configured ``normalize``
            other than ``none`` the unnormalized-input finding is then only ``info``.
        normalize: the configured ``data.normalize`` mode, if known.
        near_tol: a validation row within ``near_tol`` × (median distance from a training row
            to its nearest other training row) of a training row is a near-duplicate.
        thresholds: the doctor's :class:`~torchdoctor.catalogue.Thresholds` (or a dict of
            field overrides); ``unnormalized_input`` and ``class_imbalance`` use the same
            values as the doctor's rules.

    Returns:
        ``(findings, stats)``: findings sorted by severity (``unnormalized_input``,
        ``class_imbalance``, ``duplicate_samples``, ``constant_feature``); ``stats`` holds
        ``n_train``, ``n_val``, ``n_features``, ``features`` (per-feature mean and std, summaries),
        ``classes`` (counts, ratio) and ``duplicates``.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if not near_tol >= 0:
        raise ValueError(f"near_tol must be >= 0, got {near_tol}")
    t = thresholds_from(thresholds)
    xt = as_2d(x_train, "x_train")
    xv = None if x_val is None else as_2d(x_val, "x_val")
    if xv is not None and xv.shape[1] != xt.shape[1]:
        raise ValueError(f"x_val must have {xt.shape[1]} features like x_train, got {xv.shape[1]}")
    yt = None if y_train is None else np.asarray(y_train)
    if yt is not None and (yt.ndim == 0 or yt.shape[0] != xt.shape[0]):
        raise ValueError(f"y_train must have {xt.shape[0]} rows like x_train, got shape {yt.shape}")
    if task == "classification" and yt is not None and yt.dtype.kind != "f":
        # the trainer's label checks (class labels 0..K-1, one per sample)
        yt, _, _ = check_labels(yt, xt.shape[0], "run_checkup", "y_train", min_classes=1)

    st = _rules.feature_stats(xt, t)
    findings: list[Finding] = []
    stats: dict[str, Any] = {
        "n_train": xt.shape[0], "n_val": 0 if xv is None else xv.shape[0],
        "n_features": xt.shape[1], "raw": raw,
        "features": {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                     for k, v in st.items() if k != "constant"},
        "recommended_normalize": _rules.recommend_normalize(st, t),
    }
    stats["features"]["constant_count"] = int(st["constant"].sum())
    f = _rules.unnormalized_input(st, raw=raw, normalize=normalize, t=t)
    if f:
        findings.append(f)
    if task == "classification" and yt is not None:
        f, info = _rules.class_imbalance(yt, t)
        stats["classes"] = info
        if y_val is not None:
            missing = np.setdiff1d(np.unique(np.asarray(y_val)), np.unique(yt))
            info["val_classes_missing_in_train"] = missing.tolist()
        if f:
            findings.append(f)
    f, info = _rules.duplicates(xt, xv, near_tol, t)
    stats["duplicates"] = info
    if f:
        findings.append(f)
    f = _rules.constant_features(st, t)
    if f:
        findings.append(f)
    findings.sort(key=lambda g: -SEVERITY_RANK[g.severity])
    return findings, stats
