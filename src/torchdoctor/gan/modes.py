"""Mode metrics of generated samples: how many of the data's modes a generator reaches.

Gaussian mixtures (``ring8``, ``grid25``), the definitions of PacGAN (Lin, Khetan, Fanti & Oh
2018, section 5.1, after VEEGAN, Srivastava et al. 2017): 2,500 samples; each sample goes to
its nearest mode; it is *high quality* within 3σ of that mode; a mode is *captured* when it
holds at least one high-quality sample; the histogram of the high-quality samples over the
modes is compared with the uniform one by the KL divergence.

Digits: a classifier trained on the real digits labels the generated ones; the classes
generated, the KL divergence of their histogram from uniform, and the coverage of the real
samples (Naeem et al. 2020, :func:`torchdoctor.gan.metrics.coverage`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "MIXTURES",
    "SAMPLES",
    "DigitClassifier",
    "Mixture",
    "digit_stats",
    "kl_from_uniform",
    "mixture",
    "mode_stats",
]

#: Samples drawn from the generator for the metrics (PacGAN, Lin et al. 2018).
SAMPLES = 2500
#: A sample is high quality within this many standard deviations of its nearest mode.
HIGH_QUALITY_SIGMAS = 3.0


@dataclass(frozen=True)
class Mixture:
    """The modes of a Gaussian-mixture dataset.

    Attributes:
        centres: (K, D) mode centres, in the data's own coordinates.
        sigma: per-coordinate standard deviation of every mode, same units.
    """

    centres: np.ndarray
    sigma: float


def _ring8() -> Mixture:
    ang = 2 * math.pi * np.arange(8) / 8
    return Mixture(np.stack([np.cos(ang), np.sin(ang)], axis=1), 0.01)


def _grid25() -> Mixture:
    g = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
    return Mixture(np.array([(a, b) for a in g for b in g]), 0.05)


#: The Gaussian-mixture datasets of the registry (``torchdoctor.data``) and their modes.
MIXTURES = {"ring8": _ring8, "grid25": _grid25}


def mixture(name: str) -> Mixture | None:
    """The :class:`Mixture` of dataset ``name``, or None when it is not a Gaussian mixture."""
    make = MIXTURES.get(name)
    return make() if make is not None else None


def kl_from_uniform(counts: Any) -> float:
    """KL(p || uniform) in nats of the histogram ``counts`` (K,), p = counts / sum.

    0 for a uniform histogram, log K when one bin holds everything; ``inf`` for an empty one.
    """
    c = np.asarray(counts, dtype=np.float64).ravel()
    if len(c) == 0 or (c < 0).any():
        raise ValueError("counts must be a non-empty histogram of non-negative numbers")
    total = c.sum()
    if total <= 0:
        return math.inf
    p = c[c > 0] / total
    return float(np.sum(p * np.log(p * len(c))))


def mode_stats(samples: Any, centres: Any, sigma: float) -> dict[str, Any]:
    """PacGAN's mode metrics of ``samples`` (N, D) against mode ``centres`` (K, D).

    Returns:
        ``modes`` (captured modes, 0..K), ``num_modes`` (K), ``high_quality`` (share of
        samples within 3σ of their nearest mode), ``kl`` (KL divergence in nats of the
        high-quality samples' mode histogram from uniform; ``inf`` with none), ``counts``
        (high-quality samples per mode, a list of K ints).
    """
    x = np.asarray(samples, dtype=np.float64)
    c = np.asarray(centres, dtype=np.float64)
    x = x.reshape(len(x), -1)
    if len(x) == 0 or not np.isfinite(x).all():
        raise ValueError("samples must be a non-empty array of finite numbers")
    if c.ndim != 2 or c.shape[1] != x.shape[1]:
        raise ValueError(f"centres of shape {c.shape} do not match samples of dimension {x.shape[1]}")
    if not sigma > 0:
        raise ValueError(f"sigma = {sigma}: must be > 0")
    d = np.sqrt(((x[:, None, :] - c[None, :, :]) ** 2).sum(-1))  # (N, K)
    nearest = d.argmin(1)
    good = d[np.arange(len(x)), nearest] <= HIGH_QUALITY_SIGMAS * sigma
    counts = np.bincount(nearest[good], minlength=len(c))
    return {"modes": int((counts > 0).sum()), "num_modes": len(c),
            "high_quality": float(good.mean()), "kl": kl_from_uniform(counts),
            "counts": [int(n) for n in counts]}


class DigitClassifier:
    """A classifier of real digits (multinomial logistic regression on the 64 pixels) that
    labels generated ones. ``x`` in the data's own units (N, 1, 8, 8) or (N, 64)."""

    def __init__(self, x: Any, y: Any, seed: int = 0) -> None:
        from sklearn.linear_model import LogisticRegression

        self.num_classes = int(np.max(y)) + 1
        self._scale = float(np.abs(np.asarray(x)).max()) or 1.0
        self._clf = LogisticRegression(max_iter=500, random_state=seed)
        self._clf.fit(self._flat(x), np.asarray(y))

    def _flat(self, x: Any) -> np.ndarray:
        a = np.asarray(x, dtype=np.float64)
        return a.reshape(len(a), -1) / self._scale

    def predict(self, x: Any) -> np.ndarray:
        """Class of each sample: (N,) ints."""
        return np.asarray(self._clf.predict(self._flat(x)), dtype=np.int64)

    def accuracy(self, x: Any, y: Any) -> float:
        """Share of ``x`` labelled ``y``."""
        return float((self.predict(x) == np.asarray(y)).mean())


def digit_stats(samples: Any, classifier: DigitClassifier, real: Any | None = None,
                min_share: float = 0.01) -> dict[str, Any]:
    """Classes generated and their balance, plus coverage against ``real`` samples.

    Returns:
        ``modes`` (classes holding at least ``min_share`` of the samples), ``num_modes``,
        ``kl`` (KL divergence in nats of the predicted-class histogram from uniform),
        ``counts`` (samples per class), and ``coverage`` (when ``real`` is given).
    """
    pred = classifier.predict(samples)
    counts = np.bincount(pred, minlength=classifier.num_classes)
    out: dict[str, Any] = {
        "modes": int((counts >= min_share * len(pred)).sum()),
        "num_modes": classifier.num_classes, "kl": kl_from_uniform(counts),
        "counts": [int(n) for n in counts]}
    if real is not None:
        from torchdoctor.gan.metrics import coverage

        out["coverage"] = coverage(real, samples)
    return out
