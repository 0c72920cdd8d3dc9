"""The adversarial losses of the GAN trainer, on raw discriminator scores (logits).

=================  =========================================  ==============================
``gan.loss``       D minimizes                                G minimizes
=================  =========================================  ==============================
minimax            BCE(s_r, t_r) + BCE(s_f, t_f)              -softplus(s_f) = log(1 - D)
non_saturating     BCE(s_r, t_r) + BCE(s_f, t_f)              softplus(-s_f) = -log D
least_squares      ½(s_r - t_r)² + ½(s_f - t_f)²              ½(s_f - 1)²
wasserstein        s_f - s_r                                  -s_f
hinge              relu(1 - s_r) + relu(1 + s_f)              -s_f
=================  =========================================  ==============================

Means over the batch; ``t_r`` and ``t_f`` are the real and fake targets (1 and 0, or soft,
noisy and flipped labels: :func:`label_targets`). References: Goodfellow et al. 2014 (minimax,
non-saturating), Mao et al. 2017 (least squares), Arjovsky et al. 2017 (Wasserstein), Miyato
et al. 2018 (hinge).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["d_loss", "g_loss", "label_targets", "r1_penalty", "scores_as_probability"]


def label_targets(n: int, *, real: float = 1.0, noise: float = 0.0, flip: float = 0.0,
                  generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Targets (real (n,), fake (n,)) for D: real ``U[real - noise, real]``, fake
    ``U[0, noise]``; each pair swapped with probability ``flip``."""
    t_real = real - noise * torch.rand(n, generator=generator)
    t_fake = noise * torch.rand(n, generator=generator)
    if flip > 0:
        swap = torch.rand(n, generator=generator) < flip
        t_real, t_fake = torch.where(swap, t_fake, t_real), torch.where(swap, t_real, t_fake)
    return t_real, t_fake


def d_loss(kind: str, s_real: Tensor, s_fake: Tensor, t_real: Tensor | None = None,
           t_fake: Tensor | None = None) -> Tensor:
    """D's loss (scalar) for scores ``s_real`` (N,) and ``s_fake`` (M,)."""
    if t_real is None:
        t_real = torch.ones_like(s_real)
    if t_fake is None:
        t_fake = torch.zeros_like(s_fake)
    if kind in ("minimax", "non_saturating"):
        return (F.binary_cross_entropy_with_logits(s_real, t_real)
                + F.binary_cross_entropy_with_logits(s_fake, t_fake))
    if kind == "least_squares":
        return 0.5 * ((s_real - t_real) ** 2).mean() + 0.5 * ((s_fake - t_fake) ** 2).mean()
    if kind == "wasserstein":
        return s_fake.mean() - s_real.mean()
    if kind == "hinge":
        return F.relu(1 - s_real).mean() + F.relu(1 + s_fake).mean()
    raise ValueError(f"gan.loss = {kind!r}: allowed: minimax, non_saturating, least_squares, "
                     "wasserstein, hinge")


def g_loss(kind: str, s_fake: Tensor) -> Tensor:
    """G's loss (scalar) for D's scores of generated samples ``s_fake`` (M,)."""
    if kind == "minimax":
        return -F.softplus(s_fake).mean()
    if kind == "non_saturating":
        return F.softplus(-s_fake).mean()
    if kind == "least_squares":
        return 0.5 * ((s_fake - 1) ** 2).mean()
    if kind in ("wasserstein", "hinge"):
        return -s_fake.mean()
    raise ValueError(f"gan.loss = {kind!r}: allowed: minimax, non_saturating, least_squares, "
                     "wasserstein, hinge")


def scores_as_probability(kind: str, s: Tensor) -> Tensor:
    """What the report shows as D(x): sigmoid of the logit for the BCE losses, the raw score
    for the others (least squares: targets 0 and 1; Wasserstein and hinge: a critic value)."""
    return torch.sigmoid(s) if kind in ("minimax", "non_saturating") else s


def r1_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, gamma: float) -> Tensor:
    """R1 (Mescheder, Geiger & Nowozin 2018): ``γ/2 E‖∇D(x_real)‖²``, graph kept."""
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return 0.5 * gamma * grad.reshape(len(x), -1).pow(2).sum(1).mean()
