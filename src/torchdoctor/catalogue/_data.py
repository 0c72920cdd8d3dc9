"""Specs of the input, output, loss and label symptoms (doctor rules; the checkup produces
``unnormalized_input`` and ``class_imbalance`` too, with the same thresholds and remedies)."""

from torchdoctor.catalogue._spec import symptom

__all__: list[str] = []  # registers specs on import

symptom(
    "unnormalized_input", "inputs far from zero-mean, unit-scale",
    "Doctor: the RMS of the inputs (median over sampled steps) is above input_scale_high or "
    "below input_scale_low. Checkup: a feature's |mean| exceeds input_mean_max, its std lies "
    "outside [input_scale_low, input_scale_high], or feature stds differ by more than "
    "feature_scale_spread; an error when some |x| exceeds input_huge.",
    remedies=("normalize_inputs", "minmax_inputs", "add_normalization", "scale_pixels"),
    role="cause", rank=140,
    thresholds=("input_scale_high", "input_scale_low", "input_mean_max", "feature_scale_spread",
                "input_huge"))
symptom(
    "wrong_output_activation",
    "probabilities or squashed outputs fed to a loss that expects logits, or similar",
    "Outputs are probabilities (rows in [0, 1] summing to 1) fed to cross-entropy or NLLLoss, "
    "sigmoid outputs fed to BCE-with-logits, non-negative logits fed to cross-entropy, or a "
    "loss below negative_loss. The loss is recognized by recomputing the usual losses on "
    "sampled steps (agreement within loss_match_rtol).",
    remedies=("remove_output_activation", "use_log_softmax"),
    role="cause", rank=100, thresholds=("negative_loss", "loss_match_rtol"))
symptom(
    "wrong_loss",
    "the loss does not fit the targets (MSE on one-hot class labels, BCE on multi-class...)",
    "A regression loss (MSE, L1, Huber) on one-hot or class-index targets, binary "
    "cross-entropy on multi-class one-hot targets, or cross-entropy (softmax) on multi-hot "
    "(multi-label) targets.",
    remedies=("use_cross_entropy", "use_focal_loss", "use_bce_multilabel"),
    role="cause", rank=110, thresholds=("loss_match_rtol",))
symptom(
    "class_imbalance", "classes are strongly unequal in the training data",
    "Largest / smallest class count is at least imbalance_ratio: in the sampled training "
    "batches (doctor, at least 200 labels) or in the training labels (checkup).",
    remedies=("class_weights", "use_focal_loss", "resample"),
    # A cause, but treated after the loss-curve outcomes: its cures change the loss, and a
    # run that also swings or stalls is first given a working rate.
    role="cause", rank=315, thresholds=("imbalance_ratio",))
symptom(
    "unshuffled_data", "training batches follow the dataset order",
    "Batches hold fewer distinct classes than random batches would: observed / expected "
    "below shuffle_ratio (at least 5 batches, 3 classes).",
    remedies=("shuffle",), role="cause", rank=150, thresholds=("shuffle_ratio",))
