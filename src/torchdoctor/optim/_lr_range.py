"""Learning-rate range test: an exponential sweep of the rate over a few hundred steps.

The usual advice: find the largest learning rate that does not
make the loss diverge, then train about ten times below it. The sweep (Smith 2017, "Cyclical
learning rates", the "LR range test") raises the rate geometrically from ``start_lr`` to
``end_lr``, one mini-batch per rate, records an exponentially smoothed loss, stops when that
loss exceeds ``diverge_factor`` times its minimum (or is not finite), and returns the rate of
divergence divided by ten. The model and optimizer are restored afterwards.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from torchdoctor.optim._factory import make_optimizer


@dataclass
class LRRangeResult:
    """What :func:`lr_range_test` measured.

    Attributes:
        lrs: the rates tried, one per step (geometric sequence, possibly cut at divergence).
        losses: the smoothed (bias-corrected exponential moving average) losses.
        raw_losses: the losses of each mini-batch.
        diverged_lr: the first rate whose smoothed loss exceeded ``diverge_factor`` times the
            minimum so far (or was not finite); ``None`` if the sweep never diverged.
        suggested_lr: ``diverged_lr / 10``; without divergence, the rate of the lowest
            smoothed loss divided by 10.
        min_loss_lr: the rate at the lowest smoothed loss.
    """

    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    raw_losses: list[float] = field(default_factory=list)
    diverged_lr: float | None = None
    suggested_lr: float = math.nan
    min_loss_lr: float = math.nan


def _batches(loader: Iterable[Any]) -> Any:
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ValueError("loader must yield at least one batch, got an empty iterable")


def lr_range_test(
    model: torch.nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    loader: Iterable[Any],
    *,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
    optimizer: torch.optim.Optimizer | str = "sgdm",
    smooth: float = 0.98,
    diverge_factor: float = 4.0,
) -> LRRangeResult:
    """Sweep the learning rate exponentially and suggest one (about 10× below divergence).

    Args:
        model: the model; its parameters and buffers are restored at the end.
        loss_fn: ``loss_fn(model(x), y) -> scalar``.
        loader: iterable of ``(x, y)`` batches (re-iterated if shorter than ``num_steps``).
        start_lr: first rate (> 0).
        end_lr: last rate (> ``start_lr``).
        num_steps: number of rates (and mini-batches), >= 2.
        optimizer: an optimizer over ``model``'s parameters (its state and rates are restored
            afterwards), or a name for :func:`make_optimizer` (default ``"sgdm"``).
        smooth: β of the exponential moving average of the loss in [0, 1); 0 = no smoothing.
        diverge_factor: stop once the smoothed loss exceeds this multiple of its minimum (> 1).

    Returns:
        An :class:`LRRangeResult`.

    Raises:
        ValueError: a bad range, step count, smoothing, factor or an empty loader.
    """
    if not start_lr > 0:
        raise ValueError(f"start_lr must be > 0, got {start_lr}")
    if not end_lr > start_lr:
        raise ValueError(f"end_lr must be > start_lr = {start_lr}, got {end_lr}")
    if not (isinstance(num_steps, int) and num_steps >= 2):
        raise ValueError(f"num_steps must be an integer >= 2, got {num_steps}")
    if not 0.0 <= smooth < 1.0:
        raise ValueError(f"smooth must be in [0, 1), got {smooth}")
    if not diverge_factor > 1.0:
        raise ValueError(f"diverge_factor must be > 1, got {diverge_factor}")
    opt = (make_optimizer(optimizer, model.parameters(), start_lr)
           if isinstance(optimizer, str) else optimizer)
    model_state = copy.deepcopy(model.state_dict())
    opt_state = copy.deepcopy(opt.state_dict())
    was_training = model.training
    result = LRRangeResult()
    ratio = (end_lr / start_lr) ** (1.0 / (num_steps - 1))
    avg, best = 0.0, math.inf
    try:
        model.train()
        batches = _batches(loader)
        for i in range(num_steps):
            lr = start_lr * ratio**i
            for group in opt.param_groups:
                group["lr"] = lr
            x, y = next(batches)
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            value = float(loss.detach())
            avg = smooth * avg + (1 - smooth) * value
            smoothed = avg / (1 - smooth ** (i + 1))
            result.lrs.append(lr)
            result.raw_losses.append(value)
            result.losses.append(smoothed)
            if not math.isfinite(smoothed) or smoothed > diverge_factor * best:
                result.diverged_lr = lr
                break
            best = min(best, smoothed)
    finally:
        model.load_state_dict(model_state)
        opt.load_state_dict(opt_state)
        model.train(was_training)
    finite = [(loss, lr) for loss, lr in zip(result.losses, result.lrs, strict=True)
              if math.isfinite(loss)]
    if finite:
        result.min_loss_lr = min(finite)[1]
    anchor = result.diverged_lr if result.diverged_lr is not None else result.min_loss_lr
    result.suggested_lr = anchor / 10.0
    return result


def plot_lr_range(result: LRRangeResult, ax: Any = None) -> Any:
    """Plot smoothed loss against rate (log x-axis) with the suggestion marked.

    Args:
        result: the output of :func:`lr_range_test`.
        ax: a matplotlib ``Axes``; a new figure is made if ``None``.

    Returns:
        The ``Axes``.

    Raises:
        ImportError: matplotlib is not installed (with the ``pip install`` line).
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plot_lr_range needs matplotlib: pip install 'torchdoctor[report]' "
                          "(or pip install matplotlib)") from exc
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(result.lrs, result.raw_losses, color="0.75", lw=0.8, label="loss")
    ax.plot(result.lrs, result.losses, color="C0", label="smoothed loss")
    ax.set_xscale("log")
    if math.isfinite(result.suggested_lr):
        ax.axvline(result.suggested_lr, color="C2", ls="--",
                   label=f"suggested {result.suggested_lr:.2g}")
    if result.diverged_lr is not None:
        ax.axvline(result.diverged_lr, color="C3", ls=":", label=f"diverged {result.diverged_lr:.2g}")
    finite = [v for v in result.losses if math.isfinite(v)]
    if finite:
        lo = min(finite)
        ax.set_ylim(lo - 0.05 * abs(lo), min(max(finite), 4 * abs(lo) + 1e-12) * 1.05)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    ax.legend(frameon=False, fontsize=8)
    return ax
