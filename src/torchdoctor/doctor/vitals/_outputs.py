"""What a batch's inputs, outputs and targets ARE: the tensor that matters, the task, class ids.

Two jobs, both on sampled steps only:

1. **Selection** (:class:`Selector`): ``inputs``, ``outputs`` and ``targets`` may be tensors or
   tuples, lists, dicts (``ModelOutput``-style mappings included), dataclasses and named
   tuples, nested. The rule that picks one tensor:

   - ``outputs``: the ``output_key`` the user gave (a key, attribute name, index, or a
     callable ``outputs -> Tensor``); else the first entry named one of :data:`OUTPUT_KEYS`
     that is a floating tensor; else the first floating tensor with a batch dimension, in
     order (depth first).
   - ``inputs``: the first floating tensor with a batch dimension (``(x, lengths)`` -> ``x``);
     integer token ids are not scaled data, so no input statistics are taken from them.
   - ``targets``: the first entry named one of :data:`TARGET_KEYS`, else the first tensor.

   What was picked and what was skipped is said once per structure (one ``logging`` line
   under ``torchdoctor``, kept in ``vitals.loop["io"]``): never silently blind.

2. **Interpretation** (:func:`interpret`): from the shapes, dtypes and (once per layout, one
   host read) the target values, the task kind:

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
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

__all__ = [
    "BATCH_FIELDS", "OUTPUT_KEYS", "TARGET_KEYS", "Batch", "BatchView", "Selector", "accuracy",
    "batch_stats", "class_counts", "interpret", "other_dim_devs", "view",
]

log = logging.getLogger("torchdoctor")

#: Entry names preferred for the model's prediction in a dict/dataclass output, in order.
OUTPUT_KEYS = ("logits", "logit", "scores", "prediction", "predictions", "preds", "pred",
               "output", "outputs", "out", "y_hat", "yhat", "recon", "reconstruction", "x_hat")
#: Entry names preferred for the targets in a dict/dataclass target.
TARGET_KEYS = ("labels", "label", "targets", "target", "y")
#: Fields of :func:`batch_stats` (one buffer row): deviation from log-probabilities and from
#: probabilities along the dims other than the classes (:func:`other_dim_devs`), the broadcast MSE and L1
#: of outputs vs targets of mismatching shapes (NaN when the shapes agree, or when the
#: broadcast loss equals the aligned one, as it does for constant outputs).
BATCH_FIELDS = ("other_lse_dev", "other_sum_dev", "mse_bcast", "l1_bcast")

Key = str | int | Callable[[Any], Any]
_NAN = float("nan")


def _entries(obj: Any) -> list[tuple[str, Any]] | None:
    """``(name, value)`` pairs of a container, ``None`` for a leaf."""
    if isinstance(obj, Mapping):
        return [(str(k), v) for k, v in obj.items()]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return [(f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj)]
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # named tuple
        return [(str(n), v) for n, v in zip(obj._fields, obj, strict=False)]
    if isinstance(obj, (tuple, list)):
        return [(f"[{i}]", v) for i, v in enumerate(obj)]
    return None


def _leaves(obj: Any, path: str = "", depth: int = 0) -> Iterator[tuple[str, torch.Tensor]]:
    """Tensors inside ``obj``, depth first, with their paths (``.logits``, ``[0]``)."""
    if isinstance(obj, torch.Tensor):
        yield path, obj
        return
    items = _entries(obj) if depth < 4 else None
    for name, v in items or []:
        yield from _leaves(v, path + (name if name.startswith("[") else f".{name}"), depth + 1)


def _shape(t: torch.Tensor) -> str:
    return f"Tensor{list(t.shape)} {str(t.dtype).replace('torch.', '')}"


def _structure(obj: Any) -> str:
    """A short signature of a container's layout (type and entry names), for 'said once'."""
    items = _entries(obj)
    if items is None:
        return type(obj).__name__
    return f"{type(obj).__name__}(" + ",".join(n for n, _ in items) + ")"


def _batched(t: torch.Tensor) -> bool:
    return t.dim() >= 1 and t.shape[0] > 0


class Selector:
    """Picks the tensor that matters in ``inputs``/``outputs``/``targets`` (module docstring).

    Args:
        output_key: key, attribute name or index of the prediction in a container output, or
            a callable ``outputs -> Tensor``; ``None`` applies the rule of the module docstring.

    Raises:
        ValueError: ``output_key`` is not a str, int, callable or ``None``.
    """

    def __init__(self, output_key: Key | None = None) -> None:
        if output_key is not None and not (isinstance(output_key, (str, int)) or callable(output_key)) \
                or isinstance(output_key, bool):
            raise ValueError(f"output_key must be a str, int, callable or None, got {output_key!r}")
        self.output_key = output_key
        #: What was picked, by role: one sentence each (for the report and ``vitals.loop["io"]``).
        self.said: dict[str, str] = {}
        self._seen: set[tuple[str, str]] = set()

    def select(self, role: str, obj: Any) -> torch.Tensor | None:
        """The tensor of ``obj`` that matters for ``role`` (``inputs``, ``outputs``, ``targets``)."""
        if obj is None:
            return None
        if isinstance(obj, torch.Tensor):
            if role == "inputs" and not obj.is_floating_point():
                self._say(role, obj, f"{role} are {_shape(obj)} (ids, not scaled values): "
                          "input statistics skipped")
                return None
            return obj
        leaves = list(_leaves(obj))
        path, chosen = self._choose(role, obj, leaves)
        if chosen is None and role == "inputs" and leaves and not any(t.is_floating_point() for _, t in leaves):
            self._say(role, obj, f"{role} is a {_structure(obj)} of integer tensors (ids, not scaled "
                      "values): input statistics skipped")
            return None
        if chosen is None:
            what = ", ".join(f"{p or role} {_shape(t)}" for p, t in leaves) or "no tensor"
            self._say(role, obj, f"{role} is a {_structure(obj)} with {what}: no usable tensor, "
                      f"{role} symptoms skipped", level=logging.WARNING)
            return None
        skipped = [f"{p} {_shape(t)}" for p, t in leaves if t is not chosen]
        hint = " (choose another with Doctor(output_key=...))" if role == "outputs" else ""
        msg = f"{role} is a {_structure(obj)}: using {role}{path} {_shape(chosen)}"
        if skipped:
            msg += "; skipping " + ", ".join(skipped)
        self._say(role, obj, msg + hint)
        return chosen

    def _choose(self, role: str, obj: Any, leaves: list[tuple[str, torch.Tensor]]
                ) -> tuple[str, torch.Tensor | None]:
        if role == "outputs" and self.output_key is not None:
            key = self.output_key
            if callable(key):
                got = key(obj)
            elif isinstance(obj, Mapping):
                got = obj.get(key)
            elif isinstance(key, int) and isinstance(obj, (tuple, list)):
                got = obj[key] if -len(obj) <= key < len(obj) else None
            else:
                got = getattr(obj, str(key), None)
            name = "(output_key)" if callable(key) else (f"[{key}]" if isinstance(key, int) else f".{key}")
            return name, got if isinstance(got, torch.Tensor) else None
        floating = [(p, t) for p, t in leaves if t.is_floating_point() and _batched(t)]
        if role == "inputs":
            return floating[0] if floating else ("", None)
        prefer = OUTPUT_KEYS if role == "outputs" else TARGET_KEYS
        pool = floating if role == "outputs" else [(p, t) for p, t in leaves if _batched(t)]
        named = {p.lstrip(".").lower(): (p, t) for p, t in pool}
        for k in prefer:
            if k in named:
                return named[k]
        return pool[0] if pool else ("", None)

    def _say(self, role: str, obj: Any, msg: str, level: int = logging.INFO) -> None:
        sig = (role, _structure(obj) if not isinstance(obj, torch.Tensor) else _shape(obj))
        if sig in self._seen:
            return
        self._seen.add(sig)
        self.said[role] = msg
        log.log(level, "torchdoctor: %s", msg)


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
