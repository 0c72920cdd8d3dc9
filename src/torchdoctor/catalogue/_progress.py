"""Specs of the learning-progress and loop symptoms (rules in ``torchdoctor.doctor.symptoms``)."""

from torchdoctor.catalogue._spec import symptom

__all__: list[str] = []  # registers specs on import

symptom(
    "loss_plateau", "the loss stopped falling early (too-low rate, bad setup)",
    "The loss changed by less than plateau_drop of its first value (either way) over at least "
    "50 recorded steps.",
    remedies=("raise_lr_to_usual", "raise_lr", "raise_lr_more", "use_adam", "smaller_batch",
              "use_kaiming_init"),
    # Before loss_oscillating: both fire on a flat, noisy loss, whose cure is a higher rate.
    role="outcome", rank=300, thresholds=("plateau_drop",))
symptom(
    "loss_oscillating", "the loss swings instead of falling (too-high rate)",
    "The windowed loss (20 windows) rises at least 3 times, the rises sum to more than "
    "oscillation_rise of its net fall, and each averages at least swing_size of the loss "
    "level (at least 60 steps).",
    remedies=("lower_lr_to_usual", "lower_lr", "lower_lr_more", "larger_batch",
              "clip_gradients"),
    role="outcome", rank=310, thresholds=("oscillation_rise", "swing_size"))
symptom(
    "overfitting", "validation loss rises while training loss falls",
    "After 3+ epochs: the validation loss rose more than val_rise above its minimum while the "
    "training loss kept falling; or validation accuracy fell at least val_acc_drop below its "
    "best in the last two epochs while training accuracy rose; or training accuracy exceeds "
    "validation accuracy by gap_threshold or more.",
    remedies=("dropout", "weight_decay", "early_stopping", "label_smoothing", "more_data"),
    role="outcome", rank=320, thresholds=("val_rise", "val_acc_drop", "gap_threshold"))
symptom(
    "underfitting", "training accuracy stays low: model or regularization mismatch",
    "After 3+ epochs the training accuracy stays below theta in the last two epochs.",
    remedies=("less_regularization", "raise_lr_to_usual", "use_adam", "bigger_model",
              "much_bigger_model", "train_longer"),
    role="outcome", rank=330, thresholds=("theta",))
symptom(
    "train_mode_in_eval", "evaluation forward passes run with the model in training mode",
    "Forward passes under no_grad (evaluation) ran with Dropout or BatchNorm in training "
    "mode: model.eval() was forgotten.",
    remedies=("call_eval",), role="cause", rank=130)
