"""Specs of the symptoms the data checkup and the shift check produce (not the doctor)."""

from torchdoctor.catalogue._spec import symptom

__all__: list[str] = []  # registers specs on import

symptom(
    "covariate_shift", "target inputs differ in distribution from training inputs",
    "A domain classifier tells target from training inputs (out-of-fold AUC, permutation "
    "test) or a kernel MMD test rejects, combined with a Bonferroni correction at level alpha.",
    remedies=("reweight_covariate", "collect_target_data"),
    role="cause", rank=400, producer="shift")
symptom(
    "label_shift", "target class proportions differ from training",
    "Predicted (or true) class counts of the target sample differ from training "
    "(chi-squared test at level alpha); priors estimated by EM with calibration.",
    remedies=("reweight_label",), role="cause", rank=410, producer="shift")
symptom(
    "duplicate_samples", "the same samples appear in training and validation data (leakage)",
    "Validation rows equal (to 6 decimals) or within near_tol of the typical nearest-neighbour "
    "distance of a training row; an error from leak_error_share of the validation rows.",
    remedies=("deduplicate",), role="cause", rank=420, producer="checkup",
    thresholds=("leak_error_share",))
symptom(
    "constant_feature", "input features that never vary carry no information",
    "A feature's std is at most constant_tol x (1 + |mean|); a warning when half the "
    "features or more are constant, else info.",
    remedies=("drop_constant",), role="cause", rank=430, producer="checkup",
    thresholds=("constant_tol",))
