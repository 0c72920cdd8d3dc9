"""Specs of the symptoms of the loop itself: what the optimizer step, the loss's shapes and the
output layer do (rules in ``torchdoctor.doctor.symptoms._no_update`` and ``_io_shapes``)."""

from torchdoctor.catalogue._spec import symptom

__all__: list[str] = []  # registers specs on import

symptom(
    "no_update", "the optimizer changes no weights (or leaves layers unchanged) while training runs",
    "Over at least no_update_min_steps steps: optimizer.step() never ran; or the update of "
    "every watched layer is exactly 0 on more than no_update_share of the later half of the "
    "checked optimizer steps (weights that never changed or stopped changing) while its "
    "gradient is not (the cause is named from what was seen at the step: .grad cleared after "
    "backward, parameters in no optimizer group, a rate of 0, no gradient at all); or the loss "
    "and every gradient are exactly 0. Layers left unchanged while others train: an error when the "
    "output layer is among them, else info (a backbone frozen by leaving it out is common).",
    remedies=("call_optimizer_step", "call_zero_grad", "build_optimizer_on_model",
              "add_param_group", "set_nonzero_lr", "check_loss_target", "differentiable_path"),
    role="cause", rank=105, thresholds=("no_update_min_steps", "no_update_share"))
symptom(
    "loss_shape_mismatch", "outputs and targets of different shapes broadcast in the loss ((N, 1) vs (N,))",
    "Outputs and targets with the same number of elements but different shapes, whose "
    "recorded loss equals the MSE or L1 loss broadcast over the N x N grid (within "
    "loss_match_rtol) on most sampled steps: every prediction is scored against every target.",
    remedies=("match_loss_shapes",), role="cause", rank=115, thresholds=("loss_match_rtol",))
symptom(
    "wrong_softmax_dim", "softmax/log_softmax taken over the wrong dimension (the batch instead of the classes)",
    "The outputs are normalized (logsumexp 0, or sums of 1) along a dimension other than the "
    "classes (median deviation below normalized_dev) and not along the classes (above "
    "unnormalized_dev).",
    remedies=("softmax_over_classes",), role="cause", rank=125,
    thresholds=("normalized_dev", "unnormalized_dev"))
symptom(
    "output_range_mismatch", "the output layer cannot produce the targets' range (e.g. a sigmoid on targets up to 10)",
    "Regression targets reach beyond what a bounded last layer (sigmoid, tanh, ReLU ...) or "
    "outputs pressed against the bound of [0, 1] / [-1, 1] (within saturation_gap) can "
    "produce, by more than range_shortfall of the targets' span. A warning; an error when "
    "learning also fails.",
    remedies=("linear_regression_output",), role="cause", rank=135,
    thresholds=("range_shortfall", "saturation_gap", "theta", "min_progress"))
