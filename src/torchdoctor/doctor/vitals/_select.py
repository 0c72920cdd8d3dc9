"""Which tensor of a container the doctor reads: the selection rule for inputs, outputs, targets.

``inputs``, ``outputs`` and ``targets`` may be tensors or tuples, lists, dicts
(``ModelOutput``-style mappings included), dataclasses and named tuples, nested. The rule that
picks one tensor:

- ``outputs``: the ``output_key`` the user gave (a key, attribute name, index, or a callable
  ``outputs -> Tensor``); else the first entry named one of :data:`OUTPUT_KEYS` that is a
  floating tensor; else the first floating tensor with a batch dimension, in order (depth
  first).
- ``inputs``: the first floating tensor with a batch dimension (``(x, lengths)`` -> ``x``);
  integer token ids are not scaled data, so no input statistics are taken from them.
- ``targets``: the first entry named one of :data:`TARGET_KEYS`, else the first tensor.

What was picked and what was skipped is said once per structure (one ``logging`` line under
``torchdoctor``, kept in :attr:`Selector.said`): never silently blind.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch

__all__ = ["OUTPUT_KEYS", "TARGET_KEYS", "Key", "Selector"]

log = logging.getLogger("torchdoctor")

#: Entry names preferred for the model's prediction in a dict/dataclass output, in order.
OUTPUT_KEYS = ("logits", "logit", "scores", "prediction", "predictions", "preds", "pred",
               "output", "outputs", "out", "y_hat", "yhat", "recon", "reconstruction", "x_hat")
#: Entry names preferred for the targets in a dict/dataclass target.
TARGET_KEYS = ("labels", "label", "targets", "target", "y")
Key = str | int | Callable[[Any], Any]


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
