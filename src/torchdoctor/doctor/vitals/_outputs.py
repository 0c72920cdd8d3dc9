"""What a batch's outputs and targets ARE: the task kind, the class scores, the class ids.

The tensors come from :class:`~torchdoctor.doctor.vitals._select.Selector` (containers,
``output_key``). From their shapes, dtypes and (once per layout, one host read) the target
values, :func:`interpret` gives the task kind:

   ====================  =============================================  ======================
   kind                  outputs / targets                              accuracy, class counts
   ====================  =============================================  ======================
   ``class``             ``(N, C)`` / ``(N,)`` class ids                argmax; counts
   ``dense``             ``(N, T, C)`` or ``(N, C, T...)`` / ``(N, T..)``  argmax per position; no
                         (sequences, language models, segmentation)     counts (word or pixel
                                                                        frequencies are not a
                                                                        class balance)
   ``binary``            ``(N,)``/``(N, 1)`` / 0-1 targets, same count   logit > 0 (> 0.5 for
                                                                        outputs in [0, 1]);
                                                                        counts of 0 and 1
   ``multilabel``        ``(N, C)`` / multi-hot ``(N, C)``              per label; no counts
   ``soft``              ``(N, C)`` / rows in [0, 1] summing to 1       argmax vs argmax;
                         (one-hot, label smoothing, distillation)       no counts
   ``regression``        anything else with float targets               none
   ====================  =============================================  ======================

Positions whose class id is negative (``ignore_index=-100``) are left out of accuracy and
counts. All statistics stay on the device; nothing here calls ``.item()`` per step.
:func:`view` does selection and interpretation of one sampled batch in one call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from torchdoctor.doctor.vitals._select import Selector

__all__ = [
    "BATCH_FIELDS", "Batch", "BatchView", "accuracy", "batch_stats", "class_counts", "interpret",
    "other_dim_devs", "view",
]

#: Fields of :func:`batch_stats` (one buffer row): deviation from log-probabilities and from
#: probabilities along the dims other than the classes (:func:`other_dim_devs`), then the
#: broadcast MSE and L1 of outputs vs targets of mismatching shapes (NaN when the shapes
#: agree, or when the broadcast loss equals the aligned one, as it does for constant outputs).
BATCH_FIELDS = ("other_lse_dev", "other_sum_dev", "mse_bcast", "l1_bcast")

_NAN = float("nan")


@dataclass
class Batch:
    """One batch, interpreted.

    Attributes:
        kind: ``class``, ``dense``, ``binary``, ``multilabel``, ``soft``, ``regression`` or
            ``unknown`` (module docstring).
        scores (Tensor[M, C] or None): class scores with the classes on dim 1 (sequences and
            dense outputs flattened to one row per position); the outputs as given otherwise.
        labels (Tensor[M] or None): int64 class ids aligned with ``scores`` (negative = ignore).
        num_classes: C for class-id kinds (2 for binary), else ``None``.
        class_dim: the class dimension in the original outputs (``None`` without classes).
        counts: class counts are meaningful (class, binary).
    """

    kind: str
    scores: torch.Tensor | None = None
    labels: torch.Tensor | None = None
    num_classes: int | None = None
    class_dim: int | None = None
    counts: bool = False


def _float_layout(t: torch.Tensor) -> str:
    """``binary``, ``onehot``, ``soft``, ``multihot`` or ``values`` (one host read)."""
    tf = t.detach().float()
    binary = bool(((tf == 0) | (tf == 1)).all())
    if tf.dim() < 2 or tf.shape[1] < 2:
        return "binary" if binary else "values"
    in01 = bool(((tf >= 0) & (tf <= 1)).all())
    rows1 = bool(((tf.sum(1) - 1).abs() < 1e-3).all())
    if binary:
        return "onehot" if rows1 else "multihot"
    return "soft" if in01 and rows1 else "values"


def interpret(o: torch.Tensor | None, t: torch.Tensor | None,
              cache: dict[tuple[Any, ...], str] | None = None) -> Batch:
    """The kind of a batch from its outputs and targets (module docstring table).

    Args:
        o (Tensor[N, ...] or None): the selected outputs.
        t (Tensor[N, ...] or None): the selected targets.
        cache: layout decisions by shape signature; the values of float targets are read on
            the host once per signature (pass the same dict every step).
    """
    if o is None or t is None or not o.is_floating_point() or o.dim() == 0 or t.dim() == 0 \
            or o.shape[0] != t.shape[0]:
        return Batch("unknown")
    cache = {} if cache is None else cache
    if not t.is_floating_point() and not t.is_complex() and t.dtype != torch.bool:
        if o.dim() == t.dim() + 1 and o.dim() >= 3 and o.shape[:-1] == t.shape:  # (N, T, C)
            c = o.shape[-1]
            return Batch("dense", o.reshape(-1, c), t.reshape(-1).long(), c, o.dim() - 1)
        if o.dim() == t.dim() + 1 and o.dim() >= 3 and o.shape[2:] == t.shape[1:]:  # (N, C, T..)
            c = o.shape[1]
            return Batch("dense", o.movedim(1, -1).reshape(-1, c), t.reshape(-1).long(), c, 1)
        if o.dim() == 2 and t.dim() == 1 and o.shape[1] >= 2:
            return Batch("class", o, t.long(), o.shape[1], 1, counts=True)
    if o.numel() == t.numel() and o.shape[0] == o.numel():  # (N,) or (N, 1) both sides
        key = ("flat", t.dtype, tuple(t.shape[1:]))
        if key not in cache:
            cache[key] = _float_layout(t)
        if cache[key] == "binary":
            return Batch("binary", o.reshape(-1), t.reshape(-1).long(), 2, None, counts=True)
        return Batch("regression" if t.is_floating_point() else "unknown")
    if o.dim() == 2 and t.shape == o.shape and o.shape[1] >= 2:
        key = ("2d", t.dtype, o.shape[1])
        if key not in cache:
            cache[key] = _float_layout(t)
        lay = cache[key]
        if lay == "multihot":
            return Batch("multilabel", o, None, None, 1)
        if lay in ("onehot", "soft"):
            return Batch("soft", o, t.detach().argmax(1), o.shape[1], 1)
    return Batch("regression" if t.is_floating_point() else "unknown")


def accuracy(b: Batch, o: torch.Tensor, t: torch.Tensor) -> torch.Tensor | None:
    """Tensor[2] ``(correct, count)`` of a batch, or ``None`` when accuracy has no meaning.

    Binary and multi-label predictions threshold logits at 0, or outputs that all lie in
    [0, 1] (probabilities) at 0.5 (decided on the device, no host read).
    """
    if b.kind in ("class", "soft") and b.scores is not None and b.labels is not None:
        correct = (b.scores.detach().argmax(1) == b.labels).sum().float()
        return torch.stack([correct, (b.labels >= 0).sum().float()])
    if b.kind == "dense" and b.scores is not None and b.labels is not None:
        keep = b.labels >= 0  # ignore_index positions are negative
        correct = ((b.scores.detach().argmax(1) == b.labels) & keep).sum().float()
        return torch.stack([correct, keep.sum().float()])
    if b.kind in ("binary", "multilabel"):
        s = (b.scores if b.scores is not None else o).detach().float()
        truth = (b.labels.float() if b.kind == "binary" and b.labels is not None
                 else t.detach().float().reshape(s.shape))
        lo, hi = torch.aminmax(s)
        cut = torch.where((lo >= 0) & (hi <= 1), 0.5, 0.0)
        correct = ((s > cut).float() == (truth > 0.5).float()).float().sum()
        return torch.stack([correct, torch.tensor(float(s.numel()), device=s.device)])
    return None


def class_counts(b: Batch, num_classes: int) -> torch.Tensor | None:
    """Tensor[num_classes] of class counts (ignored positions left out), or ``None``."""
    if not b.counts or b.labels is None:
        return None
    shifted = b.labels.detach().reshape(-1).clamp(-1, num_classes - 1) + 1  # ignored -> bin 0
    # scatter_add, not bincount: bincount sizes its output from the data (a host sync on GPUs)
    hist = torch.zeros(num_classes + 1, device=shifted.device)
    return hist.scatter_add_(0, shifted, torch.ones_like(shifted, dtype=hist.dtype))[1:]


def other_dim_devs(o: torch.Tensor, class_dim: int) -> torch.Tensor:
    """How close ``o`` is to (log-)probabilities along a dimension other than the classes.

    For each dim ``d`` other than ``class_dim`` with at least 4 entries: ``mean |sum_d(exp o) - 1|``
    (0 for a log_softmax over ``d``) and ``mean |sum_d(o) - 1|`` (0 for a softmax over ``d``);
    the smallest of each over those dims. Along the class dim the output statistics hold the
    same two checks (``logsumexp_dev``, ``rowsum_dev``).

    Returns:
        Tensor[2] ``(log_prob_dev, prob_dev)``, NaN when no other dim qualifies.
    """
    of = o.detach().float()
    dims = [d for d in range(of.dim()) if d != class_dim % of.dim() and of.shape[d] >= 4]
    if not dims:
        return torch.full((2,), _NAN, device=o.device)
    devs = [(torch.stack([of.exp().sum(d), of.sum(d)]) - 1).abs().flatten(1).mean(1) for d in dims]
    return devs[0] if len(devs) == 1 else torch.stack(devs).amin(0)


def batch_stats(o: torch.Tensor | None, t: torch.Tensor | None, b: Batch) -> torch.Tensor | None:
    """Tensor[4] in :data:`BATCH_FIELDS` order, or ``None`` when nothing applies."""
    if o is None or not o.is_floating_point() or o.numel() == 0:
        return None
    nan = torch.full((), _NAN, device=o.device)
    other = None
    mse = l1 = nan
    if b.class_dim is not None and o.dim() >= 2 and o.shape[b.class_dim] >= 2:
        other = other_dim_devs(o, b.class_dim)
    if t is not None and t.shape != o.shape and t.numel() == o.numel() and o.numel() > 1:
        try:
            shape = torch.broadcast_shapes(o.shape, t.shape)
        except RuntimeError:
            shape = None
        if shape is not None and torch.Size(shape).numel() > o.numel():
            of, tf = o.detach().float(), t.detach().float()
            diff, aligned = of - tf, of.reshape(tf.shape) - tf
            mse, l1 = (diff * diff).mean(), diff.abs().mean()
            # constant outputs give the same loss either way: nothing to tell apart then
            mse = torch.where((mse - (aligned * aligned).mean()).abs() > 1e-3 * mse + 1e-6, mse, nan)
            l1 = torch.where((l1 - aligned.abs().mean()).abs() > 1e-3 * l1 + 1e-6, l1, nan)
    if other is None and mse is nan:
        return None
    if mse is nan:
        return F.pad(other, (0, 2), value=_NAN)
    if other is None:
        other = torch.full((2,), _NAN, device=o.device)
    return torch.cat([other, torch.stack([mse, l1])])


@dataclass
class BatchView:
    """Everything a recorder needs of one sampled batch: which tensors to measure and how.

    Attributes:
        inputs (Tensor or None): the floating input batch for input statistics.
        outputs (Tensor or None): the outputs for output statistics, with the classes on dim 1
            (a dense ``(N, T, C)`` output comes as ``(N*T, C)``).
        raw_outputs (Tensor or None): the selected outputs as given (for :func:`batch_stats`).
        targets (Tensor or None): the selected targets.
        loss_pair: ``(outputs, targets)`` to recompute the usual losses on, or ``None``.
        batch: the interpretation (:func:`interpret`).
        target_kind: the record's ``targets.kind``: ``class`` (class ids, including 0/1 targets
            of a single-logit output), ``sequence`` (dense), ``float2d``, ``float``, ``other``;
            ``None`` without targets.
        shapes: ``[output shape, target shape]`` as given (after selection).
    """

    inputs: torch.Tensor | None
    outputs: torch.Tensor | None
    raw_outputs: torch.Tensor | None
    targets: torch.Tensor | None
    loss_pair: tuple[torch.Tensor, torch.Tensor] | None
    batch: Batch
    target_kind: str | None
    shapes: list[list[int] | None]


def view(selector: Selector, cache: dict[tuple[Any, ...], str], x: Any, t: Any, o: Any) -> BatchView:
    """Select the tensors of one batch and interpret them (no host sync but the once-per-layout
    read of :func:`interpret`)."""
    x, o, t = selector.select("inputs", x), selector.select("outputs", o), selector.select("targets", t)
    if not (isinstance(x, torch.Tensor) and x.is_floating_point() and x.numel()):
        x = None
    if not (isinstance(o, torch.Tensor) and o.is_floating_point() and o.numel()):
        o = None
    if not (isinstance(t, torch.Tensor) and t.numel()):
        t = None
    b = interpret(o, t, cache)
    shown = b.scores if b.kind == "dense" else o
    if t is None:
        return BatchView(x, shown, o, None, None, b, None, [list(o.shape) if o is not None else None, None])
    cls = (not t.is_floating_point() and t.dim() == 1) or b.kind == "binary"
    kind = "class" if cls else ("float" if t.is_floating_point() else "other")
    if b.kind == "dense":
        kind = "sequence"
    elif not cls and t.is_floating_point() and t.dim() == 2 and t.shape[1] > 1:
        kind = "float2d"
    pair = None
    if o is not None:
        dense = b.kind == "dense" and b.scores is not None and b.labels is not None
        pair = (b.scores, b.labels) if dense else (o, t)  # type: ignore[assignment]
    return BatchView(x, shown, o, t, pair, b, kind, [list(o.shape) if o is not None else None, list(t.shape)])
