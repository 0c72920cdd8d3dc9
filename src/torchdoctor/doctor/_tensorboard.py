"""A sink writing the Doctor's output to TensorBoard through ``torch.utils.tensorboard``.

Tags (``docs/tensorboard.md``), the step axis being the training step (epochs: the epoch):

- ``loss``: every step's loss;
- ``grad_norm/<layer>``, ``update_norm/<layer>``, ``update_ratio/<layer>``: per layer on the
  sampled steps (``update_norm`` = ``update_ratio`` x parameter norm);
- ``grad_norm/total``: the whole model's gradient norm on the sampled steps;
- ``epoch/<metric>``: each epoch's row (``train_loss``, ``val_loss``, ``val_accuracy`` ...);
- ``findings``: the findings as markdown text, whenever they change.

Everything is handed to the writer when the Doctor flushes (every ``interval`` steps and at
each epoch end), never inside a training step. The writer this sink opens queues up to
:data:`MAX_QUEUE` events and writes them to disk on its own thread (at the latest every
:data:`FLUSH_SECS` seconds, and at :meth:`TensorBoardSink.close`): with TensorBoard's default
queue of 10 events, a flush of 50 steps would wait for the disk.
"""

from __future__ import annotations

import math
import os
from typing import Any

from torchdoctor.doctor._sinks import Sink
from torchdoctor.findings import Finding

__all__ = ["TensorBoardSink", "check_target", "open_writer", "require_tensorboard"]

#: Events the writer opened here queues before a write waits for its thread.
MAX_QUEUE = 10_000
#: Seconds between two flushes of the writer's file to disk (TensorBoard's default: 120).
FLUSH_SECS = 10

#: The error when ``torch.utils.tensorboard`` cannot be imported.
MISSING = ("tensorboard= needs the tensorboard package: pip install 'torchdoctor[tensorboard]'")


def require_tensorboard() -> None:
    """Raise ImportError naming the ``torchdoctor[tensorboard]`` extra when
    ``torch.utils.tensorboard`` cannot be imported."""
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        raise ImportError(MISSING) from None


def _is_writer(target: Any) -> bool:
    return hasattr(target, "add_scalar") and hasattr(target, "add_text")


def check_target(target: Any) -> None:
    """Check a ``tensorboard=`` argument without opening anything.

    Raises:
        ValueError: ``target`` is neither a path nor a writer.
        ImportError: a directory is given and tensorboard is not installed (the message
            names the extra).
    """
    if _is_writer(target):
        return
    if not isinstance(target, (str, os.PathLike)):
        raise ValueError(f"tensorboard must be a directory or a SummaryWriter, got "
                         f"{type(target).__name__}")
    require_tensorboard()


def open_writer(target: Any) -> Any:
    """A ``SummaryWriter`` for ``target``: a directory (created) or a writer (used as given).

    Raises:
        ImportError: tensorboard is not installed (the message names the extra).
        ValueError: ``target`` is neither a path nor a writer.
    """
    check_target(target)
    if _is_writer(target):
        return target
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=os.fspath(target), max_queue=MAX_QUEUE, flush_secs=FLUSH_SECS)


def _num(v: Any) -> float | None:
    """A record value as a float (``"nan"``/``"inf"`` strings too), or ``None``."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def findings_markdown(findings: list[Finding]) -> str:
    """The findings as a markdown list (TensorBoard's text plugin renders markdown)."""
    if not findings:
        return "no findings"
    lines = []
    for f in findings:
        cures = "; ".join(r.description for r in f.remedies[:2])
        lines.append(f"- **{f.severity}** `{f.code}`: {f.message}" + (f" Remedies: {cures}" if cures else ""))
    return "\n".join(lines)


class TensorBoardSink(Sink):
    """Writes loss, per-layer gradient and update norms, epoch metrics and findings to
    TensorBoard (module docstring for the tags).

    Args:
        target: a log directory or a ``torch.utils.tensorboard.SummaryWriter``. A writer passed
            in is used with its own settings and flushed, not closed, by :meth:`close` (its
            owner closes it).

    Raises:
        ImportError: tensorboard is not installed (the message names the
            ``torchdoctor[tensorboard]`` extra).
        ValueError: ``target`` is neither.
    """

    def __init__(self, target: Any) -> None:
        self.writer = open_writer(target)
        self._owned = self.writer is not target
        self._last_text: str | None = None
        self._last_step = 0

    def on_records(self, records: list[dict[str, Any]]) -> None:
        w = self.writer
        for r in records:
            step = r.get("step")
            if not isinstance(step, int):
                continue
            self._last_step = step
            loss = _num(r.get("loss"))
            if loss is not None:
                w.add_scalar("loss", loss, step)
            layers = r.get("layers")
            if not isinstance(layers, dict):
                continue
            total = _num(r.get("grad_norm"))
            if total is not None:
                w.add_scalar("grad_norm/total", total, step)
            for name, d in layers.items():
                g, ratio, pn = _num(d.get("grad_norm")), _num(d.get("update_ratio")), _num(d.get("param_norm"))
                if g is not None:
                    w.add_scalar(f"grad_norm/{name}", g, step)
                if ratio is not None:
                    w.add_scalar(f"update_ratio/{name}", ratio, step)
                    if pn is not None and math.isfinite(pn):
                        w.add_scalar(f"update_norm/{name}", ratio * pn, step)

    def on_epoch(self, row: dict[str, Any]) -> None:
        epoch = row.get("epoch")
        if not isinstance(epoch, int):
            return
        for k, v in row.items():
            x = _num(v)
            if k != "epoch" and x is not None:
                self.writer.add_scalar(f"epoch/{k}", x, epoch)

    def on_findings(self, findings: list[Finding], new: list[Finding]) -> None:
        text = findings_markdown(findings)
        if text != self._last_text:
            self.writer.add_text("findings", text, self._last_step)
            self._last_text = text

    def close(self) -> None:
        if self._owned:
            self.writer.close()
        else:
            self.writer.flush()
