"""Maximum mean discrepancy two-sample test (Gretton et al. 2012), the second opinion.

Gaussian kernel with the median-distance bandwidth, unbiased MMD², and a permutation test whose
p-value counts the observed statistic as one of the permutations, ``(1 + #{T_b ≥ T}) / (1 + B)``,
so it is never 0 and the test is exact at every level (Phipson & Smyth 2010; the bug of
alibi-detect issue #960 is the omission of this ``+1``). All permutations are evaluated at once as
matrix products with the kernel matrix, so a test on 1000 + 1000 points with 200 permutations
takes a fraction of a second.
"""

from __future__ import annotations

import numpy as np

from torchdoctor.data.shift._validate import as_2d, check_pair, positive_int, to_common_precision


def median_bandwidth(z: np.ndarray, rng: np.random.Generator, max_points: int = 1000) -> float:
    """Median pairwise Euclidean distance of (at most ``max_points`` rows of) ``z`` (N, D)."""
    if z.shape[0] > max_points:
        z = z[rng.choice(z.shape[0], max_points, replace=False)]
    sq = _sq_dists(z, z)
    iu = np.triu_indices(z.shape[0], k=1)
    med = float(np.sqrt(np.median(sq[iu]))) if iu[0].size else 1.0
    return med if med > 0 else 1.0


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(sq, 0.0)


def _mmd2_many(k0: np.ndarray, a: np.ndarray, m: int, n: int) -> np.ndarray:
    """Unbiased MMD² for each column of the 0/1 source-indicator matrix ``a`` (N, B).

    ``k0`` is the kernel matrix (N, N) with a zero diagonal.
    """
    ka = k0 @ a  # (N, B): sum over source points of k(i, ·)
    row = k0.sum(1)[:, None]
    kb = row - ka  # sum over target points
    ss = (a * ka).sum(0)  # Σ_{i≠j ∈ S} k
    tt = ((1.0 - a) * kb).sum(0)  # Σ_{i≠j ∈ T} k
    st = (a * kb).sum(0)  # Σ_{i ∈ S, j ∈ T} k
    return ss / (m * (m - 1)) + tt / (n * (n - 1)) - 2.0 * st / (m * n)


def mmd_test(
    source_X: np.ndarray,
    target_X: np.ndarray,
    *,
    n_permutations: int = 200,
    bandwidth: float | None = None,
    max_samples: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """Permutation two-sample test with the Gaussian-kernel MMD.

    Args:
        source_X (array[N_s, D]): source inputs.
        target_X (array[N_t, D]): target inputs.
        n_permutations: permutations of the pooled sample (>= 1).
        bandwidth: kernel width σ in input units, ``k = exp(-|x-y|² / (2σ²))``; default the
            median pairwise distance of the pooled sample.
        max_samples: each sample is randomly subsampled to at most this many rows (the kernel
            matrix is (N_s + N_t)² floats).
        seed: seed of the subsampling and the permutations.

    Returns:
        ``{"mmd2": unbiased MMD², "p_value": (1 + #{perm ≥ obs}) / (1 + B), "bandwidth": σ}``.
    """
    s = as_2d(source_X, "source_X")
    t = as_2d(target_X, "target_X")
    check_pair(s, t, min_each=2)
    s, t = to_common_precision(s, t)
    n_permutations = positive_int(n_permutations, "n_permutations")
    max_samples = positive_int(max_samples, "max_samples", minimum=2)
    if bandwidth is not None and not bandwidth > 0:
        raise ValueError(f"bandwidth must be > 0, got {bandwidth}")
    rng = np.random.default_rng(seed)
    if s.shape[0] > max_samples:
        s = s[rng.choice(s.shape[0], max_samples, replace=False)]
    if t.shape[0] > max_samples:
        t = t[rng.choice(t.shape[0], max_samples, replace=False)]
    m, n = s.shape[0], t.shape[0]
    z = np.concatenate([s, t])
    sigma = float(bandwidth) if bandwidth is not None else median_bandwidth(z, rng)
    k0 = np.exp(-_sq_dists(z, z) / (2.0 * sigma**2))
    np.fill_diagonal(k0, 0.0)
    observed = np.zeros((m + n, 1))
    observed[:m] = 1.0
    stat = float(_mmd2_many(k0, observed, m, n)[0])
    exceed = 0
    for start in range(0, n_permutations, 100):  # chunks bound memory to (N, 100)
        b = min(100, n_permutations - start)
        a = np.zeros((m + n, b))
        order = np.argsort(rng.random((m + n, b)), axis=0)[:m]
        np.put_along_axis(a, order, 1.0, axis=0)
        exceed += int((_mmd2_many(k0, a, m, n) >= stat - 1e-12).sum())
    return {"mmd2": stat, "p_value": (1 + exceed) / (1 + n_permutations), "bandwidth": sigma}
