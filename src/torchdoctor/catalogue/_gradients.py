"""Specs of the gradient symptoms (rules in ``torchdoctor.doctor.symptoms``)."""

from torchdoctor.catalogue._spec import symptom

__all__: list[str] = []  # registers specs on import

symptom(
    "nonfinite", "NaN or Inf in loss, gradients or parameters",
    "The loss, the global gradient norm or a layer's parameter norm is NaN or Inf on a recorded "
    "step. Always an error.",
    remedies=("lower_lr_to_usual", "lower_lr", "clip_gradients", "normalize_inputs"),
    role="symptom", rank=200,
    live="restore the last finite parameters and optimizer state, halve the learning rate")
symptom(
    "exploding_gradient", "gradient norms grow without bound or are far too large",
    "The first layer's gradient norm exceeds the last layer's by more than explode_ratio, the "
    "global gradient norm exceeds explode_abs, or it grows more than explode_growth times over "
    "its first values. An error when learning also fails, else info.",
    remedies=("clip_gradients", "lower_lr_to_usual", "lower_lr", "lower_lr_more", "use_lars",
              "add_normalization", "use_kaiming_init"),
    role="symptom", rank=210,
    thresholds=("explode_ratio", "explode_abs", "explode_growth", "theta", "min_progress"))
symptom(
    "vanishing_gradient", "early layers receive vanishingly small gradients",
    "On most recent sampled steps the first layer's gradient norm is below vanish_ratio of the "
    "last layer's and below vanish_abs. An error when learning also fails, else info.",
    remedies=("use_relu_he", "add_normalization", "shallower_network", "use_residual"),
    role="symptom", rank=220,
    thresholds=("vanish_ratio", "vanish_abs", "theta", "min_progress"))
symptom(
    "missing_zero_grad", "gradients accumulate across steps",
    ".grad already holds a non-zero gradient when backward begins right after an optimizer "
    "step, on more than stale_fraction of the checked steps (at least 3).",
    remedies=("call_zero_grad",), role="cause", rank=120, thresholds=("stale_fraction",))
