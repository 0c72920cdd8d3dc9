"""The config's training losses as ``(outputs, targets, weights | None) -> scalar`` callables.

- ``cross_entropy``: ``F.cross_entropy`` on logits, with ``train.label_smoothing``.
- ``mse``: mean squared error; for classification against one-hot targets (the classic
  "MSE for classification" comparison), for regression against the targets.
- ``nll``: ``F.nll_loss``: the outputs must be log-probabilities (``output_activation:
  log_softmax``); on raw logits it is the real bug the doctor looks for.
- ``focal``: :func:`torchdoctor.losses.softmax_focal_loss` (γ = 2).

Sample weights (``train.reweight``) give a weighted mean ``Σ wᵢ ℓᵢ / N`` with mean-1 weights.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

LossFn = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]

FOCAL_GAMMA = 2.0


def make_loss(name: str, *, task: str, num_classes: int, label_smoothing: float = 0.0) -> LossFn:
    """The training loss named ``name`` for ``task`` (see module docstring)."""
    if name == "cross_entropy":
        def ce(out: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
            if w is None:
                return F.cross_entropy(out, y, label_smoothing=label_smoothing)
            per = F.cross_entropy(out, y, label_smoothing=label_smoothing, reduction="none")
            return (per * w).mean()
        return ce
    if name == "nll":
        def nll(out: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
            if w is None:
                return F.nll_loss(out, y)
            return (F.nll_loss(out, y, reduction="none") * w).mean()
        return nll
    if name == "focal":
        from torchdoctor.losses import softmax_focal_loss

        def focal(out: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
            if w is None:
                return softmax_focal_loss(out, y, gamma=FOCAL_GAMMA, reduction="mean")
            return (softmax_focal_loss(out, y, gamma=FOCAL_GAMMA, reduction="none") * w).mean()
        return focal
    if name == "mse":
        if task == "classification":
            def mse_onehot(out: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
                target = F.one_hot(y, num_classes).to(out.dtype)
                if w is None:
                    return F.mse_loss(out, target)
                return ((out - target).pow(2).mean(1) * w).mean()
            return mse_onehot

        def mse(out: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
            pred = out.reshape(y.shape)
            if w is None:
                return F.mse_loss(pred, y)
            per = (pred - y).pow(2)
            return (per.reshape(len(y), -1).mean(1) * w).mean()
        return mse
    raise ValueError(f"train.loss = {name!r}: allowed: cross_entropy, mse, focal, nll")
