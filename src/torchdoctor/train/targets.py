"""The ``target:`` sample and ``train.reweight``: what the trainer needs beyond the data.

``prepare_inputs(cfg)`` loads the data (holding out a pool when a target is configured), draws
the configured target sample (a synthetic shift of the config's ``target:`` block, or a user's
``npz:PATH``), estimates the per-sample training weights that ``train.reweight`` asks for, and
adds the target sample as an extra evaluation set (``target_loss``, ``target_accuracy``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from torchdoctor.data import DataBundle, load, load_npz
from torchdoctor.rundir import show
from torchdoctor.train.config import Config

#: Clip c of the importance weights β = min(exp(h)·n_s/n_t, c): a cap bounds the variance of the weighted loss.
WEIGHT_CLIP = 10.0


@dataclass
class Target:
    """A target sample in model space (normalized like the training data)."""

    x: torch.Tensor
    y: torch.Tensor | None
    source: str


@dataclass
class TrainInputs:
    """Everything a Trainer takes besides the config."""

    data: DataBundle
    target: Target | None = None
    sample_weights: torch.Tensor | None = None
    eval_sets: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


def _flat(x: torch.Tensor) -> np.ndarray:
    return x.reshape(len(x), -1).numpy().astype(np.float64)


def load_target(cfg: Config, data: DataBundle, target_path: str | None = None) -> Target | None:
    """The configured target sample: ``target_path`` (``npz:PATH`` or a path) or ``target.shift``."""
    if target_path is not None:
        path = target_path[4:] if target_path.startswith("npz:") else target_path
        where = f"--target npz:{show(path)}"
        raw = load_npz(path, labels=False, min_classes=1, source=where)
        if tuple(raw.x.shape[1:]) != data.input_shape:
            raise ValueError(f"{where}: x rows have shape {tuple(raw.x.shape[1:])}, "
                             f"the training data {data.input_shape}")
        if raw.task == "classification" and data.task == "classification" \
                and raw.num_classes > data.num_classes:
            raise ValueError(f"{where}: y has class label {raw.num_classes - 1}; the training "
                             f"data has classes 0..{data.num_classes - 1}")
        x = torch.from_numpy(data.normalizer(raw.x))
        y = torch.as_tensor(raw.y) if raw.y is not None and raw.task == data.task else None
        return Target(x, y, f"npz:{path}")
    if cfg.target.shift == "none" and cfg.train.reweight == "none":
        return None
    if data.x_pool is None or data.y_pool is None:
        raise ValueError("the data was loaded without a target pool; load it with with_pool=True")
    from torchdoctor.data.shift import make_target_sample

    t = cfg.target
    xp = _flat(data.x_pool)
    x, y = make_target_sample(xp, data.y_pool.numpy(), shift=t.shift, size=t.size, alpha=t.alpha,
                              strength=t.strength, sigma=t.sigma, seed=cfg.seed,
                              reference_x=_flat(data.x_train))
    x_t = torch.from_numpy(np.asarray(x, dtype=np.float32)).reshape(len(x), *data.input_shape)
    return Target(x_t, torch.as_tensor(y, dtype=data.y_pool.dtype), f"synthetic {t.shift} shift")


def probability_model(data: DataBundle, seed: int = 0) -> Any:
    """A quick black-box classifier (multinomial logistic regression) on the training data:
    the predictor whose confusion on validation data BBSE / EM+BCTS need."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=500, random_state=seed)
    clf.fit(_flat(data.x_train), data.y_train.numpy())
    return clf


def estimate_weights(cfg: Config, data: DataBundle, target: Target) -> tuple[np.ndarray, dict[str, Any]]:
    """Per-training-sample weights (N,), mean 1, for ``train.reweight``."""
    from torchdoctor.data.shift import reweight_factors

    kind = cfg.train.reweight
    if kind == "covariate":
        w = reweight_factors("covariate", x_train=_flat(data.x_train), x_target=_flat(target.x),
                             clip=WEIGHT_CLIP, seed=cfg.seed)
        return w, {"kind": kind, "clip": WEIGHT_CLIP}
    if kind == "label":
        clf = probability_model(data, cfg.seed)
        k = data.num_classes
        sp = _proba(clf, _flat(data.x_val), k)
        tp = _proba(clf, _flat(target.x), k)
        w = reweight_factors("label", y_train=data.y_train.numpy(), source_probs=sp,
                             source_labels=data.y_val.numpy(), target_probs=tp, clip=WEIGHT_CLIP,
                             seed=cfg.seed)
        return w, {"kind": kind, "clip": WEIGHT_CLIP, "method": "em+bcts"}
    return np.ones(len(data.x_train)), {"kind": "none"}


def _proba(clf: Any, x: np.ndarray, k: int) -> np.ndarray:
    """Probabilities over all ``k`` classes (columns for classes the classifier never saw are 0)."""
    p = clf.predict_proba(x)
    out = np.zeros((len(x), k))
    out[:, clf.classes_.astype(int)] = p
    return out


def prepare_inputs(cfg: Config, *, target_path: str | None = None) -> TrainInputs:
    """Data, target sample, sample weights and extra evaluation sets for ``cfg``."""
    needs_pool = target_path is None and (cfg.target.shift != "none" or cfg.train.reweight != "none")
    data = load(cfg.data, seed=cfg.seed, with_pool=needs_pool)
    target = load_target(cfg, data, target_path)
    inputs = TrainInputs(data, target)
    if target is not None and target.y is not None:
        inputs.eval_sets["target"] = (target.x, target.y)
    weights = np.ones(len(data.x_train))
    if cfg.train.reweight != "none":
        if target is None:
            raise ValueError(f"train.reweight = {cfg.train.reweight}: needs a target sample "
                             "(target.shift or --target)")
        w, info = estimate_weights(cfg, data, target)
        weights = weights * w
        inputs.info["reweight"] = {**info, "min": float(w.min()), "max": float(w.max())}
    if cfg.train.class_weight == "balanced":
        w = balanced_class_weights(data.y_train.numpy(), data.num_classes)
        weights = weights * w
        inputs.info["class_weight"] = {"kind": "balanced", "min": float(w.min()), "max": float(w.max())}
    if cfg.train.reweight != "none" or cfg.train.class_weight != "none":
        inputs.sample_weights = torch.as_tensor(weights / weights.mean(), dtype=torch.float32)
    return inputs


def balanced_class_weights(y: np.ndarray, k: int) -> np.ndarray:
    """Per-sample weights N / (K·n_y) (scikit-learn's ``class_weight="balanced"``), shape (N,)."""
    counts = np.bincount(y, minlength=k).astype(np.float64)
    per_class = np.where(counts > 0, len(y) / (k * np.maximum(counts, 1)), 0.0)
    return per_class[y]
