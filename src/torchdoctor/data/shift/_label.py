"""Label shift: estimate the target class priors q(y) when P(x | y) is unchanged
(Lipton et al. 2018; Alexandari et al. 2020).

- **BBSE** (Lipton, Wang & Smola 2018): with the source confusion matrix
  ``C[i, j] = P_s(ŷ = i, y = j)`` (held-out source data) and the target prediction rates
  ``μ[i] = P_t(ŷ = i)``, the weights ``w = q / p`` solve ``C w = μ``.
- **EM** (Saerens, Latinne & Decaestecker 2002): alternate re-weighting the target posteriors by
  ``q / p`` and re-estimating ``q`` as their mean; a maximum-likelihood estimate of ``q``.
- **BCTS** (Alexandari, Kundaje & Shrikumar 2020): EM needs calibrated posteriors; fit one
  temperature ``T`` and one bias per class on held-out source data (``softmax(log p / T + b)``,
  NLL), then run EM with the source priors taken as the mean calibrated source prediction.

The weights returned are ``q(y) / p(y)`` with ``p`` the class frequencies of ``source_labels``:
multiply the loss of a training example of class ``y`` by ``weights[y]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize

from torchdoctor.data.shift._validate import as_probs

METHODS = ("bbse", "em")
CALIBRATIONS = ("auto", "bcts", "none")
_EPS = 1e-12


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_bcts(probs: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Bias-corrected temperature scaling: ``(T, b)`` minimizing the NLL of ``softmax(log p/T + b)``.

    Args:
        probs (array[N, K]): held-out source probabilities.
        labels (array[N]): their integer labels in ``[0, K)``.
    """
    z = np.log(np.clip(probs, _EPS, 1.0))
    n, k = z.shape
    onehot = np.zeros_like(z)
    onehot[np.arange(n), labels] = 1.0

    def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        log_t, b = theta[0], theta[1:]
        t = np.exp(log_t)
        u = z / t + b
        u = u - u.max(axis=1, keepdims=True)
        logq = u - np.log(np.exp(u).sum(axis=1, keepdims=True))
        loss = -float((onehot * logq).sum()) / n
        g = (np.exp(logq) - onehot) / n  # d loss / d u
        grad = np.concatenate([[float((g * (-z / t)).sum())], g.sum(axis=0)])
        return loss, grad

    res = minimize(nll, np.zeros(k + 1), jac=True, method="L-BFGS-B",
                   bounds=[(np.log(0.05), np.log(20.0))] + [(None, None)] * k)
    return float(np.exp(res.x[0])), res.x[1:] - res.x[1:].mean()


def apply_bcts(probs: np.ndarray, temperature: float, bias: np.ndarray) -> np.ndarray:
    """Calibrated probabilities ``softmax(log p / T + b)`` (N, K)."""
    return _softmax(np.log(np.clip(probs, _EPS, 1.0)) / temperature + bias)


def em_priors(
    target_probs: np.ndarray, source_priors: np.ndarray, tol: float = 1e-8, max_iter: int = 1000
) -> tuple[np.ndarray, int, bool]:
    """Saerens EM: target priors q (K,), iterations used, converged flag."""
    q = source_priors.copy()
    for it in range(1, max_iter + 1):
        post = target_probs * (q / source_priors)
        post /= post.sum(axis=1, keepdims=True)
        q_new = post.mean(axis=0)
        if np.abs(q_new - q).max() < tol:
            return q_new, it, True
        q = q_new
    return q, max_iter, False


def bbse_weights(
    source_probs: np.ndarray, source_labels: np.ndarray, target_probs: np.ndarray
) -> np.ndarray:
    """BBSE weights ``w = C⁻¹ μ`` (K,) from hard predictions, clipped at 0 (least squares)."""
    k = source_probs.shape[1]
    pred_s = source_probs.argmax(axis=1)
    c = np.zeros((k, k))
    np.add.at(c, (pred_s, source_labels), 1.0)
    c /= source_labels.size
    mu = np.bincount(target_probs.argmax(axis=1), minlength=k) / target_probs.shape[0]
    w, *_ = np.linalg.lstsq(c, mu, rcond=None)
    return np.clip(w, 0.0, None)


@dataclass
class LabelShiftResult:
    """Outcome of :func:`estimate_label_shift`.

    Attributes:
        target_priors (array[K]): estimated q(y), sums to 1.
        source_priors (array[K]): p(y), the class frequencies of ``source_labels``.
        weights (array[K]): q(y) / p(y); a training example of class y gets ``weights[y]``.
        corrected_probs (array[N_t, K]): prior-corrected target posteriors
            ``∝ f(y|x) · q(y) / p̂(y)`` (f calibrated when calibration is used).
        method, calibration: what was run; ``temperature`` and ``bias`` of BCTS (or 1, 0).
        n_iter, converged: EM iterations (0 and True for BBSE).
        model_priors (array[K]): p̂(y) the correction divides by (mean calibrated source
            prediction for EM+BCTS, else ``source_priors``).
    """

    target_priors: np.ndarray
    source_priors: np.ndarray
    weights: np.ndarray
    corrected_probs: np.ndarray = field(repr=False)
    method: str = "em"
    calibration: str = "bcts"
    temperature: float = 1.0
    bias: np.ndarray | None = field(default=None, repr=False)
    n_iter: int = 0
    converged: bool = True
    model_priors: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (without the per-sample corrected probabilities)."""
        return {"method": self.method, "calibration": self.calibration,
                "target_priors": self.target_priors.tolist(),
                "source_priors": self.source_priors.tolist(), "weights": self.weights.tolist(),
                "temperature": self.temperature, "n_iter": self.n_iter,
                "converged": self.converged}


def estimate_label_shift(
    source_probs: Any,
    source_labels: Any,
    target_probs: Any,
    *,
    method: str = "em",
    calibration: str = "auto",
    tol: float = 1e-8,
    max_iter: int = 1000,
) -> LabelShiftResult:
    """Estimate target class priors, weights q/p and prior-corrected target predictions.

    Args:
        source_probs (array[N_s, K]): a classifier's probabilities on *held-out* source data
            (validation, not the training rows: their confusion matrix is optimistic).
        source_labels (array[N_s]): integer labels in ``[0, K)`` of those rows.
        target_probs (array[N_t, K]): the same classifier's probabilities on unlabeled target data.
        method: ``"em"`` (Saerens EM, default) or ``"bbse"`` (confusion-matrix inversion).
        calibration: ``"bcts"``, ``"none"``, or ``"auto"`` (BCTS for EM, none for BBSE, as
            Alexandari et al. 2020 recommend).
        tol, max_iter: EM stopping rule (max change of q).

    Returns:
        LabelShiftResult with ``target_priors``, ``weights``, ``corrected_probs``.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if calibration not in CALIBRATIONS:
        raise ValueError(f"calibration must be one of {CALIBRATIONS}, got {calibration!r}")
    ps = as_probs(source_probs, "source_probs")
    pt = as_probs(target_probs, "target_probs")
    k = ps.shape[1]
    if pt.shape[1] != k:
        raise ValueError(f"target_probs must have {k} columns like source_probs, got {pt.shape[1]}")
    y = np.asarray(source_labels)
    if y.shape != (ps.shape[0],):
        raise ValueError(f"source_labels must have shape ({ps.shape[0]},), got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= k:
        raise ValueError(f"source_labels must be integers in [0, {k}), got values {np.unique(y)[:10]}")
    p_freq = np.bincount(y, minlength=k) / y.size
    if (p_freq == 0).any():
        raise ValueError(
            f"source_labels must contain every class, got no rows of class(es) "
            f"{np.flatnonzero(p_freq == 0).tolist()}"
        )
    calib = ("bcts" if method == "em" else "none") if calibration == "auto" else calibration
    t, b = 1.0, np.zeros(k)
    if calib == "bcts":
        t, b = fit_bcts(ps, y)
        ps, pt = apply_bcts(ps, t, b), apply_bcts(pt, t, b)
    if method == "em":
        p_model = ps.mean(axis=0) if calib == "bcts" else p_freq  # Alexandari et al. 2020
        q, n_iter, converged = em_priors(pt, p_model, tol, max_iter)
    else:
        w = bbse_weights(ps, y, pt)
        q = w * p_freq
        q = q / q.sum() if q.sum() > 0 else p_freq.copy()
        p_model, n_iter, converged = p_freq, 0, True
    corrected = pt * (q / p_model)
    corrected /= corrected.sum(axis=1, keepdims=True)
    return LabelShiftResult(
        target_priors=q, source_priors=p_freq, weights=q / p_freq, corrected_probs=corrected,
        method=method, calibration=calib, temperature=t, bias=b, n_iter=n_iter,
        converged=converged, model_priors=p_model,
    )


class LabelShiftEstimator:
    """Estimator form of :func:`estimate_label_shift` (scikit-learn conventions).

    Example:
        >>> est = LabelShiftEstimator(method="em").fit(val_probs, val_labels, target_probs)
        >>> est.target_priors_, est.weights_
        >>> est.predict_proba(new_target_probs)   # prior-corrected posteriors
    """

    def __init__(self, *, method: str = "em", calibration: str = "auto", tol: float = 1e-8,
                 max_iter: int = 1000) -> None:
        self.method = method
        self.calibration = calibration
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, source_probs: Any, source_labels: Any, target_probs: Any) -> LabelShiftEstimator:
        """Estimate the target priors; returns self."""
        self.result_ = estimate_label_shift(
            source_probs, source_labels, target_probs, method=self.method,
            calibration=self.calibration, tol=self.tol, max_iter=self.max_iter)
        self.target_priors_ = self.result_.target_priors
        self.source_priors_ = self.result_.source_priors
        self.weights_ = self.result_.weights
        return self

    def predict_proba(self, probs: Any) -> np.ndarray:
        """Calibrate ``probs`` (N, K) like the fit and re-weight them by the estimated priors."""
        if not hasattr(self, "result_"):
            raise RuntimeError("LabelShiftEstimator is not fitted yet: call fit(...)")
        r = self.result_
        p = as_probs(probs, "probs")
        if r.calibration == "bcts":
            p = apply_bcts(p, r.temperature, r.bias)
        out = p * (r.target_priors / r.model_priors)
        return out / out.sum(axis=1, keepdims=True)
