"""Remedy code -> config patch: how ``repair`` (and torchdoctor's own trainer) applies a cure.

This is the only place that speaks the YAML config's dotted keys for remedies. The remedy
registry (:mod:`torchdoctor.catalogue`) says what a cure is for any loop; here each remedy code
that the config can express gets its patch. Findings made inside torchdoctor's trainer,
``diagnose``, ``checkup`` and ``repair`` get their patches from :func:`attach_patches`.

Patch convention:
    - a plain value sets the key: ``{"model.norm": "group"}``;
    - a string ``"x<factor>"`` multiplies the current numeric value: ``{"train.lr": "x0.1"}``
      (``"x0.5"`` halves, ``"x2"`` doubles; integers stay integers, at least 1);
    - ``{"train.lr": "usual"}`` sets the usual starting rate of the config's optimizer
      (:data:`torchdoctor.optim.USUAL_LR`: Adam 1e-3, SGD with momentum 0.05...);
      ``"<=usual"`` lowers the rate to it only when above it, ``">=usual"`` raises it only
      when below it (otherwise the patch changes nothing, and repair skips it);
    - a remedy code without an entry has no config form (snippet only; repair skips it).
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Callable
from typing import Any

from torchdoctor.catalogue import REMEDIES
from torchdoctor.findings import Finding

__all__ = ["PATCHES", "attach_patches", "patch_dict", "patch_for"]

Patch = dict[str, Any]

_NORMALIZE = {"data.normalize": "standard"}
_RELU_HE = {"model.activation": "relu", "model.init": "kaiming_normal"}
_ADAM = {"train.optimizer": "adam", "train.lr": 0.001}


def _widen(f: Finding) -> Patch:
    """The width a narrow_layer finding suggests (``evidence["suggested_width"]``)."""
    width = f.evidence.get("suggested_width")
    return {"model.width": int(width)} if isinstance(width, (int, float)) else {"model.width": "x4"}


#: Config patch per remedy code: a dict, or a function of the finding for patches that depend
#: on its numbers. Remedy codes without an entry have no config form.
PATCHES: dict[str, Patch | Callable[[Finding], Patch]] = {
    "lower_lr_to_usual": {"train.lr": "<=usual"},
    "raise_lr_to_usual": {"train.lr": ">=usual"},
    "lower_lr": {"train.lr": "x0.1"},
    "lower_lr_more": {"train.lr": "x0.01"},
    "raise_lr": {"train.lr": "x10"},
    "raise_lr_more": {"train.lr": "x100"},
    "use_adam": _ADAM,
    "use_lars": {"train.optimizer": "lars"},
    "clip_gradients": {"train.grad_clip": 1.0},
    "normalize_inputs": _NORMALIZE,
    "minmax_inputs": {"data.normalize": "minmax"},
    "scale_pixels": {"data.normalize": "unit"},
    "shuffle": {"data.shuffle": True},
    "class_weights": {"train.class_weight": "balanced"},
    "reweight_covariate": {"train.reweight": "covariate"},
    "reweight_label": {"train.reweight": "label"},
    "use_kaiming_init": {"model.init": "kaiming_normal"},
    "use_xavier_init": {"model.init": "xavier_normal"},
    "random_init": {"model.init": "kaiming_normal"},
    "bias_init": {"model.bias_init": 0.01},
    "use_relu_he": _RELU_HE,
    "use_leaky_relu": {"model.activation": "leaky_relu"},
    "add_normalization": {"model.norm": "batch"},
    "use_layer_norm": {"model.norm": "layer"},
    "use_group_norm": {"model.norm": "group"},
    "batch_of_32": {"train.batch_size": 32},
    "shallower_network": {"model.depth": "x0.5"},
    "use_residual": {"model.arch": "resnet"},
    "bigger_model": {"model.width": "x4"},
    "much_bigger_model": {"model.width": "x16"},
    "widen_layers": _widen,
    "remove_output_activation": {"model.output_activation": "none"},
    "linear_regression_output": {"model.output_activation": "none"},
    "use_log_softmax": {"model.output_activation": "none", "train.loss": "cross_entropy"},
    "use_cross_entropy": {"train.loss": "cross_entropy"},
    "use_focal_loss": {"train.loss": "focal"},
    "label_smoothing": {"train.label_smoothing": 0.1},
    "smaller_batch": {"train.batch_size": "x0.5"},
    "larger_batch": {"train.batch_size": "x2"},
    "dropout": {"model.dropout": 0.3},
    "weight_decay": {"train.weight_decay": 5e-4},
    "early_stopping": {"train.epochs": "x0.5"},
    "less_regularization": {"train.weight_decay": 0.0, "model.dropout": 0.0},
    "train_longer": {"train.epochs": "x2"},
    "call_eval": {"train.eval_mode": True},
    "call_zero_grad": {"train.zero_grad": True},
    # -- GANs (train.task: gan; the gan: section, docs/gan.md) --
    "non_saturating_loss": {"gan.loss": "non_saturating"},
    "pack_samples": {"gan.pack": 4},
    "two_timescale_rates": {"gan.lr_g": 0.001, "gan.lr_d": 0.004},
    "spectral_norm": {"gan.spectral_norm": "discriminator"},
    "gradient_penalty": {"gan.gradient_penalty": "wgan_gp", "gan.gp_weight": 10.0},
    "instance_noise": {"gan.instance_noise": 0.1},
    "soft_labels": {"gan.soft_labels": 0.9},
    "more_d_steps": {"gan.d_steps": "x2"},
    "fewer_d_steps": {"gan.d_steps": "x0.5"},
}

_unknown = sorted(set(PATCHES) - set(REMEDIES))
if _unknown:  # a typo here would silently never apply
    raise ValueError(f"PATCHES keys must be remedy codes of the registry, got {_unknown}")


def patch_for(code: str, finding: Finding | None = None) -> Patch:
    """The config patch of remedy ``code`` (a new dict; empty when it has no config form).

    Raises:
        ValueError: ``code`` is not a remedy code of the registry.
    """
    if code not in REMEDIES:
        raise ValueError(f"remedy code must be one of {sorted(REMEDIES)}, got {code!r}")
    entry = PATCHES.get(code)
    if entry is None:
        return {}
    if callable(entry):
        return dict(entry(finding)) if finding is not None else {}
    return dict(entry)


def attach_patches(findings: list[Finding]) -> list[Finding]:
    """Give every remedy of ``findings`` its config patch (in place); returns ``findings``.

    Remedies whose code is not in the registry (hand-made ones) and remedies that already have
    a patch are left alone.
    """
    for f in findings:
        f.remedies = [r if r.patch or r.code not in REMEDIES
                      else dataclasses.replace(r, patch=patch_for(r.code, f)) for r in f.remedies]
    return findings


_USUAL = ("usual", "<=usual", ">=usual")


def usual_rate(usual: float, current: Any, value: str) -> float:
    """The rate a ``train.lr`` patch of ``"usual"``, ``"<=usual"`` or ``">=usual"`` gives, for
    an optimizer whose usual rate is ``usual`` and a config whose rate is ``current``."""
    if value == "usual" or not isinstance(current, (int, float)):
        return usual
    return min(float(current), usual) if value == "<=usual" else max(float(current), usual)


def _usual_lr(config: dict[str, Any], current: Any, value: str) -> float:
    """:func:`usual_rate` for the optimizer named in ``config``."""
    from torchdoctor.optim import USUAL_LR

    name = config.get("train", {}).get("optimizer", "sgdm")
    if name not in USUAL_LR:
        raise ValueError(f"patch train.lr={value!r} needs a train.optimizer in {sorted(USUAL_LR)}, "
                         f"got {name!r}")
    return usual_rate(USUAL_LR[name], current, value)


_FACTOR = re.compile(r"^x([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)$")


def patch_dict(config: dict[str, Any], patch: Patch) -> dict[str, Any]:
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
