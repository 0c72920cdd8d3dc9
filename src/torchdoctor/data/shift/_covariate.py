"""Covariate shift: the public detector, the function form, and importance weights
(Rabanser et al. 2019).

Seed 004's correction: label source samples −1 and target samples +1, fit a logistic regression
``h``, weight training example ``i`` by ``β_i = min(exp(h(x_i)), c)``. ``exp(h(x))`` is the
*odds* ``P(target | x) / P(source | x) = (n_t p_t(x)) / (n_s p_s(x))``, so the density ratio that
importance weighting needs is ``p_t(x) / p_s(x) = exp(h(x)) · n_s / n_t`` — the seed's formula
is right only for equal sample counts. Some libraries return ``p_s / p_t`` (inverted); the tests
check the direction on two Gaussians whose ratio is known in closed form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from torchdoctor.data.shift._detect import (
    ShiftTestResult,
    cross_fit_scores,
    default_domain_classifier,
    positive_scores,
    run_detection,
)
from torchdoctor.data.shift._features import apply_features
from torchdoctor.data.shift._validate import as_2d, check_pair, positive_int, to_common_precision


def _check_clip(clip: float | None) -> None:
    if clip is not None and not clip > 0:
        raise ValueError(f"clip must be > 0 or None, got {clip}")


def _ratio_from_scores(p: np.ndarray, n_s: int, n_t: int) -> np.ndarray:
    return p / (1.0 - p) * (n_s / n_t)


def _finish(ratio: np.ndarray, clip: float | None, normalize: bool) -> np.ndarray:
    beta = np.minimum(ratio, clip) if clip is not None else ratio.copy()
    return beta / beta.mean() if normalize else beta


class CovariateShiftDetector:
    """Domain-classifier shift detector and density-ratio estimator (scikit-learn conventions).

    ``__init__`` only stores; :meth:`fit` computes the test (see :func:`detect_covariate_shift`
    for the arguments) and refits the classifier on all rows for :meth:`density_ratio`.

    Attributes (after ``fit``):
        result_ (ShiftTestResult): AUC, p-values, MMD.
        auc_, p_value_, mmd_p_value_, shift_detected_: shortcuts into ``result_``.
        classifier_: the domain classifier refitted on all source and target rows.
        n_source_, n_target_: sample sizes.

    Example:
        >>> det = CovariateShiftDetector(n_permutations=500).fit(x_train, x_target)
        >>> det.shift_detected_, det.auc_
        >>> w = det.importance_weights(clip=10.0)   # (N_s,) out-of-fold weights, mean 1
    """

    def __init__(
        self,
        *,
        classifier: Any = None,
        n_splits: int = 5,
        test: str = "holdout",
        n_permutations: int = 1000,
        mmd: bool = True,
        mmd_permutations: int = 200,
        features: Callable[..., Any] | None = None,
        alpha: float = 0.05,
        random_state: int = 0,
    ) -> None:
        self.classifier = classifier
        self.n_splits = n_splits
        self.test = test
        self.n_permutations = n_permutations
        self.mmd = mmd
        self.mmd_permutations = mmd_permutations
        self.features = features
        self.alpha = alpha
        self.random_state = random_state

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        keys = ("classifier", "n_splits", "test", "n_permutations", "mmd", "mmd_permutations",
                "features", "alpha", "random_state")
        return {k: getattr(self, k) for k in keys}

    def set_params(self, **params: Any) -> CovariateShiftDetector:
        valid = self.get_params()
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"parameter must be one of {sorted(valid)}, got {k!r}")
            setattr(self, k, v)
        return self

    def fit(self, source_X: Any, target_X: Any) -> CovariateShiftDetector:
        """Test for shift between ``source_X`` (N_s, D) and ``target_X`` (N_t, D); returns self."""
        from sklearn.base import clone

        self.result_ = run_detection(
            source_X, target_X, classifier=self.classifier, n_splits=self.n_splits,
            test=self.test, n_permutations=self.n_permutations, mmd=self.mmd,
            mmd_permutations=self.mmd_permutations, features=self.features, alpha=self.alpha,
            seed=self.random_state,
        )
        s = as_2d(apply_features(source_X, self.features), "source_X")
        t = as_2d(apply_features(target_X, self.features), "target_X")
        s, t = to_common_precision(s, t)
        x = np.concatenate([s, t])
        d = np.r_[np.zeros(s.shape[0], np.int64), np.ones(t.shape[0], np.int64)]
        # weights want a calibrated ratio, not maximal test power: default C = 1 here
        clf = self.classifier if self.classifier is not None else default_domain_classifier(C=1.0)
        self.classifier_ = clone(clf).fit(x, d)
        self._weight_scores, _ = cross_fit_scores(x, d, clf, self.n_splits, self.random_state)
        self.n_source_, self.n_target_ = s.shape[0], t.shape[0]
        r = self.result_
        self.auc_, self.p_value_ = r.auc, r.p_value
        self.mmd_p_value_, self.shift_detected_ = r.mmd_p_value, r.shift_detected
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "result_"):
            raise RuntimeError("CovariateShiftDetector is not fitted yet: call fit(source_X, target_X)")

    def density_ratio(self, X: Any) -> np.ndarray:
        """Estimated ``p_target(x) / p_source(x)`` (N,) = ``exp(h(x)) · n_s / n_t``, unclipped."""
        self._check_fitted()
        (x,) = to_common_precision(as_2d(apply_features(X, self.features), "X"))
        p = positive_scores(self.classifier_, x)
        return _ratio_from_scores(p, self.n_source_, self.n_target_)

    def importance_weights(
        self, X: Any = None, *, clip: float | None = 10.0, normalize: bool = True
    ) -> np.ndarray:
        """β = min(density ratio, clip), optionally divided by its mean.

        Args:
            X (array[N, D]): rows to weight; default the fitted source rows, weighted with their
                *out-of-fold* scores (no row is weighted by a classifier that saw it).
            clip: upper bound ``c`` of the seed's ``min(exp(h), c)`` (applied before
                normalizing); None for no clipping.
            normalize: divide by the mean so the weights average 1.
        """
        self._check_fitted()
        _check_clip(clip)
        if X is None:
            ratio = _ratio_from_scores(self._weight_scores[: self.n_source_], self.n_source_,
                                       self.n_target_)
        else:
            ratio = self.density_ratio(X)
        return _finish(ratio, clip, normalize)


def detect_covariate_shift(
    source_X: Any,
    target_X: Any,
    *,
    classifier: Any = None,
    n_splits: int = 5,
    test: str = "holdout",
    n_permutations: int = 1000,
    mmd: bool = True,
    mmd_permutations: int = 200,
    features: Callable[..., Any] | None = None,
    alpha: float = 0.05,
    seed: int = 0,
) -> ShiftTestResult:
    """Do ``source_X`` and ``target_X`` come from the same input distribution?

    Args:
        source_X (array[N_s, D]): source (training) inputs; images may be (N_s, C, H, W).
        target_X (array[N_t, D]): target inputs, same features.
        classifier: any unfitted scikit-learn classifier with ``predict_proba`` or
            ``decision_function``; default standardized L2 logistic regression with
            ``C = 0.1 / (N_s + N_t)`` (strong shrinkage: more power with few rows).
        n_splits: cross-fitting folds (>= 2); every score is out-of-fold.
        test: ``"holdout"`` (default: AUC on a held-out half, exact permutation p-value, one
            fit), ``"permutation"`` (cross-fitted AUC, whole cross-fit redone per permutation:
            exact, (B+1)·K fits) or ``"binomial"`` (held-out accuracy, conservative).
        n_permutations: permutations B of the AUC test; the smallest possible p-value is
            ``1 / (1 + B)``.
        mmd: also run the Gaussian-kernel MMD permutation test (the second opinion).
        mmd_permutations: permutations of the MMD test.
        features: optional feature map applied to both samples first: a ``torch.nn.Module``
            (e.g. a trained network without its head) or a callable.
        alpha: significance level of ``shift_detected``.
        seed: seed of folds and permutations.

    Returns:
        ShiftTestResult with ``auc``, ``p_value``, ``mmd2``, ``mmd_p_value``,
        ``combined_p_value`` and ``shift_detected`` (``combined_p_value < alpha``).
    """
    return run_detection(
        source_X, target_X, classifier=classifier, n_splits=n_splits, test=test,
        n_permutations=n_permutations, mmd=mmd, mmd_permutations=mmd_permutations,
        features=features, alpha=alpha, seed=seed,
    )


def importance_weights(
    source_X: Any,
    target_X: Any,
    *,
    clip: float | None = 10.0,
    normalize: bool = True,
    classifier: Any = None,
    n_splits: int = 5,
    features: Callable[..., Any] | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Importance weights β (N_s,) for the source rows: ``min(exp(h(x)) · n_s / n_t, clip)``.

    ``h`` is the logit of a domain classifier's ``P(target | x)``; each source row is scored by a
    classifier fitted on the other folds (cross-fitting, ``n_splits`` >= 2), so no row's weight
    comes from a classifier that memorized it. Train with ``loss = (β_i · ℓ_i).mean()``.

    Args:
        source_X (array[N_s, D]): training inputs.
        target_X (array[N_t, D]): unlabeled target inputs.
        clip: the seed's constant ``c`` (applied before normalizing); None for no clipping.
        normalize: divide by the mean so the weights average 1 (the loss scale is unchanged).
        classifier: unfitted scikit-learn classifier; default standardized logistic regression
            with C = 1 (little shrinkage, so the ratio is not pulled towards 1).
        n_splits: cross-fitting folds.
        features: optional feature map (torch module or callable), as in detection.
        seed: fold seed.

    Returns:
        β (array[N_s]): ≈ ``p_target(x) / p_source(x)`` (mean 1 when ``normalize``).
    """
    _check_clip(clip)
    n_splits = positive_int(n_splits, "n_splits", minimum=2)
    s = as_2d(apply_features(source_X, features), "source_X")
    t = as_2d(apply_features(target_X, features), "target_X")
    check_pair(s, t, min_each=n_splits)
    s, t = to_common_precision(s, t)
    x = np.concatenate([s, t])
    d = np.r_[np.zeros(s.shape[0], np.int64), np.ones(t.shape[0], np.int64)]
    clf = classifier if classifier is not None else default_domain_classifier(C=1.0)
    scores, _ = cross_fit_scores(x, d, clf, n_splits, seed)
    ratio = _ratio_from_scores(scores[: s.shape[0]], s.shape[0], t.shape[0])
    return _finish(ratio, clip, normalize)


__all__ = ["CovariateShiftDetector", "ShiftTestResult", "detect_covariate_shift",
           "importance_weights"]
