"""One factory for every optimizer the config names (``train.optimizer``).

PyTorch already has all of them except LARS, so the factory only maps names to
``torch.optim`` classes:

=========  ==============================================================================
name       optimizer
=========  ==============================================================================
gd         ``torch.optim.SGD`` without momentum; *full-batch* gradient descent is the
           trainer's job (it feeds the whole training set as one batch).
sgd        ``torch.optim.SGD`` without momentum (mini-batch SGD).
sgdm       ``torch.optim.SGD`` with ``momentum`` (default 0.9).
adagrad    ``torch.optim.Adagrad``.
adadelta   ``torch.optim.Adadelta`` (``lr`` scales the Adadelta step; PyTorch's default 1.0).
rmsprop    ``torch.optim.RMSprop`` (``momentum`` is *not* forwarded: RMSprop's classic form
           has none; pass ``rmsprop_momentum=...`` to set it).
adam       ``torch.optim.Adam`` (L2 penalty added to the gradient).
adamw      ``torch.optim.AdamW`` (decoupled weight decay).
lars       :class:`torchdoctor.optim.LARS` (You et al. 2017).
=========  ==============================================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from torchdoctor.optim._lars import LARS

OPTIMIZERS: tuple[str, ...] = (
    "gd", "sgd", "sgdm", "adagrad", "adadelta", "rmsprop", "adam", "adamw", "lars",
)

#: A usual starting learning rate per optimizer (what the ``"usual"``, ``"<=usual"`` and
#: ``">=usual"`` values of a ``train.lr`` patch refer to): PyTorch's own default for Adam and
#: AdamW (1e-3), Adagrad (1e-2) and Adadelta (1.0); Hinton's classic 1e-3 for RMSprop (PyTorch's
#: default is 1e-2); the common 0.1 for plain and 0.05 for momentum SGD (momentum 0.9 multiplies
#: the effective step by 10), 0.5 for full-batch GD and 2.0 for LARS, whose trust ratio
#: (eta = 0.001) scales every layer's step down.
USUAL_LR: dict[str, float] = {
    "gd": 0.5, "sgd": 0.1, "sgdm": 0.05, "adagrad": 0.01, "adadelta": 1.0, "rmsprop": 1e-3,
    "adam": 1e-3, "adamw": 1e-3, "lars": 2.0,
}


def make_optimizer(
    name: str,
    params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
    lr: float,
    *,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    **kw: Any,
) -> torch.optim.Optimizer:
    """Build the optimizer called ``name``.

    Args:
        name: one of ``gd, sgd, sgdm, adagrad, adadelta, rmsprop, adam, adamw, lars``
            (case-insensitive).
        params: parameters or parameter groups, as for any ``torch.optim.Optimizer``.
        lr: learning rate (> 0).
        momentum: momentum coefficient in ``[0, 1)``, used by ``sgdm`` and ``lars`` only
            (``gd`` and ``sgd`` are momentum-free by definition; Adam-family optimizers
            take ``betas`` through ``kw``).
        weight_decay: L2 penalty (``adamw``: decoupled decay), >= 0.
        **kw: extra keyword arguments forwarded to the optimizer class (e.g. ``betas``,
            ``eps``, ``nesterov``, ``eta`` for LARS). ``rmsprop_momentum`` sets RMSprop's
            own momentum.

    Returns:
        The optimizer.

    Raises:
        ValueError: unknown ``name`` (the message lists the valid names), ``lr <= 0``,
            ``momentum`` outside ``[0, 1)`` or ``weight_decay < 0``.
    """
    key = str(name).lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"optimizer name must be one of {', '.join(OPTIMIZERS)}; got {name!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    if not weight_decay >= 0.0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
    if key in ("gd", "sgd"):
        return torch.optim.SGD(params, lr=lr, momentum=0.0, weight_decay=weight_decay, **kw)
    if key == "sgdm":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, **kw)
    if key == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=weight_decay, **kw)
    if key == "adadelta":
        return torch.optim.Adadelta(params, lr=lr, weight_decay=weight_decay, **kw)
    if key == "rmsprop":
        rms_momentum = kw.pop("rmsprop_momentum", 0.0)
        return torch.optim.RMSprop(
            params, lr=lr, momentum=rms_momentum, weight_decay=weight_decay, **kw
        )
    if key == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, **kw)
    if key == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, **kw)
    return LARS(params, lr=lr, momentum=momentum, weight_decay=weight_decay, **kw)
