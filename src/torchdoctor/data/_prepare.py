"""From a raw dataset to training and validation tensors, following ``data:`` of the config.

Order: scale → (target pool carved out) → stratified train/val split → class imbalance and label
noise on the training part only → normalization statistics fitted on the training part only
(validation never leaks into them) → training order (shuffled per epoch, or sorted by label when
``shuffle: false``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from torchdoctor.data._sources import RawDataset, load_raw
from torchdoctor.rundir import show

#: Largest |input| after ``data.scale``: the normalization statistics are float32, whose squares
#: overflow beyond about 1.8e19.
MAX_SCALED_INPUT = 1e18

#: Share of the data held out as a pool for ``target:`` samples when a target is configured.
TARGET_POOL_FRACTION = 0.3


@dataclass
class Normalizer:
    """``x -> (x * scale_in - shift) / divisor`` with statistics fitted on training data.

    ``shift`` and ``divisor`` broadcast over a batch: per feature for tabular data, per channel
    for images and sequences.
    """

    mode: str
    scale_in: float
    shift: np.ndarray
    divisor: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, mode: str, kind: str, scale_in: float = 1.0) -> Normalizer:
        """Fit on scaled training inputs ``x`` (N, ...)."""
        axes = (0,) if kind == "tabular" else tuple(i for i in range(x.ndim) if i != 1)
        keep = np.ones(x.ndim, dtype=bool)
        keep[list(axes)] = False
        shape = [s if k else 1 for s, k in zip(x.shape, keep, strict=True)][1:]
        if mode == "none":
            shift, div = np.zeros(shape), np.ones(shape)
        elif mode == "standard":
            shift = x.mean(axis=axes).reshape(shape)
            div = x.std(axis=axes).reshape(shape)
        elif mode == "minmax":
            shift = x.min(axis=axes).reshape(shape)
            div = x.max(axis=axes).reshape(shape) - shift
        elif mode == "unit":  # (x - 127.5) / 127.5 style: global range to [-1, 1]
            lo, hi = float(x.min()), float(x.max())
            shift, div = np.full(shape, (hi + lo) / 2), np.full(shape, (hi - lo) / 2)
        else:
            raise ValueError(f"data.normalize = {mode!r}: allowed: none, standard, minmax, unit")
        div = np.where(div > 1e-8, div, 1.0)  # constant features stay constant, not infinite
        return cls(mode, scale_in, shift.astype(np.float32), div.astype(np.float32))

    def __call__(self, x_raw: np.ndarray) -> np.ndarray:
        """Apply to raw (unscaled) inputs."""
        return ((x_raw * self.scale_in - self.shift) / self.divisor).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "scale": self.scale_in,
                "shift": self.shift.ravel().tolist(), "divisor": self.divisor.ravel().tolist()}


@dataclass
class DataBundle:
    """Prepared tensors and what the model and the doctor need to know about them.

    Attributes:
        x_train, x_val: float32 tensors (N, *input_shape), normalized.
        y_train, y_val: int64 labels (N,) or float32 targets.
        x_train_raw, x_val_raw: inputs as NumPy after ``scale`` but before normalization
            (what the data checkup inspects).
        x_pool, y_pool: normalized held-out pool for ``target:`` samples, or None.
        normalizer: maps a user's raw inputs (e.g. a target npz) into model space.
    """

    name: str
    task: str
    kind: str
    num_classes: int
    input_shape: tuple[int, ...]
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_train_raw: np.ndarray
    x_val_raw: np.ndarray
    normalizer: Normalizer
    x_pool: torch.Tensor | None = None
    y_pool: torch.Tensor | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def digest(self) -> str:
        """SHA-256 (hex) of the data, raw and prepared (training, validation and pool, values
        and shapes): equal digests mean the same data in the same split and order."""
        import hashlib

        h = hashlib.sha256()
        for t in (self.x_train_raw, self.x_val_raw, self.x_train, self.y_train, self.x_val,
                  self.y_val, self.x_pool, self.y_pool):
            if t is None:
                h.update(b"none")
                continue
            a = np.ascontiguousarray(t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t)
            h.update(f"{a.dtype}{a.shape}".encode())
            h.update(a.tobytes())
        return h.hexdigest()

    @property
    def num_outputs(self) -> int:
        """Width of the model's last layer."""
        if self.task == "classification":
            return self.num_classes
        return 1 if self.y_train.ndim == 1 else int(self.y_train.shape[1])


def load(data_cfg: Any, *, seed: int = 0, with_pool: bool = False) -> DataBundle:
    """Prepare the dataset named by ``data_cfg`` (a :class:`~torchdoctor.train.config.DataConfig`).

    Args:
        data_cfg: the ``data:`` section.
        seed: the run's seed; the split, imbalance, noise and generated data follow it.
        with_pool: also hold out a pool (``TARGET_POOL_FRACTION``) for ``target:`` samples.
    """
    raw = load_raw(data_cfg.name, seed)
    return prepare(raw, data_cfg, seed=seed, with_pool=with_pool)


def prepare(raw: RawDataset, data_cfg: Any, *, seed: int = 0, with_pool: bool = False) -> DataBundle:
    """The steps of :func:`load` on an already loaded :class:`RawDataset`."""
    rng = np.random.default_rng([seed, 7919])
    classification = raw.task == "classification"
    x_all, y_all = raw.x, raw.y
    peak = float(np.abs(x_all).max()) * data_cfg.scale if x_all.size else 0.0
    if peak > MAX_SCALED_INPUT:
        raise ValueError(f"data.scale = {data_cfg.scale:g}: the scaled inputs of {show(raw.name)} "
                         f"reach {peak:.3g}; allowed up to {MAX_SCALED_INPUT:g} (float32 "
                         "statistics overflow beyond it)")
    idx = np.arange(len(x_all))
    pool_idx = None
    if with_pool:
        idx, pool_idx = _split(idx, y_all, TARGET_POOL_FRACTION, rng, classification)
        _check_split(raw, idx, pool_idx, f"the target pool ({TARGET_POOL_FRACTION:g} of the data)")
    tr_idx, va_idx = _split(idx, y_all, data_cfg.val_fraction, rng, classification)
    _check_split(raw, tr_idx, va_idx, f"data.val_fraction = {data_cfg.val_fraction:g}")
    x_tr, y_tr = x_all[tr_idx] * data_cfg.scale, y_all[tr_idx].copy()
    info: dict[str, Any] = {}
    if classification and data_cfg.imbalance > 1.0:
        keep = _imbalance_keep(y_tr, raw.num_classes, data_cfg.imbalance, rng)
        x_tr, y_tr = x_tr[keep], y_tr[keep]
    if classification and data_cfg.label_noise > 0:
        y_tr, flipped = _label_noise(y_tr, raw.num_classes, data_cfg.label_noise, rng)
        info["noisy_labels"] = int(flipped)
    if classification:
        info["train_class_counts"] = np.bincount(y_tr, minlength=raw.num_classes).tolist()
    if data_cfg.shuffle:
        order = rng.permutation(len(x_tr))  # initial order; batches are reshuffled each epoch
    else:
        order = np.argsort(y_tr if y_tr.ndim == 1 else y_tr[:, 0], kind="stable")
    x_tr, y_tr = x_tr[order], y_tr[order]
    norm = Normalizer.fit(x_tr, data_cfg.normalize, raw.kind, data_cfg.scale)
    ydt = torch.int64 if classification else torch.float32

    def tx(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(norm(a)))

    def ty(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a, dtype=ydt)

    bundle = DataBundle(
        name=raw.name, task=raw.task, kind=raw.kind, num_classes=raw.num_classes,
        input_shape=tuple(raw.x.shape[1:]),
        x_train=torch.from_numpy(np.ascontiguousarray((x_tr - norm.shift) / norm.divisor).astype(np.float32)),
        y_train=ty(y_tr), x_val=tx(x_all[va_idx]), y_val=ty(y_all[va_idx]),
        x_train_raw=x_tr, x_val_raw=x_all[va_idx] * data_cfg.scale, normalizer=norm, info=info,
    )
    if pool_idx is not None:
        bundle.x_pool, bundle.y_pool = tx(x_all[pool_idx]), ty(y_all[pool_idx])
    return bundle


def _check_split(raw: RawDataset, keep: np.ndarray, out: np.ndarray, what: str) -> None:
    """Both parts of a split hold samples, or a one-line ``ValueError`` saying how many are needed."""
    if len(keep) and len(out):
        return
    if raw.task == "classification":
        counts = np.bincount(raw.y, minlength=raw.num_classes)
        have = f"{len(raw.y)} samples, at most {int(counts.max())} per class"
        need = "at least 2 samples in some class (more for both splits)"
    else:
        have, need = f"{len(raw.y)} samples", "at least 3"
    raise ValueError(f"data.name = {show(raw.name)}: {have} are too few to split off {what}; "
                     f"need {need}")


def _split(idx: np.ndarray, y: np.ndarray, fraction: float, rng: np.random.Generator,
           stratify: bool) -> tuple[np.ndarray, np.ndarray]:
    """Split ``idx`` into (keep, held_out) with ``fraction`` held out, per class when stratified."""
    if not stratify:
        perm = rng.permutation(idx)
        n_out = max(1, int(round(fraction * len(idx))))
        return np.sort(perm[n_out:]), np.sort(perm[:n_out])
    keep, out = [], []
    for c in np.unique(y[idx]):
        members = rng.permutation(idx[y[idx] == c])
        n_out = int(round(fraction * len(members)))
        if len(members) >= 2:
            n_out = min(max(n_out, 1), len(members) - 1)
        out.append(members[:n_out])
        keep.append(members[n_out:])
    return np.sort(np.concatenate(keep)), np.sort(np.concatenate(out))


def _imbalance_keep(y: np.ndarray, k: int, ratio: float, rng: np.random.Generator) -> np.ndarray:
    """Indices to keep so class c retains ``ratio ** (-c / (k - 1))`` of its samples.

    Class 0 keeps all, the last class ``1 / ratio``: largest/smallest ≈ ``ratio``.
    """
    keep = []
    for c in range(k):
        members = np.flatnonzero(y == c)
        if len(members) == 0:  # a label the training part does not hold
            continue
        frac = ratio ** (-c / max(k - 1, 1))
        n = max(1, int(round(frac * len(members))))
        keep.append(rng.choice(members, size=n, replace=False))
    return np.sort(np.concatenate(keep))


def _label_noise(y: np.ndarray, k: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Replace ``fraction`` of labels by a different class drawn uniformly."""
    y = y.copy()
    n = int(round(fraction * len(y)))
    which = rng.choice(len(y), size=n, replace=False)
    shift = rng.integers(1, k, size=n)  # never the same class
    y[which] = (y[which] + shift) % k
    return y, n
