"""Specs of the activation and layer symptoms (rules in ``torchdoctor.doctor.symptoms``)."""

from torchdoctor.catalogue._spec import symptom

__all__: list[str] = []  # registers specs on import

symptom(
    "dead_relu", "a large share of ReLU units never activate",
    "More than dead_fraction of a ReLU layer's units never fired over the last window of "
    "sampled batches. A warning; an error when learning also fails.",
    remedies=("use_leaky_relu", "lower_lr", "bias_init", "use_kaiming_init"),
    role="symptom", rank=230, thresholds=("dead_fraction", "theta", "min_progress"))
symptom(
    "saturated_activation", "sigmoid/tanh units stuck in their flat tails",
    "More than saturated_fraction of a sigmoid/tanh layer's outputs sit in the flat tails "
    "(median over recent sampled steps). A warning; an error when learning also fails.",
    remedies=("use_xavier_init", "use_relu_he", "add_normalization", "normalize_inputs"),
    role="symptom", rank=240, thresholds=("saturated_fraction", "theta", "min_progress"))
symptom(
    "activation_collapse", "activation scale shrinks (or blows up) layer after layer",
    "The activation std of a deeper nonlinearity is below 1/collapse_ratio or above "
    "collapse_ratio times the first one's (at least 3 nonlinearities, median over recent "
    "sampled steps).",
    remedies=("use_kaiming_init", "add_normalization", "shallower_network"),
    role="symptom", rank=250, thresholds=("collapse_ratio", "theta", "min_progress"))
symptom(
    "symmetric_weights", "units of a layer are identical: symmetry never broken",
    "The rows of a weight matrix differ by less than symmetry_spread relative to its norm: "
    "every unit computes the same function and gets the same gradient. Always an error.",
    remedies=("random_init",), role="cause", rank=160, thresholds=("symmetry_spread",))
symptom(
    "small_batch_norm", "BatchNorm trained on batches too small for stable statistics",
    "The median training batch seen by BatchNorm layers is below bn_min_batch (at least 5 "
    "batches seen). Under DistributedDataParallel that is each process's share of the batch, "
    "and SyncBatchNorm comes first among the cures (it is left out for one process).",
    remedies=("use_layer_norm", "use_group_norm", "batch_of_32", "sync_batch_norm"),
    role="cause", rank=170, thresholds=("bn_min_batch",))
symptom(
    "narrow_layer", "a hidden layer has fewer units than the model has outputs (a bottleneck)",
    "A hidden Linear layer has fewer units than the last Linear layer's outputs (3 or more). "
    "A warning; an error when learning also fails.",
    remedies=("widen_layers", "bigger_model", "much_bigger_model"),
    role="cause", rank=180, thresholds=("width_per_output", "theta", "min_progress"))
