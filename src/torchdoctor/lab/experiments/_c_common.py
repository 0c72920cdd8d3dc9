"""Helpers shared by lab experiments 11-15 (not an experiment: the name starts with ``_``).

- :func:`fit_indexed`: minibatch training whose loss sees the batch's row indices (a teacher's
  logits, per-row weights or any other per-row tensor can be looked up by them).
- :func:`seconds_per_call`: median CPU time of a callable (less disturbed by other processes
  than wall time, still noisy on a shared machine).
- :func:`paired_gain`, :func:`beats`, :func:`gain_text`: a per-seed paired comparison with its standard error.
- :func:`cached_dataset`: :func:`torchdoctor.lab._common.dataset`, loaded once per process
  (MNIST-1D takes about a second to generate); callers must not modify the tensors.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from functools import lru_cache

import torch
from torch import nn

from torchdoctor.lab._common import Split, dataset


@lru_cache(maxsize=16)
def cached_dataset(name: str, seed: int = 0, image: bool = False) -> Split:
    """``dataset(name, seed, image=image)``, memoized; the tensors are shared, do not modify them."""
    return dataset(name, seed, image=image)


def fit_indexed(model: nn.Module, x: torch.Tensor,
                loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], *,
                epochs: int, batch_size: int, lr: float = 1e-3, seed: int = 0,
                optimizer: torch.optim.Optimizer | None = None,
                on_epoch: Callable[[int], None] | None = None) -> bool:
    """Train ``model`` on rows of ``x`` (N, ...) with ``loss_fn(output, idx)``.

    ``idx`` (B,) int64 holds the batch's row indices, so the loss can look up labels, teacher
    logits or weights. Adam at ``lr`` unless ``optimizer`` is given; rows reshuffled each epoch
    with ``seed``; the ragged last batch is dropped. ``on_epoch(epoch)`` runs after each epoch.

    Returns:
        False when a loss became NaN/Inf (training stopped there), else True.
    """
    opt = optimizer or torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    n = len(x)
    bs = min(batch_size, n)
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(n, generator=g)
        for i in range(0, n - bs + 1, bs):
            idx = order[i:i + bs]
            loss = loss_fn(model(x[idx]), idx)
            if not math.isfinite(float(loss.detach())):
                return False
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if on_epoch is not None:
            on_epoch(epoch)
    return True


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``model(x)`` in eval mode (the mode restored after)."""
    was = model.training
    model.eval()
    try:
        return model(x)
    finally:
        model.train(was)


def seconds_per_call(fn: Callable[[], object], *, repeats: int = 5, number: int = 3) -> float:
    """Median over ``repeats`` of the mean CPU time (s, all threads) of ``number`` calls of ``fn``."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        for _ in range(number):
            fn()
        times.append((time.process_time() - t0) / number)
    return statistics.median(times)


def paired_gain(better: Sequence[float], worse: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error of the per-seed differences ``better[i] − worse[i]``.

    The standard error is NaN with one seed. A claim "A beats B" holds when the mean exceeds
    twice the standard error (with one seed: when it is positive), see :func:`beats`.
    """
    d = [float(b) - float(w) for b, w in zip(better, worse, strict=True)]
    mean = sum(d) / len(d)
    if len(d) < 2:
        return mean, float("nan")
    return mean, statistics.stdev(d) / math.sqrt(len(d))


def gain_text(better: Sequence[float], worse: Sequence[float]) -> str:
    """``"gain +0.0123 ± 0.0045"`` (mean ± standard error over seeds), or ``"(one seed)"``."""
    mean, se = paired_gain(better, worse)
    return f"gain {mean:+.4f} ± {se:.4f}" if math.isfinite(se) else f"gain {mean:+.4f} (one seed)"


def beats(better: Sequence[float], worse: Sequence[float]) -> bool:
    """``better`` above ``worse`` by more than twice the standard error of the paired gain
    (more than 0 with a single seed)."""
    mean, se = paired_gain(better, worse)
    return mean > (2 * se if math.isfinite(se) else 0.0)
