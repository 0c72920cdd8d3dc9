"""Synthetic target samples for shift studies (the config's ``target:`` block).

Protocols: covariate shift along the first principal component (Rabanser et al. 2019's
"x% from one side" image shifts, here on PC1), label shift with Dirichlet class priors (Lipton et
al. 2018; Alexandari et al. 2020), and additive Gaussian noise (Rabanser et al. 2019).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from torchdoctor.data.shift._validate import as_2d, positive_int

SHIFTS = ("none", "covariate", "label", "noise")


def first_principal_component(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unit first principal direction (D,) of ``x`` (N, D), sign fixed so that its
    largest-magnitude entry is positive (deterministic, like scikit-learn's ``svd_flip``)."""
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    v = vt[0]
    return mean, v * np.sign(v[np.argmax(np.abs(v))])


def _draw(idx: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` indices from ``idx``: without replacement when possible, else with."""
    if count == 0:
        return idx[:0]
    return rng.choice(idx, size=count, replace=count > idx.size)


def make_target_sample(
    x_pool: Any,
    y_pool: Any,
    *,
    shift: str = "none",
    size: int = 300,
    alpha: float = 1.0,
    strength: float = 0.7,
    sigma: float = 0.1,
    seed: int = 0,
    reference_x: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw a target sample from a held-out pool, shifted as the config's ``target:`` asks.

    Args:
        x_pool (array[N, D]): pool inputs, already normalized (model space).
        y_pool (array[N]): pool labels (classes for ``label``; any targets otherwise).
        shift: ``none`` (uniform draw) | ``covariate`` (a share ``strength`` of the sample comes
            from the pool rows above the median of their projection on the first principal
            component, the rest from below) | ``label`` (class priors ~ Dirichlet(alpha·1)) |
            ``noise`` (uniform draw plus Gaussian noise of std ``sigma``).
        size: number of target rows (>= 1).
        alpha: Dirichlet concentration (> 0) for ``label``; small = few dominant classes.
        strength: share in [0, 1] drawn from the positive side for ``covariate``; 0.5 = no shift.
        sigma: noise std (>= 0) in normalized units for ``noise``.
        seed: random seed.
        reference_x (array[M, D]): data the principal component is fitted on (e.g. the training
            inputs); default ``x_pool``.

    Returns:
        ``(x_target (array[size, D]), y_target (array[size]))`` in the dtypes of the pool. Rows are drawn without
        replacement while the pool (or the pool side / class) has enough, else with replacement.
    """
    if shift not in SHIFTS:
        raise ValueError(f"shift must be one of {SHIFTS}, got {shift!r}")
    size = positive_int(size, "size")
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    if not sigma >= 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    x_np = np.asarray(x_pool.detach().cpu().numpy() if hasattr(x_pool, "detach") else x_pool)
    y = np.asarray(y_pool.detach().cpu().numpy() if hasattr(y_pool, "detach") else y_pool)
    x2 = as_2d(x_np, "x_pool")
    if y.shape[0] != x2.shape[0]:
        raise ValueError(f"y_pool must have {x2.shape[0]} rows like x_pool, got {y.shape[0]}")
    rng = np.random.default_rng(seed)
    all_idx = np.arange(x2.shape[0])
    if shift in ("none", "noise"):
        idx = _draw(all_idx, size, rng)
    elif shift == "covariate":
        ref = x2 if reference_x is None else as_2d(reference_x, "reference_x")
        if ref.shape[1] != x2.shape[1]:
            raise ValueError(f"reference_x must have {x2.shape[1]} features, got {ref.shape[1]}")
        mean, v = first_principal_component(ref)
        proj = (x2 - mean) @ v
        upper = proj > np.median(proj)
        n_up = int(round(strength * size))
        idx = np.concatenate([_draw(all_idx[upper], n_up, rng),
                              _draw(all_idx[~upper], size - n_up, rng)])
    else:  # label
        classes = np.unique(y)
        priors = rng.dirichlet(np.full(classes.size, float(alpha)))
        counts = rng.multinomial(size, priors)
        idx = np.concatenate([_draw(all_idx[y == c], int(n), rng)
                              for c, n in zip(classes, counts, strict=True)])
    idx = rng.permutation(idx)
    x_t = x_np[idx].copy()
    if shift == "noise" and sigma > 0:
        x_t = (x_t + rng.normal(0.0, sigma, size=x_t.shape)).astype(x_np.dtype, copy=False)
    return x_t, y[idx]
