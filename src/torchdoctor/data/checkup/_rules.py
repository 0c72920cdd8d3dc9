"""Checkup rules: pure functions from arrays to findings, each with named thresholds and sources."""

from __future__ import annotations

from typing import Any

import numpy as np

from torchdoctor.findings import Finding, Remedy

#: |feature mean| above this (in units of the input) is "not centred" (LeCun et al. 1998,
#: "Efficient BackProp" §4.3: inputs should average to ~0; seed 003 §14 cause 1).
CENTRE_TOL = 1.0
#: Feature std outside [1/SCALE_TOL, SCALE_TOL] is "not unit scale" (same source).
SCALE_TOL = 10.0
#: Max/min std across non-constant features above this: features on very different scales.
SPREAD_TOL = 10.0
#: |x| above this somewhere means an error rather than a warning: saturating scales.
HUGE_VALUE = 1e3
#: Largest/smallest class count from which the imbalance is a warning / an error
#: (imbalanced-learn and He & Garcia 2009 call 1:10 "strong"; 1:3 is where losses start to tilt).
IMBALANCE_WARN, IMBALANCE_ERROR = 3.0, 10.0
#: Share of validation rows duplicated in training from which leakage is an error.
LEAK_ERROR_SHARE = 0.05
#: A feature with std <= CONST_TOL * (1 + |mean|) is constant.
CONST_TOL = 1e-8


def feature_stats(x: np.ndarray) -> dict[str, Any]:
    """Per-feature centre and scale (D,) and their summaries."""
    mean, std = x.mean(axis=0), x.std(axis=0)
    const = std <= CONST_TOL * (1.0 + np.abs(mean))
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


def recommend_normalize(st: dict[str, Any]) -> str:
    """``data.normalize`` mode for these statistics (DESIGN.md names)."""
    if st["integer_valued"] and st["min"] >= 0 and 16 < st["max"] <= 255 and st["std_spread"] < SPREAD_TOL:
        return "unit"  # 8-bit pixels: (x - 127.5) / 127.5, seed 000 §4
    return "standard"  # z-score per feature: handles unequal scales and offsets


def unnormalized_input(st: dict[str, Any], *, raw: bool, normalize: str | None) -> Finding | None:
    live = ~st["constant"]
    off_centre = int((np.abs(st["mean"][live]) > CENTRE_TOL).sum())
    bad_scale = int(((st["std"][live] > SCALE_TOL) | (st["std"][live] < 1.0 / SCALE_TOL)).sum())
    spread = st["std_spread"] > SPREAD_TOL
    if not (off_centre or bad_scale or spread):
        return None
    mode = recommend_normalize(st)
    huge = max(abs(st["min"]), abs(st["max"])) > HUGE_VALUE
    handled = raw and normalize not in (None, "none")
    severity = "info" if handled else ("error" if huge else "warning")
    msg = (f"Inputs are not zero-mean, unit-scale: {off_centre} feature(s) off centre (max |mean| "
           f"{st['abs_mean_max']:.3g}), {bad_scale} with std outside [{1 / SCALE_TOL:g}, "
           f"{SCALE_TOL:g}] (std {st['std_min']:.3g}–{st['std_max']:.3g}); use "
           f"normalize: {mode}.")
    if handled:
        msg += f" The configured normalize: {normalize} takes care of it."
    remedies = [Remedy(f"normalize_{mode}", f"Normalize inputs ({mode}) with statistics of the "
                       "training data only.", {"data.normalize": mode},
                       "mean, std = x_train.mean(0), x_train.std(0) + 1e-8\n"
                       "x = (x - mean) / std")]
    if mode != "standard":
        remedies.append(Remedy("normalize_standard", "Z-score each feature.",
                               {"data.normalize": "standard"}))
    return Finding("unnormalized_input", severity, msg, evidence={
        "abs_mean_max": st["abs_mean_max"], "std_min": st["std_min"], "std_max": st["std_max"],
        "std_spread": st["std_spread"], "features_off_centre": off_centre,
        "features_bad_scale": bad_scale, "value_range": [st["min"], st["max"]],
        "raw": raw, "recommended": mode,
        "threshold": f"|mean| > {CENTRE_TOL}, std outside [{1 / SCALE_TOL:g}, {SCALE_TOL:g}], "
                     f"std spread > {SPREAD_TOL}",
        "source": "LeCun et al. 1998 Efficient BackProp §4.3; seed 003 §14"}, remedies=remedies)


def class_imbalance(y: np.ndarray) -> tuple[Finding | None, dict[str, Any]]:
    classes, counts = np.unique(y, return_counts=True)
    ratio = float(counts.max() / counts.min())
    info = {"classes": classes.tolist(), "counts": counts.tolist(), "ratio": ratio}
    if ratio < IMBALANCE_WARN:
        return None, info
    weights = counts.sum() / (classes.size * counts)
    w_txt = ", ".join(f"{w:.3g}" for w in weights)
    small = classes[np.argmin(counts)].item()
    return Finding(
        "class_imbalance", "error" if ratio >= IMBALANCE_ERROR else "warning",
        f"Classes are unequal: largest/smallest count = {ratio:.1f} "
        f"({counts.max()} vs {counts.min()}, smallest class {small!r}).",
        evidence={**info, "class_weights": weights.tolist(),
                  "threshold": f"ratio >= {IMBALANCE_WARN} warning, >= {IMBALANCE_ERROR} error",
                  "source": "He & Garcia 2009 (imbalanced learning); seed 003 §12"},
        remedies=[
            Remedy("class_weights", "Weight the loss by inverse class frequency "
                   "N / (K · n_k).", {"train.class_weight": "balanced"}, f"weight = torch.tensor([{w_txt}])\n"
                   "loss_fn = torch.nn.CrossEntropyLoss(weight=weight)"),
            Remedy("focal_loss", "Use the focal loss, which down-weights easy (majority) "
                   "examples (Lin et al. 2017).", {"train.loss": "focal"}),
            Remedy("resample", "Oversample rare classes with a weighted sampler.", {},
                   "w = (1.0 / counts)[y_train]\nsampler = torch.utils.data.WeightedRandomSampler("
                   "w, num_samples=len(w))"),
        ]), info


def _row_keys(x: np.ndarray, decimals: int) -> np.ndarray:
    r = np.ascontiguousarray(np.round(x, decimals) + 0.0)  # +0.0 folds -0.0 into 0.0
    return r.view(np.dtype((np.void, r.dtype.itemsize * r.shape[1]))).ravel()


def duplicates(x_train: np.ndarray, x_val: np.ndarray | None, near_tol: float
               ) -> tuple[Finding | None, dict[str, Any]]:
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
        "duplicate_samples", "error" if share >= LEAK_ERROR_SHARE else "warning",
        f"{n_exact} validation row(s) also occur in training and {n_near} more are near "
        f"copies ({100 * share:.1f}% of validation): validation scores are optimistic.",
        evidence={**info, "near_tol": near_tol,
                  "threshold": f"distance <= {near_tol} x median train nearest-neighbour "
                               f"distance; error from {LEAK_ERROR_SHARE:.0%} of validation",
                  "source": "Kaufman et al. 2012, Leakage in data mining"},
        remedies=[Remedy("deduplicate", "Remove validation rows that duplicate training rows "
                         "(or split by source/group so copies stay on one side).", {},
                         "keep = ~np.isin(row_keys(x_val), row_keys(x_train))")]), info


def constant_features(st: dict[str, Any]) -> Finding | None:
    const = np.flatnonzero(st["constant"])
    if const.size == 0:
        return None
    share = const.size / st["constant"].size
    return Finding(
        "constant_feature", "warning" if share >= 0.5 else "info",
        f"{const.size} of {st['constant'].size} input features never vary in training "
        f"(e.g. {const[:8].tolist()}); they carry no information.",
        evidence={"indices": const.tolist(), "count": int(const.size), "share": share,
                  "threshold": f"std <= {CONST_TOL:g} x (1 + |mean|)", "source": "definition"},
        remedies=[Remedy("drop_constant", "Drop constant features (they also get std 0 under "
                         "z-scoring, which must not divide by 0).", {},
                         "keep = x_train.std(0) > 0\nx = x[:, keep]")])
