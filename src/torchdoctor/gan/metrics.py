"""Sample-quality metrics for generative models, in any dimension.

k-nearest-neighbour manifold estimates: each real sample gets a ball reaching its k-th nearest
real neighbour; fake samples that fall into balls are "on the real manifold".

- :func:`coverage` and :func:`density`: Naeem, Oh, Uh, Choi & Yoo 2020, "Reliable Fidelity and
  Diversity Metrics for Generative Models" (ICML), eq. 3-4.
- :func:`precision_recall`: Kynkäänniemi, Karras, Laine, Lehtinen & Aila 2019, "Improved
  Precision and Recall Metric for Assessing Generative Models" (NeurIPS).
- :func:`diversity`: mean pairwise distance, for generated vs real diversity ratios.

Inputs are arrays or tensors of shape (N, ...) (flattened to (N, D)); distances are Euclidean,
in the data's own units. Cost O(N·M·D) with blocks of 1,024 rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["coverage", "density", "diversity", "knn_radii", "precision_recall"]

_BLOCK = 1024


def _flat(x: Any) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x.detach())
    t = t.to(torch.float64).reshape(len(t), -1)
    if len(t) == 0:
        raise ValueError("metrics need at least one sample, got an empty batch")
    if not torch.isfinite(t).all():
        raise ValueError("samples contain NaN or Inf: the metrics need finite samples")
    return t


def _cdist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # exact pairwise distances (the matrix-product shortcut loses ~1e-4 relative at small scales)
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")


def knn_radii(x: Any, k: int = 5) -> torch.Tensor:
    """Distance from each sample of ``x`` (N, ...) to its k-th nearest other sample: (N,)."""
    t = _flat(x)
    if not 1 <= k < len(t):
        raise ValueError(f"k = {k}: must be between 1 and the number of samples - 1 ({len(t) - 1})")
    out = []
    for i in range(0, len(t), _BLOCK):
        d = _cdist(t[i:i + _BLOCK], t)
        out.append(d.kthvalue(k + 1, dim=1).values)  # the 1st smallest is the sample itself
    return torch.cat(out)


def _inside(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """(len(points), len(centres)) bool: point inside the centre's ball (closed)."""
    rows = [(_cdist(points[i:i + _BLOCK], centres) <= radii[None, :])
            for i in range(0, len(points), _BLOCK)]
    return torch.cat(rows)


def coverage(real: Any, fake: Any, k: int = 5) -> float:
    """Share of real samples whose k-NN ball holds at least one fake sample, in [0, 1].

    1 when the generated samples reach every region of the data; a collapsed generator covers
    only the balls around its few modes (Naeem et al. 2020, eq. 4).
    """
    r, f = _flat(real), _flat(fake)
    radii = knn_radii(r, k)
    hit = torch.zeros(len(r), dtype=torch.bool)
    for i in range(0, len(r), _BLOCK):
        d = _cdist(r[i:i + _BLOCK], f).min(dim=1).values
        hit[i:i + _BLOCK] = d <= radii[i:i + _BLOCK]
    return float(hit.double().mean())


def density(real: Any, fake: Any, k: int = 5) -> float:
    """Mean number of real k-NN balls holding each fake sample, divided by k (Naeem et al. 2020,
    eq. 3): about 1 for samples distributed like the data, > 1 when they crowd dense regions."""
    r, f = _flat(real), _flat(fake)
    radii = knn_radii(r, k)
    return float(_inside(f, r, radii).double().sum() / (k * len(f)))


def precision_recall(real: Any, fake: Any, k: int = 3) -> tuple[float, float]:
    """(precision, recall) of Kynkäänniemi et al. 2019, each in [0, 1].

    Precision: share of fake samples inside some real k-NN ball (quality). Recall: share of
    real samples inside some fake k-NN ball (how much of the data the generator reaches).
    """
    r, f = _flat(real), _flat(fake)
    precision = _inside(f, r, knn_radii(r, k)).any(dim=1).double().mean()
    recall = _inside(r, f, knn_radii(f, k)).any(dim=1).double().mean()
    return float(precision), float(recall)


def diversity(x: Any, max_samples: int = 2048, seed: int = 0) -> float:
    """Mean distance between two different samples of ``x`` (a random subset of at most
    ``max_samples``, fixed by ``seed``), in the data's units; 0 for a single repeated sample."""
    t = _flat(x)
    if len(t) < 2:
        raise ValueError("diversity needs at least two samples")
    if len(t) > max_samples:
        g = torch.Generator().manual_seed(seed)
        t = t[torch.randperm(len(t), generator=g)[:max_samples]]
    n = len(t)
    total = sum(float(_cdist(t[i:i + _BLOCK], t).sum()) for i in range(0, n, _BLOCK))
    return total / (n * (n - 1))
