"""``td.shift``: covariate- and label-shift tools with scikit-learn estimator conventions.

>>> import torchdoctor as td
>>> res = td.shift.detect_covariate_shift(x_train, x_target)      # AUC, p-value, MMD
>>> beta = td.shift.importance_weights(x_train, x_target, clip=10)  # p_t/p_s, mean 1
>>> ls = td.shift.estimate_label_shift(val_probs, val_labels, target_probs, method="em")
>>> ls.target_priors, ls.weights, ls.corrected_probs

The implementation lives in :mod:`torchdoctor.data.shift`.
"""

from torchdoctor.data.shift import (
    CovariateShiftDetector,
    LabelShiftEstimator,
    LabelShiftResult,
    ShiftTestResult,
    check_shift,
    detect_covariate_shift,
    estimate_label_shift,
    importance_weights,
    make_target_sample,
    mmd_test,
    reweight_factors,
)

__all__ = [
    "CovariateShiftDetector",
    "LabelShiftEstimator",
    "LabelShiftResult",
    "ShiftTestResult",
    "check_shift",
    "detect_covariate_shift",
    "estimate_label_shift",
    "importance_weights",
    "make_target_sample",
    "mmd_test",
    "reweight_factors",
]
