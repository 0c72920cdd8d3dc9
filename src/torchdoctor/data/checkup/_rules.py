"""Checkup rules: pure functions from arrays to findings.

They compare against the same :class:`~torchdoctor.catalogue.Thresholds` as the doctor's rules and
give the same remedy codes (the symptom specs in :mod:`torchdoctor.catalogue`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from torchdoctor.catalogue import Thresholds, remedies_for
from torchdoctor.findings import Finding

__all__ = ["class_imbalance", "constant_features", "duplicates", "feature_stats",
           "recommend_normalize", "unnormalized_input"]

#: The default thresholds, shared with the doctor's rules (documented in ``docs/symptoms.md``).
DEFAULT = Thresholds()


def feature_stats(x: np.ndarray, t: Thresholds = DEFAULT) -> dict[str, Any]:
    """Per-feature centre and scale (D,) and their summaries (constant: ``t.constant_tol``)."""
    mean, std = x.mean(axis=0), x.std(axis=0)
    const = std <= t.constant_tol * (1.0 + np.abs(mean))
    live = std[~const]
    return {
        "mean": mean, "std": std, "constant": const,
        "min": float(x.min()), "max": float(x.max()),
        "abs_mean_max": float(np.abs(mean).max()),
        "std_min": float(live.min()) if live.size else 0.0,
        "std_max": float(live.max()) if live.size else 0.0,
        "std_spread": float(live.max() / live.min()) if live.size else 1.0,
        "integer_valued": bool(np.all(np.equal(np.mod(x, 1), 0))),
    }


def recommend_normalize(st: dict[str, Any], t: Thresholds = DEFAULT) -> str:
    """Normalization mode for these statistics, a ``data.normalize`` value of the config
    (``docs/config.md``): ``"unit"`` for 8-bit pixels, else ``"standard"``."""
    if (st["integer_valued"] and st["min"] >= 0 and 16 < st["max"] <= 255
            and st["std_spread"] < t.feature_scale_spread):
        return "unit"  # 8-bit pixels: (x - 127.5) / 127.5
    return "standard"  # z-score per feature: handles unequal scales and offsets


#: Remedy code of each normalization mode.
_MODE_REMEDY = {"standard": "normalize_inputs", "unit": "scale_pixels", "minmax": "minmax_inputs"}


def unnormalized_input(st: dict[str, Any], *, raw: bool, normalize: str | None,
                       t: Thresholds = DEFAULT) -> Finding | None:
    """Features off centre (``|mean| > t.input_mean_max``), off unit scale (std outside
    ``[t.input_scale_low, t.input_scale_high]``) or on unequal scales (std spread >
    ``t.feature_scale_spread``). An error when some ``|x| > t.input_huge``; info when the
    configured ``normalize`` takes care of raw inputs. Remedies: the symptom's, the
    recommended mode first (8-bit pixels only get ``scale_pixels``)."""
    live = ~st["constant"]
    off_centre = int((np.abs(st["mean"][live]) > t.input_mean_max).sum())
    bad_scale = int(((st["std"][live] > t.input_scale_high)
                     | (st["std"][live] < t.input_scale_low)).sum())
    spread = st["std_spread"] > t.feature_scale_spread
    if not (off_centre or bad_scale or spread):
        return None
    mode = recommend_normalize(st, t)
    huge = max(abs(st["min"]), abs(st["max"])) > t.input_huge
    handled = raw and normalize not in (None, "none")
    severity = "info" if handled else ("error" if huge else "warning")
    msg = (f"Inputs are not zero-mean, unit-scale: {off_centre} feature(s) off centre (max |mean| "
           f"{st['abs_mean_max']:.3g}), {bad_scale} with std outside [{t.input_scale_low:g}, "
           f"{t.input_scale_high:g}] (std {st['std_min']:.3g}–{st['std_max']:.3g}); use "
           f"normalize: {mode}.")
    if handled:
        msg += f" The configured normalize: {normalize} takes care of it."
    first = _MODE_REMEDY[mode]
    remedies = [r for r in remedies_for("unnormalized_input")
                if r.code != "scale_pixels" or mode == "unit"]
    remedies.sort(key=lambda r: r.code != first)
    return Finding("unnormalized_input", severity, msg, evidence={
        "abs_mean_max": st["abs_mean_max"], "std_min": st["std_min"], "std_max": st["std_max"],
        "std_spread": st["std_spread"], "features_off_centre": off_centre,
        "features_bad_scale": bad_scale, "value_range": [st["min"], st["max"]],
        "raw": raw, "recommended": mode,
        "threshold": f"|mean| > {t.input_mean_max:g}, std outside [{t.input_scale_low:g}, "
                     f"{t.input_scale_high:g}], std spread > {t.feature_scale_spread:g}",
        "source": "LeCun et al. 1998, Efficient BackProp, section 4.3"}, remedies=remedies)


def class_imbalance(y: np.ndarray, t: Thresholds = DEFAULT) -> tuple[Finding | None, dict[str, Any]]:
    """Largest / smallest class count at or above ``t.imbalance_ratio`` (the doctor's
    threshold): a warning, with the inverse-frequency class weights in the evidence."""
    classes, counts = np.unique(y, return_counts=True)
    ratio = float(counts.max() / counts.min())
    info = {"classes": classes.tolist(), "counts": counts.tolist(), "ratio": ratio}
    if ratio < t.imbalance_ratio:
        return None, info
    weights = counts.sum() / (classes.size * counts)
    small = classes[np.argmin(counts)].item()
    return Finding(
        "class_imbalance", "warning",
        f"Classes are unequal: largest/smallest count = {ratio:.1f} "
        f"({counts.max()} vs {counts.min()}, smallest class {small!r}; threshold "
        f"{t.imbalance_ratio:g}).",
        evidence={**info, "class_weights": weights.tolist(), "threshold": t.imbalance_ratio,
                  "source": "SageMaker Debugger ClassImbalance threshold_imbalance; "
                            "He & Garcia 2009 (imbalanced learning)"},
        remedies=remedies_for("class_imbalance")), info


def _row_keys(x: np.ndarray, decimals: int) -> np.ndarray:
    r = np.ascontiguousarray(np.round(x, decimals) + 0.0)  # +0.0 folds -0.0 into 0.0
    return r.view(np.dtype((np.void, r.dtype.itemsize * r.shape[1]))).ravel()


def duplicates(x_train: np.ndarray, x_val: np.ndarray | None, near_tol: float,
               t: Thresholds = DEFAULT) -> tuple[Finding | None, dict[str, Any]]:
    """Exact (to 6 decimals) and near duplicates of validation rows in the training rows."""
    kt = _row_keys(x_train, 6)
    info: dict[str, Any] = {"train_internal_duplicates": int(kt.size - np.unique(kt).size)}
    if x_val is None:
        return None, info
    kv = _row_keys(x_val, 6)
    exact = np.isin(kv, kt)
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=2).fit(x_train)
    d_train = nn.kneighbors(x_train, 2)[0][:, 1]  # nearest *other* training row
    typical = float(np.median(d_train[d_train > 0])) if (d_train > 0).any() else 0.0
    d_val = nn.kneighbors(x_val, 1)[0][:, 0]
    near = (d_val <= near_tol * typical) & ~exact
    n_exact, n_near = int(exact.sum()), int(near.sum())
    share = (n_exact + n_near) / x_val.shape[0]
    info.update({"val_exact_in_train": n_exact, "val_near_in_train": n_near,
                 "leak_share": share, "typical_nn_distance": typical})
    if n_exact + n_near == 0:
        return None, info
    return Finding(
        "duplicate_samples", "error" if share >= t.leak_error_share else "warning",
        f"{n_exact} validation row(s) also occur in training and {n_near} more are near "
        f"copies ({100 * share:.1f}% of validation): validation scores are optimistic.",
        evidence={**info, "near_tol": near_tol,
                  "threshold": f"distance <= {near_tol} x median train nearest-neighbour "
                               f"distance; error from {t.leak_error_share:.0%} of validation",
                  "source": "Kaufman et al. 2012, Leakage in data mining"},
        remedies=remedies_for("duplicate_samples")), info


def constant_features(st: dict[str, Any], t: Thresholds = DEFAULT) -> Finding | None:
    const = np.flatnonzero(st["constant"])
    if const.size == 0:
        return None
    share = const.size / st["constant"].size
    return Finding(
        "constant_feature", "warning" if share >= 0.5 else "info",
        f"{const.size} of {st['constant'].size} input features never vary in training "
        f"(e.g. {const[:8].tolist()}); they carry no information.",
        evidence={"indices": const.tolist(), "count": int(const.size), "share": share,
                  "threshold": f"std <= {t.constant_tol:g} x (1 + |mean|)", "source": "definition"},
        remedies=remedies_for("constant_feature"))
