"""Sample statistics of a GAN on sampled steps: a reservoir of real samples and how a
generated batch sits against it (recall, coverage, precision, diversity, distance).

Recall and precision follow Kynkäänniemi et al. 2019 (k-NN balls, k = 3), coverage Naeem et al.
2020 (k = 5); :mod:`torchdoctor.gan.metrics` defines them, this module computes them from one
distance matrix with the real side cached (the reservoir changes only on sampled steps; its
radii and mean distance come from one distance matrix, in float32).
"""

from __future__ import annotations

import torch

__all__ = ["RealReservoir", "sample_stats"]


class RealReservoir:
    """At most ``size`` real samples, flattened to (n, D) float32 on the CPU, kept as a uniform
    sample of those offered (reservoir sampling by batch).

    Args:
        size: samples kept (>= 16).
        seed: seed of the reservoir's own generator (the user's RNG is never touched).
    """

    def __init__(self, size: int = 512, seed: int = 0) -> None:
        self.size = size
        self.data: torch.Tensor | None = None
        self.seen = 0
        self._gen = torch.Generator().manual_seed(seed)
        self._cache: tuple[torch.Tensor, torch.Tensor, torch.Tensor, float] | None = None

    def offer(self, batch: torch.Tensor) -> None:
        """Offer a real batch (N, ...): kept whole until full, then each of its rows replaces a
        random kept row with probability ``size / seen``."""
        x = batch.detach().reshape(len(batch), -1).float().cpu()
        if self.data is not None and x.shape[1] != self.data.shape[1]:
            raise ValueError(f"real samples changed size: {x.shape[1]} values, "
                             f"the reservoir holds {self.data.shape[1]}")
        n0 = self.seen
        self.seen += len(x)
        self._cache = None
        if self.data is None or len(self.data) < self.size:
            room = self.size - (0 if self.data is None else len(self.data))
            self.data = x[:room].clone() if self.data is None else torch.cat([self.data, x[:room]])
            x = x[room:]
            n0 += room
        if not len(x):
            return
        # row i (the (n0 + i + 1)-th sample seen) is kept with probability size / (n0 + i + 1)
        ranks = torch.arange(n0 + 1, n0 + len(x) + 1, dtype=torch.float64)
        keep = torch.rand(len(x), generator=self._gen, dtype=torch.float64) < self.size / ranks
        idx = keep.nonzero().flatten()
        if len(idx):
            slots = torch.randint(0, self.size, (len(idx),), generator=self._gen)
            self.data[slots] = x[idx]

    def real_side(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
        """``(samples (n, D), k=3 radii (n,), k=5 radii (n,), mean pairwise distance)``,
        computed once per change of the reservoir."""
        if self._cache is None:
            if self.data is None or len(self.data) < 8:
                raise ValueError("the reservoir needs at least 8 real samples")
            r = self.data
            n = len(r)
            # one exact distance matrix for both radii and the diversity (the k-th smallest
            # of a row, after the sample itself: what metrics.knn_radii computes)
            d = torch.cdist(r, r, compute_mode="donot_use_mm_for_euclid_dist")
            near = d.topk(min(6, n), dim=1, largest=False).values
            div = float(d.sum()) / (n * (n - 1))
            self._cache = (r, near[:, min(3, n - 1)], near[:, min(5, n - 1)], div)
        return self._cache


def sample_stats(reservoir: RealReservoir, fake: torch.Tensor) -> dict[str, float]:
    """How the generated batch ``fake`` (M, ...) sits against the reservoir's real samples.

    Returns:
        ``recall``: share of real samples inside some fake sample's 3-NN ball (Kynkäänniemi et
        al. 2019); ``precision``: share of fake samples inside some real 3-NN ball;
        ``coverage``: share of real samples whose 5-NN ball holds a fake one (Naeem et al.
        2020); ``diversity``: mean distance between two fake samples over that between two
        real ones; ``distance``: median distance of a fake sample to its nearest real one, over
        the real mean distance.
    """
    r, r_radii, r_cov, r_div = reservoir.real_side()
    f = fake.detach().reshape(len(fake), -1).float().cpu()
    if f.shape[1] != r.shape[1]:
        raise ValueError(f"fake samples have {f.shape[1]} values each, real ones {r.shape[1]}")
    if not torch.isfinite(f).all():
        raise ValueError("fake samples contain NaN or Inf")
    m = len(f)
    d_ff = torch.cdist(f, f)
    d_rf = torch.cdist(r, f)  # (n, m)
    if m < 5:
        raise ValueError(f"sample statistics need at least 5 fake samples, got {m}")
    f_radii = d_ff.kthvalue(4, dim=1).values  # k = 3: the 1st smallest is the sample itself
    recall = (d_rf <= f_radii[None, :]).any(dim=1).float().mean()
    precision = (d_rf <= r_radii[:, None]).any(dim=0).float().mean()
    coverage = (d_rf.min(dim=1).values <= r_cov).float().mean()
    f_div = d_ff.sum() / max(1, m * (m - 1))
    nearest = d_rf.min(dim=0).values.median()
    scale = max(r_div, 1e-12)
    vals = torch.stack([recall, precision, coverage, f_div / scale, nearest / scale]).tolist()
    return dict(zip(("recall", "precision", "coverage", "diversity", "distance"), vals, strict=True))
