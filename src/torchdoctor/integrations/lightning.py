"""Lightning integration: :class:`DoctorCallback` runs the doctor inside a ``lightning.Trainer``.

Usage::

    from torchdoctor.integrations.lightning import DoctorCallback

    doctor_cb = DoctorCallback()                      # keyword arguments go to td.Doctor
    trainer = lightning.Trainer(callbacks=[doctor_cb], max_epochs=5)
    trainer.fit(model, train_loader, val_loader)
    for finding in doctor_cb.findings:
        print(finding.severity, finding.code, finding.message)

The callback creates the :class:`~torchdoctor.doctor.Doctor` at ``on_fit_start`` (the first hook
where Lightning has built the optimizers) from the ``LightningModule`` and its first optimizer,
forwards Lightning's loop hooks to the Doctor's methods of the same names, hands the logged
validation metrics (``trainer.callback_metrics``) to ``Doctor.observe`` after each validation
run, saves and restores the Doctor's state with the checkpoint, and closes the Doctor (every hook
removed) at ``teardown``. ``.doctor`` stays readable after the fit for the report.

Lightning is imported when this module is imported; without it the import fails with the
``pip install`` line. ``lightning.pytorch`` is preferred; the older ``pytorch_lightning`` package
is used when it is the only one installed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import torch

from torchdoctor.findings import Finding

log = logging.getLogger("torchdoctor")

_INSTALL_HINT = 'pip install "torchdoctor[lightning]"  (or: pip install "lightning>=2.2")'


def _import_lightning() -> Any:
    try:
        import lightning.pytorch as pl
    except ImportError:
        try:
            import pytorch_lightning as pl
        except ImportError as exc:
            raise ImportError(
                "torchdoctor.integrations.lightning needs the Lightning package, which is not "
                f"installed. Install it with: {_INSTALL_HINT}"
            ) from exc
    return pl


pl = _import_lightning()

#: Logged metric names mapped to the names ``Doctor.observe`` understands.
METRIC_ALIASES: dict[str, str] = {
    "val_acc": "val_accuracy",
    "valid_acc": "val_accuracy",
    "valid_accuracy": "val_accuracy",
    "valid_loss": "val_loss",
    "train_acc": "train_accuracy",
    "val/loss": "val_loss",
    "val/acc": "val_accuracy",
    "val/accuracy": "val_accuracy",
    "train/loss": "train_loss",
    "train/acc": "train_accuracy",
    "train/accuracy": "train_accuracy",
}

BatchUnpacker = Callable[[Any], "tuple[torch.Tensor | None, torch.Tensor | None]"]


def default_unpack_batch(batch: Any) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """``(inputs, targets)`` of a batch: ``(x, y, ...)`` sequences and ``{"x"|"input", "y"|"target"}``.

    Anything else gives ``(None, None)``; the symptoms that need inputs or targets are then
    skipped, as with ``Doctor.step`` called without them.
    """
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        x, y = batch[0], batch[1]
    elif isinstance(batch, Mapping):
        x = next((batch[k] for k in ("x", "input", "inputs", "image", "images") if k in batch), None)
        y = next((batch[k] for k in ("y", "target", "targets", "label", "labels") if k in batch), None)
    else:
        return None, None
    return (
        x if isinstance(x, torch.Tensor) else None,
        y if isinstance(y, torch.Tensor) else None,
    )


def collect_metrics(callback_metrics: Mapping[str, Any], prefixes: tuple[str, ...]) -> dict[str, float]:
    """Finite scalar metrics whose (aliased) name starts with one of ``prefixes``, as floats."""
    metrics: dict[str, float] = {}
    for name, value in callback_metrics.items():
        key = METRIC_ALIASES.get(name, name)
        if not key.startswith(prefixes):
            continue
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                continue
            value = value.detach().item()
        if isinstance(value, (int, float)) and math.isfinite(float(value)):
            metrics[key] = float(value)
    return metrics


class DoctorCallback(pl.Callback):  # type: ignore[misc, name-defined]
    """A Lightning ``Callback`` that attaches a :class:`torchdoctor.Doctor` to the fit.

    Args:
        unpack_batch: function ``batch -> (inputs, targets)`` for batches that are not
            ``(x, y, ...)`` sequences or ``{"x": ..., "y": ...}`` mappings. Default:
            :func:`default_unpack_batch`.
        **doctor_kwargs: passed to ``Doctor(pl_module, optimizer, **doctor_kwargs)``
            (e.g. ``interval=``, ``treat=``).

    Attributes:
        doctor: the Doctor of the current (or last) fit, ``None`` before the first fit.

    With several optimizers (GANs) the doctor watches the first one. With
    ``accumulate_grad_batches > 1`` the optimizer hooks fire once per accumulation window.
    """

    def __init__(self, *, unpack_batch: BatchUnpacker | None = None, **doctor_kwargs: Any) -> None:
        super().__init__()
        if unpack_batch is not None and not callable(unpack_batch):
            raise ValueError(f"unpack_batch must be callable or None, got {unpack_batch!r}")
        self.doctor_kwargs = doctor_kwargs
        self.unpack_batch: BatchUnpacker = unpack_batch or default_unpack_batch
        self.doctor: Any = None
        self._pending_state: dict[str, Any] | None = None
        self._batch: tuple[torch.Tensor | None, torch.Tensor | None] = (None, None)
        self._failed: set[str] = set()

    def _forward(self, event: str, *args: Any, **kwargs: Any) -> None:
        """Call ``doctor.<event>(...)``; a failure is logged once per event, never raised.

        The doctor must never break training: an error inside it costs a diagnosis, not the fit.
        """
        if self.doctor is None:
            return
        try:
            getattr(self.doctor, event)(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - deliberately broad, see docstring
            if event not in self._failed:
                self._failed.add(event)
                log.warning("torchdoctor: Doctor.%s failed (%s: %s); training continues",
                            event, type(exc).__name__, exc)

    @property
    def findings(self) -> list[Finding]:
        """The Doctor's findings so far (empty before the first fit)."""
        return [] if self.doctor is None else list(self.doctor.findings)

    # -- life cycle ---------------------------------------------------------------------------

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        from torchdoctor.doctor import Doctor

        if self.doctor is not None:  # a second fit with the same callback: start afresh
            self.doctor.close()
        self._failed = set()
        optimizers = list(getattr(trainer, "optimizers", []) or [])
        self.doctor = Doctor(pl_module, optimizers[0] if optimizers else None, **self.doctor_kwargs)
        if self._pending_state is not None:
            self.doctor.load_state_dict(self._pending_state)
            self._pending_state = None

    def teardown(self, trainer: Any, pl_module: Any, stage: str) -> None:
        if stage == "fit":
            self._forward("close")

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self._forward("close")

    # -- the training loop, forwarded -----------------------------------------------------------

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self._forward("on_train_start")

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self._forward("on_train_epoch_start", trainer.current_epoch)

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        self._batch = self.unpack_batch(batch)

    def on_before_backward(self, trainer: Any, pl_module: Any, loss: torch.Tensor) -> None:
        self._forward("on_before_backward", loss)

    def on_after_backward(self, trainer: Any, pl_module: Any) -> None:
        self._forward("on_after_backward")

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        self._forward("on_before_optimizer_step", optimizer)

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.doctor is None:
            return
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        model_outputs = None
        if isinstance(outputs, Mapping):
            model_outputs = next(
                (outputs[k] for k in ("outputs", "logits", "preds") if k in outputs), None
            )
        inputs, targets = self._batch
        self._forward(
            "on_train_batch_end",
            loss if isinstance(loss, torch.Tensor) else None,
            inputs=inputs,
            targets=targets,
            outputs=model_outputs,
        )
        self._batch = (None, None)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        # callback_metrics holds the epoch-aggregated validation metrics only after
        # on_validation_epoch_end; on_validation_end is where EarlyStopping reads them too.
        if self.doctor is None or trainer.sanity_checking:
            return
        metrics = collect_metrics(trainer.callback_metrics, ("val_",))
        self._forward("on_validation_epoch_end", **metrics)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        self._forward("on_train_epoch_end")

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self._forward("on_train_end")

    # -- checkpointing ------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        if self.doctor is not None:
            return {"doctor": self.doctor.state_dict()}
        return {"doctor": self._pending_state} if self._pending_state is not None else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = state_dict.get("doctor")
        if state is None:
            return
        if self.doctor is not None:
            self.doctor.load_state_dict(state)
        else:  # Lightning restores callbacks before on_fit_start builds the Doctor
            self._pending_state = state


__all__ = ["METRIC_ALIASES", "DoctorCallback", "collect_metrics", "default_unpack_batch"]
