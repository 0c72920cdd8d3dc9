"""The GAN series of a :class:`~torchdoctor.GanDoctor`: one row per discriminator step (its
loss, mean score on real and on fake samples, batch AUC) and per generator step (its loss,
mean score of its fakes), plus the sample statistics of sampled steps.

Hot path: a discriminator step stacks its four numbers into one device tensor (no host sync);
:meth:`GanSeries.flush` copies the pending rows to the host at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["AUC_PAIRS", "GanSeries", "as_scores"]

#: Samples of each side compared pairwise for the batch AUC (the first ones of the batch).
AUC_PAIRS = 64

_NAN = float("nan")


def as_scores(x: Any, name: str, warn: Callable[[str, str], None]) -> torch.Tensor | None:
    """The discriminator's raw outputs as a flat float tensor (N*...,), or ``None`` after saying
    once why ``x`` cannot be read."""
    if x is None:
        return None
    if type(x) is not torch.Tensor and not isinstance(x, torch.Tensor):
        warn(f"{name}:type", f"{name} must be a tensor of the discriminator's raw outputs "
             f"(logits or critic values), got {type(x).__name__}; it is ignored")
        return None
    if not x.is_floating_point() or x.numel() == 0:
        warn(f"{name}:dtype", f"{name} must be a non-empty floating tensor, got dtype {x.dtype} "
             f"and shape {tuple(x.shape)}; it is ignored")
        return None
    if x.dim() == 2 and x.shape[1] > 1:
        warn(f"{name}:shape", f"{name} has shape {tuple(x.shape)}: one score per sample "
             "(N or N x 1) is expected; all its values are read as scores")
    return x.detach().reshape(-1)


def _scalar(loss: Any) -> torch.Tensor | float:
    if type(loss) is torch.Tensor:
        return loss.detach().float().mean() if loss.dim() else loss.detach().float()
    if isinstance(loss, (int, float)) and not isinstance(loss, bool):
        return float(loss)
    return _NAN


class GanSeries:
    """Per-step GAN numbers, on the host after :meth:`flush`.

    Attributes:
        d: one dict per discriminator step: ``step``, ``g_steps`` (generator steps before it),
            ``loss``, ``real`` and ``fake`` (mean raw scores), ``auc`` (share of (real, fake)
            pairs of the first :data:`AUC_PAIRS` samples whose real score is the higher, ties
            count half).
        g: one dict per generator step: ``step``, ``loss``, ``fake`` (mean raw score of its fakes).
        samples: one dict per sampled discriminator step: ``step`` and the sample statistics.
        max_rows: rows kept per list; beyond, the older half is thinned.
    """

    def __init__(self, max_rows: int = 4000) -> None:
        self.d: list[dict[str, Any]] = []
        self.g: list[dict[str, Any]] = []
        self.samples: list[dict[str, Any]] = []
        self.max_rows = max_rows
        self._d_pending: list[tuple[int, int, Any]] = []
        self._g_pending: list[tuple[int, Any]] = []

    def add_d(self, step: int, g_steps: int, loss: Any, real: torch.Tensor | None,
              fake: torch.Tensor | None) -> None:
        """One discriminator step (``real``/``fake``: flat scores or ``None``)."""
        value = _scalar(loss)
        if real is not None and fake is not None and type(value) is torch.Tensor \
                and value.device == real.device == fake.device:
            r, f = real[:AUC_PAIRS].float(), fake[:AUC_PAIRS].float()
            sign = torch.sign(r[:, None] - f[None, :]).mean()
            self._d_pending.append((step, g_steps, torch.stack((value, r.mean(), f.mean(), sign))))
            return
        row = [value, real.float().mean() if real is not None else _NAN,
               fake.float().mean() if fake is not None else _NAN, _NAN]
        if real is not None and fake is not None:
            r, f = real[:AUC_PAIRS].float().cpu(), fake[:AUC_PAIRS].float().cpu()
            row[3] = torch.sign(r[:, None] - f[None, :]).mean()
        self._d_pending.append((step, g_steps, row))

    def add_g(self, step: int, loss: Any, fake: torch.Tensor | None) -> None:
        """One generator step (``fake``: flat scores of its fakes or ``None``)."""
        value = _scalar(loss)
        if fake is not None and type(value) is torch.Tensor and value.device == fake.device:
            self._g_pending.append((step, torch.stack((value, fake.float().mean()))))
        else:
            self._g_pending.append((step, [value, fake.float().mean() if fake is not None else _NAN]))

    def flush(self) -> None:
        """Copy the pending rows to the host (one copy for the stacked ones)."""
        d, g = self._d_pending, self._g_pending
        self._d_pending, self._g_pending = [], []
        for (step, g_steps, _), (loss, real, fake, sign) in zip(d, _host([x for *_, x in d]), strict=True):
            self.d.append({"step": step, "g_steps": g_steps, "loss": loss, "real": real,
                           "fake": fake, "auc": 0.5 + 0.5 * sign if math.isfinite(sign) else None})
        for (step, _), (loss, fake) in zip(g, _host([x for _, x in g]), strict=True):
            self.g.append({"step": step, "loss": loss, "fake": fake})
        for rows in (self.d, self.g, self.samples):
            if len(rows) > self.max_rows:
                half = self.max_rows // 2
                rows[:] = rows[:-half][::2] + rows[-half:]

    def as_loop(self, g_grad: list[list[float]]) -> dict[str, Any]:
        """The ``vitals.loop["gan"]`` dict the GAN rules read (after :meth:`flush`)."""
        return {"d": self.d, "g": self.g, "samples": self.samples, "g_grad": g_grad}


def _host(rows: list[Any]) -> list[list[float]]:
    """Rows (stacked tensors or lists of floats and 0-d tensors) as lists of floats."""
    if not rows:
        return []
    tensors = [i for i, r in enumerate(rows) if type(r) is torch.Tensor]
    out: list[list[float]] = [[] for _ in rows]
    if tensors:
        try:
            host = torch.stack([rows[i] for i in tensors]).double().cpu().tolist()
        except (RuntimeError, TypeError):  # several devices: one at a time
            host = [rows[i].double().cpu().tolist() for i in tensors]
        for i, h in zip(tensors, host, strict=True):
            out[i] = h
    for i, r in enumerate(rows):
        if type(r) is not torch.Tensor:
            out[i] = [float(v) for v in r]
    return out
