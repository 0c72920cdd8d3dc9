"""The GAN series of a :class:`~torchdoctor.GanDoctor`: one row per discriminator step (its
loss, mean score on real and on fake samples, batch AUC) and per generator step (its loss,
mean score of its fakes), plus the sample statistics of sampled steps.

Hot path: a step keeps detached references to its loss and first scores (no computation, no
host sync); :meth:`GanSeries.flush` computes the pending rows in a few batched ops.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

__all__ = ["AUC_PAIRS", "PENDING", "GanSeries", "as_scores"]

#: Samples of each side compared pairwise for the batch AUC (the first ones of the batch).
AUC_PAIRS = 64
#: Steps held before their numbers are computed in one batch.
PENDING = 64

_NAN = float("nan")
_FLOATS = frozenset({torch.float32, torch.float16, torch.bfloat16, torch.float64})


def as_scores(x: Any, name: str, warn: Callable[[str, str], None]) -> torch.Tensor | None:
    """The discriminator's raw outputs as a flat float tensor (N*...,), or ``None`` after saying
    once why ``x`` cannot be read."""
    if x is None:
        return None
    if type(x) is torch.Tensor and x.dtype in _FLOATS and 1 <= x.dim() <= 2 and (x.dim() < 2 or x.shape[1] == 1) \
            and x.shape[0]:
        return x.detach().reshape(-1)  # the usual case, checked cheaply
    if not isinstance(x, torch.Tensor):
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
        return loss.detach().float().mean() if loss.dim() else loss.detach()
    if isinstance(loss, (int, float)) and not isinstance(loss, bool):
        return float(loss)
    return _NAN


class GanSeries:
    """Per-step GAN numbers, on the host after :meth:`flush`.

    Hot path: a step keeps detached references to its loss and to the first
    :data:`AUC_PAIRS` scores of each side; :meth:`flush` (every :data:`PENDING` steps, and
    before the rules run) computes means and AUCs of all pending steps in a few batched ops
    and copies them to the host at once.

    Attributes:
        d: one dict per discriminator step: ``step``, ``g_steps`` (generator steps before it),
            ``loss``, ``real`` and ``fake`` (mean raw scores of the first :data:`AUC_PAIRS`
            samples), ``auc`` (share of their (real, fake) pairs whose real score is the
            higher, ties count half; ``None`` without both scores).
        g: one dict per generator step: ``step``, ``loss``, ``fake`` (mean raw score of the
            first :data:`AUC_PAIRS` of its fakes).
        samples: one dict per sampled discriminator step: ``step`` and the sample statistics.
        max_rows: rows kept per list; beyond, the older half is thinned.
    """

    def __init__(self, max_rows: int = 4000) -> None:
        self.d: list[dict[str, Any]] = []
        self.g: list[dict[str, Any]] = []
        self.samples: list[dict[str, Any]] = []
        self.max_rows = max_rows
        self._d_pending: list[tuple[int, int, Any, Any, Any]] = []
        self._g_pending: list[tuple[int, Any, Any]] = []

    def add_d(self, step: int, g_steps: int, loss: Any, real: torch.Tensor | None,
              fake: torch.Tensor | None) -> None:
        """One discriminator step (``real``/``fake``: flat scores or ``None``)."""
        self._d_pending.append((step, g_steps, _scalar(loss),
                                None if real is None else real[:AUC_PAIRS],
                                None if fake is None else fake[:AUC_PAIRS]))
        if len(self._d_pending) >= PENDING:
            self.flush()

    def add_g(self, step: int, loss: Any, fake: torch.Tensor | None) -> None:
        """One generator step (``fake``: flat scores of its fakes or ``None``)."""
        self._g_pending.append((step, _scalar(loss), None if fake is None else fake[:AUC_PAIRS]))
        if len(self._g_pending) >= PENDING:
            self.flush()

    def flush(self) -> None:
        """Compute the pending rows (batched) and copy them to the host."""
        d, g = self._d_pending, self._g_pending
        self._d_pending, self._g_pending = [], []
        if d:
            losses = _floats([x[2] for x in d])
            real = _means([x[3] for x in d])
            fake = _means([x[4] for x in d])
            auc = _aucs([x[3] for x in d], [x[4] for x in d])
            for k, (step, g_steps, *_) in enumerate(d):
                self.d.append({"step": step, "g_steps": g_steps, "loss": losses[k],
                               "real": real[k], "fake": fake[k], "auc": auc[k]})
        if g:
            losses = _floats([x[1] for x in g])
            fake = _means([x[2] for x in g])
            for k, (step, *_) in enumerate(g):
                self.g.append({"step": step, "loss": losses[k], "fake": fake[k]})
        for rows in (self.d, self.g, self.samples):
            if len(rows) > self.max_rows:
                half = self.max_rows // 2
                rows[:] = rows[:-half][::2] + rows[-half:]

    def as_loop(self, g_grad: list[list[float]], d_motion: list[list[float]] | None = None,
                g_motion: list[list[float]] | None = None) -> dict[str, Any]:
        """The ``vitals.loop["gan"]`` dict the GAN rules read (after :meth:`flush`);
        ``d_motion``/``g_motion``: ``[step, relative weight change per step]`` of sampled steps."""
        return {"d": self.d, "g": self.g, "samples": self.samples, "g_grad": g_grad,
                "d_motion": d_motion or [], "g_motion": g_motion or []}


def _groups(items: list[Any]) -> dict[tuple[Any, ...], list[int]]:
    """Indices of the tensors of ``items`` by (shape, dtype, device) (others left out)."""
    out: dict[tuple[Any, ...], list[int]] = {}
    for i, x in enumerate(items):
        if type(x) is torch.Tensor:
            out.setdefault((x.shape, x.dtype, x.device), []).append(i)
    return out


def _floats(values: list[Any]) -> list[float]:
    """Losses (floats or 0-d tensors) as floats (one copy per kind of tensor)."""
    out = [v if type(v) is float else _NAN for v in values]
    for idx in _groups(values).values():
        host = torch.stack([values[i] for i in idx]).double().cpu().tolist()
        for i, h in zip(idx, host, strict=True):
            out[i] = h
    return out


def _means(scores: list[torch.Tensor | None]) -> list[float]:
    out = [_NAN] * len(scores)
    for idx in _groups(scores).values():
        host = torch.stack([scores[i] for i in idx]).double().mean(1).cpu().tolist()  # type: ignore[misc]
        for i, h in zip(idx, host, strict=True):
            out[i] = h
    return out


def _aucs(real: list[torch.Tensor | None], fake: list[torch.Tensor | None]) -> list[float | None]:
    """Batch AUC per step: mean of sign(real_i - fake_j) over all pairs, mapped to [0, 1]."""
    out: list[float | None] = [None] * len(real)
    keyed: dict[tuple[Any, ...], list[int]] = {}
    for i, (r, f) in enumerate(zip(real, fake, strict=True)):
        if r is not None and f is not None:
            keyed.setdefault((r.shape, f.shape, r.dtype, f.dtype, r.device, f.device), []).append(i)
    for idx in keyed.values():
        r = torch.stack([real[i] for i in idx]).float()  # type: ignore[misc]
        f = torch.stack([fake[i] for i in idx]).float().to(r.device)  # type: ignore[misc]
        sign = torch.sign(r[:, :, None] - f[:, None, :]).mean((1, 2))
        for i, h in zip(idx, (0.5 + 0.5 * sign).double().cpu().tolist(), strict=True):
            out[i] = h
    return out
