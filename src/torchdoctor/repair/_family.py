"""Differential diagnosis: the user's config against the healthy default of its family.

The *family default* of a config is the shipped config of the same dataset and architecture
(``torchdoctor/configs/``), else of the same dataset with the user's architecture, else the
schema defaults. A key the user moved away from that default and that a finding implicates
(:data:`IMPLICATES`: e.g. ``dead_relu`` implicates ``model.bias_init`` and ``model.init``) is a
suspect: resetting it to the default is a candidate, as an engineer compares a sick run with
a known-good one and undoes the differences that could explain the symptom.

What the user chose on purpose and what describes the data are never reset
(:data:`KEPT_KEYS`): the dataset, the task, the length of training, the architecture, the
seed, the data's imbalance and label noise.
"""

from __future__ import annotations

import functools
from typing import Any

from torchdoctor.repair._patch import config_diff
from torchdoctor.train.config import Config, ConfigError, config_from_dict, load_config

__all__ = ["IMPLICATES", "KEPT_KEYS", "WIDTH_BOTTLENECK", "deviations", "family_default", "implicated_keys"]

#: A width this many times below the family's default is a bottleneck the default replaces
#: (own choice: a quarter still trains digits to the default's accuracy; 6 units of 64 do not).
WIDTH_BOTTLENECK = 4
#: Keys a family default never overrides: the user's problem and choices of scale.
KEPT_KEYS = frozenset({
    "seed", "data.name", "data.val_fraction", "data.imbalance", "data.label_noise",
    "train.task", "train.epochs", "train.reweight", "model.arch", "model.depth",
})
#: Config keys each finding can be caused by (a cause-level finding first names its own key).
#: The outcome findings implicate the rate, the regularization and the batch order (batches
#: sorted by label make the loss swing and the fit fail when the sort goes unnoticed); the
#: architecture is never a suspect (see :data:`KEPT_KEYS`).
IMPLICATES: dict[str, tuple[str, ...]] = {
    "unnormalized_input": ("data.normalize", "data.scale"),
    "unshuffled_data": ("data.shuffle",),
    "missing_zero_grad": ("train.zero_grad",),
    "train_mode_in_eval": ("train.eval_mode",),
    "wrong_output_activation": ("model.output_activation", "train.loss"),
    "wrong_loss": ("train.loss", "model.output_activation"),
    "symmetric_weights": ("model.init", "model.init_std"),
    "small_batch_norm": ("model.norm", "train.batch_size"),
    "narrow_layer": ("model.width",),
    "nonfinite": ("train.lr", "model.init", "model.init_std", "data.normalize", "data.scale",
                  "train.optimizer", "model.output_activation"),
    "exploding_gradient": ("train.lr", "model.init", "model.init_std", "data.normalize",
                           "data.scale", "train.optimizer", "train.zero_grad"),
    "vanishing_gradient": ("model.init", "model.init_std", "model.activation", "model.bias_init",
                           "train.weight_decay", "train.l1", "data.normalize", "data.scale"),
    "dead_relu": ("model.bias_init", "model.init", "model.init_std", "train.lr",
                  "data.normalize", "data.scale"),
    "saturated_activation": ("model.bias_init", "model.init", "model.init_std",
                             "model.activation", "data.normalize", "data.scale"),
    "activation_collapse": ("model.init", "model.init_std", "model.bias_init", "model.activation"),
    "loss_plateau": ("train.lr", "train.weight_decay", "train.l1", "train.optimizer",
                     "train.batch_size", "model.dropout"),
    "loss_oscillating": ("train.lr", "train.optimizer", "train.batch_size", "train.momentum",
                         "data.shuffle"),
    "underfitting": ("train.lr", "train.weight_decay", "train.l1", "model.dropout",
                     "train.batch_size", "train.label_smoothing", "train.optimizer", "data.shuffle"),
    "class_imbalance": ("train.class_weight",),
}
#: Keys whose reset is meaningless without another one (the std belongs to its init scheme).
_TIED = {"model.init_std": "model.init", "data.scale": "data.normalize"}


@functools.lru_cache(maxsize=1)
def _shipped() -> tuple[Config, ...]:
    """The shipped configs, parsed once per process (package files: they do not change; a
    repair of a 0.05 s training would otherwise spend most of its time parsing them)."""
    from torchdoctor.configs import config_names, config_path

    return tuple(load_config(config_path(n)) for n in config_names())


def family_default(cfg: Config) -> Config:
    """The healthy default of ``cfg``'s family, with :data:`KEPT_KEYS` taken from ``cfg``.

    The user's width is kept unless it is a bottleneck, :data:`WIDTH_BOTTLENECK` times
    narrower than the default or more (then the default width: widening is a cure). Falls back to the schema defaults when no shipped config fits, and to
    ``cfg`` itself when the mixture does not validate.
    """
    shipped = _shipped()
    same_data = [c for c in shipped if c.data.name == cfg.data.name and c.train.task == cfg.train.task]
    exact = [c for c in same_data if c.model.arch == cfg.model.arch]
    base = (exact or same_data or [None])[0]
    raw = base.to_dict() if base is not None else config_from_dict(
        {"train": {"task": cfg.train.task, **({"loss": "mse"} if cfg.train.task == "regression" else {})}}
    ).to_dict()
    user = cfg.to_dict()
    for key in KEPT_KEYS:
        section, _, leaf = key.partition(".")
        if leaf:
            raw[section][leaf] = user[section][leaf]
        else:
            raw[section] = user[section]
    raw["target"] = user["target"]
    if user["model"]["width"] * WIDTH_BOTTLENECK >= raw["model"]["width"]:
        raw["model"]["width"] = user["model"]["width"]
    if base is not None and base.model.arch != cfg.model.arch:
        raw["model"]["norm"] = user["model"]["norm"] if user["model"]["norm"] != "instance" else "batch"
    try:
        return config_from_dict(raw)
    except ConfigError:
        return cfg


def deviations(cfg: Config, default: Config) -> dict[str, tuple[Any, Any]]:
    """``{key: (user value, default value)}`` for every resettable key that differs.

    ``model.init_std`` only counts under an init scheme that reads it, ``data.scale`` only
    when it differs from 1.
    """
    out = {k: v for k, v in config_diff(default, cfg).items()
           if k not in KEPT_KEYS and not k.startswith("target.")}
    swapped = {k: (u, d) for k, (d, u) in out.items()}
    if cfg.model.init not in ("normal", "uniform"):
        swapped.pop("model.init_std", None)
    return swapped


def implicated_keys(codes: list[str], devs: dict[str, tuple[Any, Any]]) -> list[str]:
    """The deviating keys the finding codes implicate, in the order of the codes and of
    :data:`IMPLICATES`; a tied key (``init_std``, ``scale``) brings its partner along."""
    keys: list[str] = []
    for code in codes:
        for key in IMPLICATES.get(code, ()):
            if key in devs and key not in keys:
                keys.append(key)
    for key, partner in _TIED.items():
        if key in keys and partner in devs and partner not in keys:
            keys.append(partner)
        if partner in keys and key in devs and key not in keys:
            keys.append(key)
    return keys
