"""Data and a training loop shared by the lab's experiments (small, seeded, CPU)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from torchdoctor import nn as td_nn
from torchdoctor.data import load_raw


@dataclass
class Split:
    """Standardized tensors: ``x_*`` float32 (N, ...), ``y_*`` int64 (N,)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    num_classes: int


def dataset(name: str = "digits", seed: int = 0, *, image: bool = False,
            val_fraction: float = 0.3) -> Split:
    """A built-in dataset, stratified split by ``seed``, standardized with training statistics.

    ``image=False`` flattens image data to (N, D); ``image=True`` keeps (N, C, H, W).
    """
    from sklearn.model_selection import train_test_split

    raw = load_raw(name, seed=seed)
    x = raw.x if image else raw.x.reshape(len(raw.x), -1)
    xtr, xva, ytr, yva = train_test_split(x, raw.y, test_size=val_fraction, random_state=seed,
                                          stratify=raw.y if raw.num_classes else None)
    if image:
        mu, sd = float(xtr.mean()), float(xtr.std()) or 1.0
    else:
        mu, sd = xtr.mean(0), np.where(xtr.std(0) > 1e-8, xtr.std(0), 1.0)
    f = lambda a: torch.as_tensor(((a - mu) / sd).astype(np.float32))  # noqa: E731
    return Split(f(xtr), torch.as_tensor(ytr), f(xva), torch.as_tensor(yva), raw.num_classes)


def mlp(in_features: int, widths: Sequence[int], out_features: int, activation: str = "relu",
        *, dropout: float = 0.0, **act_kw: Any) -> nn.Sequential:
    """``in → widths… → out`` MLP built with :func:`torchdoctor.nn.make_activation`.

    ``activation="maxout"`` makes each hidden Linear ``pieces`` (default 2) times wider, so every
    layer still has ``widths[i]`` units. ``dropout > 0`` adds ``nn.Dropout`` after each
    activation. Input (N, in_features) or anything that flattens to it; output (N, out_features).
    """
    pieces = int(act_kw.get("pieces", 2)) if activation == "maxout" else 1
    layers: list[nn.Module] = [nn.Flatten()]
    prev = in_features
    for w in widths:
        layers += [nn.Linear(prev, w * pieces), td_nn.make_activation(activation, **act_kw)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        prev = w
    layers.append(nn.Linear(prev, out_features))
    return nn.Sequential(*layers)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Share of correct argmax predictions, the model in eval mode (its mode restored after)."""
    was = model.training
    model.eval()
    try:
        return float((model(x).argmax(1) == y).float().mean())
    finally:
        model.train(was)


@dataclass
class History:
    """Per-epoch ``train_loss`` (mean over steps), ``val_accuracy``; ``diverged`` on a NaN/Inf loss."""

    train_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    diverged: bool = False

    @property
    def final_accuracy(self) -> float:
        return self.val_accuracy[-1] if self.val_accuracy else float("nan")


def fit(model: nn.Module, split: Split, optimizer: torch.optim.Optimizer, *, epochs: int,
        batch_size: int, seed: int = 0,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        on_step: Callable[[nn.Module], None] | None = None) -> History:
    """Minibatch training (reshuffled each epoch with ``seed``); stops at a non-finite loss.

    ``batch_size <= 0`` or larger than the set means full-batch gradient descent.
    """
    loss_fn = loss_fn or nn.functional.cross_entropy
    g = torch.Generator().manual_seed(seed)
    n = len(split.x_train)
    bs = n if batch_size <= 0 else min(batch_size, n)
    hist = History()
    model.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=g)
        total, steps = 0.0, 0
        for i in range(0, n - bs + 1, bs):  # drop the ragged last batch (BN at batch 1)
            idx = order[i:i + bs]
            loss = loss_fn(model(split.x_train[idx]), split.y_train[idx])
            value = float(loss.detach())
            if not math.isfinite(value):
                hist.diverged = True
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if on_step is not None:
                on_step(model)
            total, steps = total + value, steps + 1
        if hist.diverged:
            hist.train_loss.append(float("nan"))
            hist.val_accuracy.append(float("nan"))
            break
        hist.train_loss.append(total / max(steps, 1))
        hist.val_accuracy.append(accuracy(model, split.x_val, split.y_val))
    return hist
