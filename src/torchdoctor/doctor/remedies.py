"""The remedy catalogue: for every symptom code, ranked cures from the notes.

Each :class:`~torchdoctor.findings.Remedy` carries a sentence, a snippet for a user's own loop
and a config patch in DESIGN.md's dotted keys, which ``repair`` applies.

Patch convention:
    - a plain value sets the key: ``{"model.norm": "group"}``;
    - a string ``"x<factor>"`` multiplies the current numeric value: ``{"train.lr": "x0.1"}``
      (:func:`apply_patch` resolves it; ``"x0.5"`` halves, ``"x2"`` doubles);
    - ``{"train.lr": "usual"}`` sets the usual starting rate of the config's optimizer
      (:data:`torchdoctor.optim.USUAL_LR`: Adam 1e-3, SGD with momentum 0.05...);
      ``"<=usual"`` lowers the rate to it only when above it, ``">=usual"`` raises it only
      when below it (otherwise the patch changes nothing, and repair skips it);
    - an empty patch means the cure is not expressible in the config (snippet only).

Live treatment (``Doctor(treat=True)``) only applies cures marked safe in :data:`LIVE`.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from torchdoctor.findings import SYMPTOM_CODES, Finding, Remedy

__all__ = ["CATALOGUE", "LIVE", "apply_patch", "attach_remedies", "fit_rate_remedies",
           "optimizer_name", "remedies_for"]

_R = Remedy

#: A rate far from the optimizer's usual one (:data:`torchdoctor.optim.USUAL_LR`) is brought
#: back to it in one step; ×10 steps need several rounds for a rate 100× off.
_LOWER_TO_USUAL = _R(
    "lower_lr_to_usual",
    "Lower the rate to the optimizer's usual one (Adam 1e-3, SGD with momentum 0.05), which it exceeds.",
    {"train.lr": "<=usual"},
    "for g in optimizer.param_groups:\n    g['lr'] = min(g['lr'], 1e-3)  # Adam; 0.05 for SGD with momentum")
_RAISE_TO_USUAL = _R(
    "raise_lr_to_usual",
    "Raise the rate to the optimizer's usual one (Adam 1e-3, SGD with momentum 0.05), which it is below.",
    {"train.lr": ">=usual"},
    "for g in optimizer.param_groups:\n    g['lr'] = max(g['lr'], 1e-3)  # Adam; 0.05 for SGD with momentum")
_BIGGER = _R("bigger_model", "Use a bigger model: four times the units per layer (003 §14 cause 11).",
             {"model.width": "x4"}, "")
_MUCH_BIGGER = _R("much_bigger_model", "A much wider model (16x the units): for a layer far too narrow.",
                  {"model.width": "x16"}, "")

CATALOGUE: dict[str, list[Remedy]] = {
    "nonfinite": [
        _LOWER_TO_USUAL,
        _R("lower_lr", "Lower the learning rate ten-fold: the largest stable rate, then 10x lower (003 §14).",
           {"train.lr": "x0.1"}, "for g in optimizer.param_groups:\n    g['lr'] *= 0.1"),
        _R("clip_gradients", "Clip the global gradient norm before each optimizer step.",
           {"train.grad_clip": 1.0},
           "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)"),
        _R("normalize_inputs", "Standardize the inputs (zero mean, unit variance).",
           {"data.normalize": "standard"}, "x = (x - x_train.mean(0)) / x_train.std(0)"),
    ],
    "exploding_gradient": [
        _R("clip_gradients", "Clip the global gradient norm before each optimizer step.",
           {"train.grad_clip": 1.0},
           "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)"),
        _LOWER_TO_USUAL,
        _R("lower_lr", "Lower the learning rate ten-fold (003 §14 cause 6).",
           {"train.lr": "x0.1"}, "for g in optimizer.param_groups:\n    g['lr'] *= 0.1"),
        _R("lower_lr_more", "Lower the learning rate a hundred-fold: a rate far too high.",
           {"train.lr": "x0.01"}, "for g in optimizer.param_groups:\n    g['lr'] *= 0.01"),
        _R("use_lars", "Use LARS: a layer-wise rate scaled by ||w|| / ||grad w|| (You et al. 2017, seed 004).",
           {"train.optimizer": "lars"},
           "optimizer = td.optim.LARS(model.parameters(), lr=0.1, momentum=0.9)"),
        _R("add_normalization", "Add BatchNorm after each linear/conv layer.",
           {"model.norm": "batch"}, "model = td.nn.convert_norm(model, 'batch')  # or build with nn.BatchNorm"),
        _R("use_kaiming_init", "Re-initialize with He (Kaiming) init so the signal keeps its scale.",
           {"model.init": "kaiming_normal"}, "td.init.init_model(model, 'kaiming_normal')"),
    ],
    "vanishing_gradient": [
        _R("use_relu_he", "Use a ReLU-family activation with He initialization (seed 003 §18, 004).",
           {"model.activation": "relu", "model.init": "kaiming_normal"},
           "td.nn.replace_activation(model, 'relu')\ntd.init.init_model(model, 'kaiming_normal')"),
        _R("add_normalization", "Add BatchNorm (or LayerNorm) between layers.",
           {"model.norm": "batch"}, "model = td.nn.convert_norm(model, 'batch')"),
        _R("shallower_network", "Use a shallower network (003 §14 cause 10).",
           {"model.depth": "x0.5"}, ""),
        _R("use_residual", "Use residual connections (a ResNet-style architecture).",
           {"model.arch": "resnet"}, "out = x + block(x)  # in forward()"),
    ],
    "dead_relu": [
        _R("use_leaky_relu", "Replace ReLU by LeakyReLU or ELU, which keep a gradient below 0 (003 §14 cause 8).",
           {"model.activation": "leaky_relu"}, "td.nn.replace_activation(model, 'leaky_relu')"),
        _R("lower_lr", "Lower the learning rate: a big step can push every unit into the dead zone.",
           {"train.lr": "x0.1"}, "for g in optimizer.param_groups:\n    g['lr'] *= 0.1"),
        _R("bias_init", "Initialize biases at 0 or slightly positive (e.g. 0.01).",
           {"model.bias_init": 0.01},
           "for m in model.modules():\n    if isinstance(m, nn.Linear):\n        nn.init.constant_(m.bias, 0.01)"),
        _R("use_kaiming_init", "Use He (Kaiming) initialization.", {"model.init": "kaiming_normal"},
           "td.init.init_model(model, 'kaiming_normal')"),
    ],
    "saturated_activation": [
        _R("use_xavier_init", "Use Xavier/Glorot init for sigmoid/tanh so pre-activations stay near 0.",
           {"model.init": "xavier_normal"}, "td.init.init_model(model, 'xavier_normal')"),
        _R("use_relu_he", "Switch to a ReLU-family activation with He init.",
           {"model.activation": "relu", "model.init": "kaiming_normal"},
           "td.nn.replace_activation(model, 'relu')"),
        _R("add_normalization", "Add normalization before the nonlinearity.", {"model.norm": "batch"},
           "model = td.nn.convert_norm(model, 'batch')"),
        _R("normalize_inputs", "Standardize the inputs.", {"data.normalize": "standard"},
           "x = (x - x_train.mean(0)) / x_train.std(0)"),
    ],
    "activation_collapse": [
        _R("use_kaiming_init", "Use He init (ReLU) or Xavier init (tanh/sigmoid): variance-preserving (seed 001, 003 §15).",
           {"model.init": "kaiming_normal"}, "td.init.init_model(model, 'kaiming_normal')"),
        _R("add_normalization", "Add BatchNorm/LayerNorm to re-scale activations at every layer.",
           {"model.norm": "batch"}, "model = td.nn.convert_norm(model, 'batch')"),
        _R("shallower_network", "Use fewer layers.", {"model.depth": "x0.5"}, ""),
    ],
    "symmetric_weights": [
        _R("random_init", "Initialize weights randomly (He/Xavier), never with a constant (seed 001).",
           {"model.init": "kaiming_normal"}, "td.init.init_model(model, 'kaiming_normal')"),
    ],
    "unnormalized_input": [
        _R("normalize_inputs", "Standardize the inputs to zero mean and unit variance (003 §14 cause 1).",
           {"data.normalize": "standard"}, "x = (x - x_train.mean(0)) / x_train.std(0)"),
        _R("minmax_inputs", "Or scale them to [0, 1] (min-max), or to [-1, 1] for images.",
           {"data.normalize": "minmax"}, "x = (x - x.min()) / (x.max() - x.min())"),
        _R("add_normalization", "Add normalization layers.", {"model.norm": "batch"},
           "model = td.nn.convert_norm(model, 'batch')"),
    ],
    "wrong_output_activation": [
        _R("remove_output_activation", "Output raw logits: CrossEntropyLoss/BCEWithLogitsLoss apply (log-)softmax/sigmoid themselves (003 §14 cause 7).",
           {"model.output_activation": "none"}, "# drop the final nn.Softmax / nn.Sigmoid layer\nloss = F.cross_entropy(logits, y)"),
        _R("use_log_softmax", "With NLLLoss, end the model with log_softmax, not softmax.",
           {"model.output_activation": "none", "train.loss": "cross_entropy"},
           "loss = F.nll_loss(F.log_softmax(logits, dim=1), y)"),
    ],
    "wrong_loss": [
        _R("use_cross_entropy", "Use cross-entropy on logits for classification, not MSE (MISSION G).",
           {"train.loss": "cross_entropy"}, "loss = F.cross_entropy(logits, y)  # y: class indices"),
        _R("use_focal_loss", "For imbalanced classes, focal loss.", {"train.loss": "focal"},
           "loss = td.losses.softmax_focal_loss(logits, y, gamma=2.0)"),
    ],
    "loss_plateau": [
        _RAISE_TO_USUAL,
        _R("raise_lr", "Raise the learning rate (a rate range test finds the largest stable one).",
           {"train.lr": "x10"}, "lrs, losses = td.optim.lr_range_test(model, loss_fn, loader)"),
        _R("raise_lr_more", "Raise the learning rate a hundred-fold: a rate far too low.",
           {"train.lr": "x100"}, "lrs, losses = td.optim.lr_range_test(model, loss_fn, loader)"),
        _R("use_adam", "Switch to Adam.", {"train.optimizer": "adam", "train.lr": 0.001},
           "optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)"),
        _R("smaller_batch", "Start from a smaller batch size (003 §14 cause 5).", {"train.batch_size": "x0.5"}, ""),
        _R("use_kaiming_init", "Check the initialization (He for ReLU).", {"model.init": "kaiming_normal"},
           "td.init.init_model(model, 'kaiming_normal')"),
    ],
    "loss_oscillating": [
        _LOWER_TO_USUAL,
        _R("lower_lr", "Lower the learning rate ten-fold (003 §14 cause 6).", {"train.lr": "x0.1"},
           "for g in optimizer.param_groups:\n    g['lr'] *= 0.1"),
        _R("lower_lr_more", "Lower the learning rate a hundred-fold: a rate far too high.",
           {"train.lr": "x0.01"}, "for g in optimizer.param_groups:\n    g['lr'] *= 0.01"),
        _R("larger_batch", "Use larger batches for less noisy gradients.", {"train.batch_size": "x2"}, ""),
        _R("clip_gradients", "Clip the gradient norm.", {"train.grad_clip": 1.0},
           "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)"),
    ],
    "small_batch_norm": [
        _R("use_layer_norm", "Replace BatchNorm by LayerNorm, which does not depend on the batch (003 §22).",
           {"model.norm": "layer"}, "model = td.nn.convert_norm(model, 'layer')"),
        _R("use_group_norm", "Or GroupNorm (32 groups for conv layers, Wu & He 2018).",
           {"model.norm": "group"}, "model = td.nn.convert_norm(model, 'group')"),
        _R("larger_batch", "Or train with batches of 16 or more.", {"train.batch_size": 32}, ""),
    ],
    "train_mode_in_eval": [
        _R("call_eval", "Call model.eval() before evaluating (and model.train() before training).",
           {"train.eval_mode": True}, "model.eval()\nwith torch.no_grad():\n    out = model(x_val)\nmodel.train()"),
    ],
    "missing_zero_grad": [
        _R("call_zero_grad", "Call optimizer.zero_grad() once per step, before backward().",
           {"train.zero_grad": True}, "optimizer.zero_grad()\nloss.backward()\noptimizer.step()"),
    ],
    "overfitting": [
        _R("dropout", "Add dropout (003 §12).", {"model.dropout": 0.3}, "nn.Dropout(0.3)"),
        _R("weight_decay", "Add L2 regularization / weight decay (003 §12).", {"train.weight_decay": 5e-4},
           "optimizer = torch.optim.SGD(model.parameters(), lr=0.05, weight_decay=5e-4)"),
        _R("early_stopping", "Stop at the best validation epoch.", {"train.epochs": "x0.5"}, ""),
        _R("label_smoothing", "Use label smoothing.", {"train.label_smoothing": 0.1},
           "loss = F.cross_entropy(logits, y, label_smoothing=0.1)"),
        _R("more_data", "Get more data or augment it.", {}, ""),
    ],
    "underfitting": [
        _R("less_regularization", "Reduce regularization (weight decay, dropout) (003 §12).",
           {"train.weight_decay": 0.0, "model.dropout": 0.0}, ""),
        _RAISE_TO_USUAL,
        _R("use_adam", "Switch to Adam, whose per-parameter rates rescue a badly scaled rate.",
           {"train.optimizer": "adam", "train.lr": 0.001},
           "optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)"),
        _BIGGER, _MUCH_BIGGER,
        _R("train_longer", "Train longer.", {"train.epochs": "x2"}, ""),
    ],
    "narrow_layer": [
        _BIGGER, _MUCH_BIGGER,
    ],
    "class_imbalance": [
        _R("class_weights", "Weight the loss by inverse class frequency N / (K·n_k) (He & Garcia 2009).",
           {"train.class_weight": "balanced"},
           "w = len(y_train) / (K * torch.bincount(y_train, minlength=K).float())\nloss_fn = nn.CrossEntropyLoss(weight=w)"),
        _R("use_focal_loss", "Use focal loss, which down-weights easy examples (Lin et al. 2017).",
           {"train.loss": "focal"}, "loss = td.losses.softmax_focal_loss(logits, y, gamma=2.0)"),
    ],
    "unshuffled_data": [
        _R("shuffle", "Shuffle the training data every epoch.", {"data.shuffle": True},
           "loader = DataLoader(dataset, batch_size=64, shuffle=True)"),
    ],
}

#: Codes with a safe live treatment in ``Doctor(treat=True)`` and what it does.
LIVE: dict[str, str] = {
    "nonfinite": "restore the last finite parameters and optimizer state, halve the learning rate",
}


def remedies_for(code: str) -> list[Remedy]:
    """The ranked remedies of ``code`` (a copy; empty for codes without a catalogue entry).

    Raises:
        ValueError: ``code`` is not a symptom code.
    """
    if code not in SYMPTOM_CODES:
        raise ValueError(f"code must be one of {sorted(SYMPTOM_CODES)}, got {code!r}")
    return list(CATALOGUE.get(code, []))


def attach_remedies(findings: list[Finding]) -> list[Finding]:
    """Fill in ``remedies`` of findings that have none; returns ``findings``."""
    for f in findings:
        if not f.remedies:
            f.remedies = remedies_for(f.code)
    return findings


_USUAL = ("usual", "<=usual", ">=usual")


def optimizer_name(optimizer: Any) -> str | None:
    """The config name of a ``torch.optim`` optimizer (``"sgdm"`` for SGD with momentum), or
    None for an optimizer the config does not know."""
    from torchdoctor.optim import LARS

    kind = type(optimizer).__name__
    if isinstance(optimizer, LARS):
        return "lars"
    if kind == "SGD":
        return "sgdm" if optimizer.param_groups[0].get("momentum", 0) else "sgd"
    return {"Adam": "adam", "AdamW": "adamw", "RMSprop": "rmsprop", "Adagrad": "adagrad",
            "Adadelta": "adadelta"}.get(kind)


def fit_rate_remedies(findings: list[Finding], optimizer: Any) -> list[Finding]:
    """Drop the ``"<=usual"`` / ``">=usual"`` rate remedies that would not move ``optimizer``'s
    rate (already at or below / above the usual one); returns ``findings``. Unknown optimizers
    keep every remedy."""
    from torchdoctor.optim import USUAL_LR

    name = optimizer_name(optimizer) if optimizer is not None else None
    if name is None or not optimizer.param_groups:
        return findings
    lr, usual = float(optimizer.param_groups[0]["lr"]), USUAL_LR[name]

    def moves(r: Remedy) -> bool:
        value = r.patch.get("train.lr")
        return value not in ("<=usual", ">=usual") or _usual_rate(usual, lr, value) != lr

    for f in findings:
        f.remedies = [r for r in f.remedies if moves(r)]
    return findings


def _usual_rate(usual: float, current: Any, value: str) -> float:
    """The rate a ``train.lr`` patch of ``"usual"``, ``"<=usual"`` or ``">=usual"`` gives, for
    an optimizer whose usual rate is ``usual`` and a config whose rate is ``current``."""
    if value == "usual" or not isinstance(current, (int, float)):
        return usual
    return min(float(current), usual) if value == "<=usual" else max(float(current), usual)


def _usual_lr(config: dict[str, Any], current: Any, value: str) -> float:
    """:func:`_usual_rate` for the optimizer named in ``config``."""
    from torchdoctor.optim import USUAL_LR

    name = config.get("train", {}).get("optimizer", "sgdm")
    if name not in USUAL_LR:
        raise ValueError(f"patch train.lr={value!r} needs a train.optimizer in {sorted(USUAL_LR)}, "
                         f"got {name!r}")
    return _usual_rate(USUAL_LR[name], current, value)


_FACTOR = re.compile(r"^x([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)$")


def apply_patch(config: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Apply a remedy's ``patch`` to a nested config dict; returns a new dict.

    ``"x<factor>"`` values multiply the current value (integers stay integers, at least 1);
    ``train.lr: "usual"`` (``"<=usual"``, ``">=usual"``) takes the optimizer's usual rate (at
    most, at least the current one), after the patch's other keys:
    ``{"train.optimizer": "adam", "train.lr": "usual"}`` gives Adam's 1e-3.

    Raises:
        ValueError: a relative patch targets a missing or non-numeric key.
    """
    out = copy.deepcopy(config)
    items = sorted(patch.items(), key=lambda kv: kv[0] == "train.lr" and kv[1] in _USUAL)  # last
    for key, value in items:
        node = out
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        leaf = parts[-1]
        m = _FACTOR.match(value) if isinstance(value, str) else None
        if key == "train.lr" and value in _USUAL:
            node[leaf] = _usual_lr(out, node.get(leaf), value)
        elif m:
            cur = node.get(leaf)
            if not isinstance(cur, (int, float)) or isinstance(cur, bool):
                raise ValueError(f"patch {key}={value!r} needs a numeric current value, got {cur!r}")
            new = cur * float(m.group(1))
            node[leaf] = max(1, round(new)) if isinstance(cur, int) else new
        else:
            node[leaf] = value
    return out
