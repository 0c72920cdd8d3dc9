"""Distribution shift: detect, estimate and correct covariate and label shift (see docs/references.md).

Public names are also available as ``torchdoctor.shift`` (``td.shift``).
"""

from torchdoctor.data.shift._check import REWEIGHT_KINDS, check_shift, reweight_factors
from torchdoctor.data.shift._covariate import (
    CovariateShiftDetector,
    detect_covariate_shift,
    importance_weights,
)
from torchdoctor.data.shift._detect import ShiftTestResult
from torchdoctor.data.shift._label import (
    LabelShiftEstimator,
    LabelShiftResult,
    estimate_label_shift,
)
from torchdoctor.data.shift._mmd import mmd_test
from torchdoctor.data.shift._synthetic import SHIFTS, first_principal_component, make_target_sample
from torchdoctor.data.shift._validate import js_divergence

__all__ = [
    "REWEIGHT_KINDS",
    "SHIFTS",
    "CovariateShiftDetector",
    "LabelShiftEstimator",
    "LabelShiftResult",
    "ShiftTestResult",
    "check_shift",
    "detect_covariate_shift",
    "estimate_label_shift",
    "first_principal_component",
    "importance_weights",
    "js_divergence",
    "make_target_sample",
    "mmd_test",
    "reweight_factors",
]
