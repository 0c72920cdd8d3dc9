"""Distribution shift: detect, estimate and correct covariate and label shift
(Shimodaira 2000; Rabanser et al. 2019; Lipton et al. 2018).

Public names are also available as ``torchdoctor.shift`` (``td.shift``).
"""

from torchdoctor.data.shift._check import REWEIGHT_KINDS, check_shift, reweight_factors
from torchdoctor.data.shift._covariate import (
    CovariateShiftDetector,
    detect_covariate_shift,
    importance_weights,
)
from torchdoctor.data.shift._detect import ShiftTestResult, auc_permutation_test
from torchdoctor.data.shift._label import (
    LabelShiftEstimator,
    LabelShiftResult,
    bbse_weights,
    em_priors,
    estimate_label_shift,
    fit_bcts,
)
from torchdoctor.data.shift._mmd import mmd_test
from torchdoctor.data.shift._synthetic import SHIFTS, first_principal_component, make_target_sample
from torchdoctor.data.shift._validate import as_2d, js_divergence

__all__ = [
    "CovariateShiftDetector",
    "LabelShiftEstimator",
    "LabelShiftResult",
    "REWEIGHT_KINDS",
    "SHIFTS",
    "ShiftTestResult",
    "as_2d",
    "auc_permutation_test",
    "bbse_weights",
    "check_shift",
    "detect_covariate_shift",
    "em_priors",
    "estimate_label_shift",
    "first_principal_component",
    "fit_bcts",
    "importance_weights",
    "js_divergence",
    "make_target_sample",
    "mmd_test",
    "reweight_factors",
]
