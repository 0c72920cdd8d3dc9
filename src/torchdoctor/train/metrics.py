"""Evaluation metrics of a prepared dataset split: loss, accuracy, AUC (binary), R² (regression)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

EVAL_BATCH = 2048


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
             loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], *, task: str,
             num_classes: int, prefix: str = "val") -> dict[str, float]:
    """Loss and accuracy of ``model`` on (x, y) in batches, in whatever mode the model is in.

    The caller decides ``model.eval()``: the ``eval_mode: false`` bug leaves it in training mode.
    Returns ``{prefix_loss, prefix_accuracy[, prefix_auc]}`` or for regression
    ``{prefix_loss, prefix_r2}``.
    """
    outs = [model(x[i:i + EVAL_BATCH]) for i in range(0, len(x), EVAL_BATCH)]
    out = torch.cat(outs) if outs else torch.empty(0)
    res: dict[str, float] = {f"{prefix}_loss": float(loss_fn(out, y))}
    if task == "classification":
        res[f"{prefix}_accuracy"] = float((out.argmax(1) == y).float().mean())
        if num_classes == 2:
            res[f"{prefix}_auc"] = binary_auc(out, y)
    else:
        pred = out.reshape(y.shape)
        ss_res = float(((pred - y) ** 2).sum())
        ss_tot = float(((y - y.mean()) ** 2).sum())
        res[f"{prefix}_r2"] = 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")
    return res


def binary_auc(out: torch.Tensor, y: torch.Tensor) -> float:
    """ROC AUC of the class-1 score (logit difference; monotone in the class-1 probability).

    Mann–Whitney form with tied scores counted half (equals ``sklearn.metrics.roc_auc_score``).
    """
    from scipy.stats import rankdata

    score = (out[:, 1] - out[:, 0]).double()
    pos, neg = score[y == 1], score[y == 0]
    if len(pos) == 0 or len(neg) == 0 or not torch.isfinite(score).all():
        return float("nan")
    ranks = rankdata(torch.cat([pos, neg]).numpy())  # ties get their average rank
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(pos) * len(neg)))
