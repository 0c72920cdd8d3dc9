"""The largest singular value of a weight by power iteration (spectral normalization's core).

Spectral normalization (Miyato et al. 2018) divides a layer's
weight by its largest singular value σ(W), making the layer 1-Lipschitz; GAN discriminators
use it. To *train* with it, use PyTorch's
``torch.nn.utils.parametrizations.spectral_norm(module)``, which runs one power iteration per
forward pass and keeps ``u`` between steps. This function is the measurement: the doctor and
the tests use it to read σ(W) of any layer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def largest_singular_value(
    weight: Tensor,
    n_iter: int = 100,
    *,
    dim: int = 0,
    eps: float = 1e-12,
    generator: torch.Generator | None = None,
) -> Tensor:
    """σ_max of ``weight`` by ``n_iter`` power iterations.

    The weight is viewed as a matrix the way ``torch.nn.utils.spectral_norm`` does: ``dim``
    (0 for ``Linear`` and ``Conv``, 1 for ``ConvTranspose``) becomes the rows and the other
    dimensions are flattened into columns (a conv weight ``[out, in, kh, kw]`` becomes
    ``[out, in·kh·kw]``). Starting from a random unit ``u``, each iteration sets
    ``v = normalize(Wᵀu)`` and ``u = normalize(W v)``; the estimate is ``uᵀ W v``, which
    approaches σ_max from below at a rate set by the gap ``σ₂ / σ₁``.

    Args:
        weight (Tensor[out, *]): a weight tensor with at least 1 dimension.
        n_iter: number of power iterations (>= 1). 100 gives about 1 % on random 256×256
            Gaussian matrices, whose top two singular values are close.
        dim: the dimension that becomes the matrix rows.
        eps: added to norms to avoid division by zero (> 0).
        generator: random generator for the starting vector (default: a fixed seed 0, so
            the result is deterministic).

    Returns:
        0-d Tensor (detached) with σ_max, in ``weight``'s dtype.

    Raises:
        ValueError: ``n_iter < 1``, ``eps <= 0`` or a 0-d weight.

    Example:
        >>> w = torch.randn(64, 32, 3, 3)
        >>> largest_singular_value(w)  # ≈ torch.linalg.matrix_norm(w.reshape(64, -1), 2)
    """
    if not (isinstance(n_iter, int) and n_iter >= 1):
        raise ValueError(f"n_iter must be an integer >= 1, got {n_iter}")
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    if weight.ndim == 0:
        raise ValueError("weight must have at least 1 dimension, got a 0-d tensor")
    with torch.no_grad():
        w = weight.detach()
        if dim != 0:
            w = w.movedim(dim, 0)
        mat = w.reshape(w.shape[0], -1)
        if not mat.is_floating_point():
            mat = mat.float()
        gen = generator if generator is not None else torch.Generator().manual_seed(0)
        u = torch.randn(mat.shape[0], generator=gen, dtype=mat.dtype).to(mat.device)
        u = F.normalize(u, dim=0, eps=eps)
        v = F.normalize(mat.T @ u, dim=0, eps=eps)
        for _ in range(n_iter):
            v = F.normalize(mat.T @ u, dim=0, eps=eps)
            u = F.normalize(mat @ v, dim=0, eps=eps)
        return torch.dot(u, mat @ v)
