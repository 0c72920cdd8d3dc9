"""The trainer's callback base class, its hook names and the checks on them.

The hook names are Lightning's (``lightning.pytorch.Callback``): one vocabulary for the
trainer, the doctor's callbacks (:mod:`torchdoctor.integrations`) and Lightning. The trainer
calls every hook with the trainer first and the rest as keyword arguments.

Example::

    from torchdoctor.train import Callback, Trainer

    class PrintLoss(Callback):
        def on_validation_end(self, trainer, *, metrics):
            print(metrics["val_loss"])

    Trainer(cfg, callbacks=[PrintLoss()]).fit()

A method named ``on_...`` that is not a hook (``on_validation_epoch_ed``) would never be
called, so it is refused: at class creation for a :class:`Callback` subclass, and when the
trainer starts for any other object passed as a callback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from torch import Tensor

__all__ = ["HOOKS", "Callback", "callback_states", "check_callback", "hook_methods",
           "load_callback_states"]


class Callback:
    """Base class of the trainer's callbacks: override the hooks you need (all no-ops here).

    ``state_dict``/``load_state_dict`` are checkpointed with the run under :attr:`state_key`.
    A callback may set ``trainer.should_stop = True`` to end training after the current epoch.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        unknown = sorted(n for n in vars(cls) if _is_unknown_hook(n))
        if unknown:
            raise ValueError(f"{cls.__qualname__} defines {', '.join(unknown)}: not a trainer "
                             f"hook (valid hooks: {', '.join(HOOKS)})")

    @property
    def state_key(self) -> str:
        """The stable name this callback's state is saved under (default: the class name).

        Two callbacks with state in one trainer need different keys: override this, e.g.
        with the settings that tell them apart.
        """
        return type(self).__qualname__

    def on_fit_start(self, trainer: Any) -> None:
        """Before the first epoch of :meth:`Trainer.fit` (also after a resume)."""

    def on_train_epoch_start(self, trainer: Any, *, epoch: int) -> None:
        """Before the first batch of epoch ``epoch`` (0-based)."""

    def on_after_backward(self, trainer: Any, *, loss: Tensor, inputs: Tensor, targets: Tensor,
                          outputs: Tensor) -> None:
        """After ``loss.backward()``, before clipping and the optimizer step.

        Args:
            loss: the batch loss (a scalar tensor, without the L1 term).
            inputs (Tensor[N, ...]): the batch.
            targets (Tensor[N] or Tensor[N, K]): its targets.
            outputs (Tensor[N, K]): the model's outputs.
        """

    def on_before_optimizer_step(self, trainer: Any) -> None:
        """After gradient clipping, just before ``optimizer.step()``."""

    def on_train_batch_end(self, trainer: Any) -> None:
        """After the optimizer step of each batch (``trainer.step`` counts the steps)."""

    def on_validation_end(self, trainer: Any, *, metrics: dict[str, Any]) -> None:
        """After the epoch's evaluation; ``metrics`` is the epoch's ``metrics.jsonl`` row."""

    def on_train_epoch_end(self, trainer: Any, *, epoch: int, metrics: dict[str, Any]) -> None:
        """After the epoch's checkpoint is written (``trainer.epoch == epoch + 1``)."""

    def on_fit_end(self, trainer: Any) -> None:
        """After the last epoch (or after a callback stopped training)."""

    def state_dict(self) -> dict[str, Any]:
        """This callback's state for the checkpoint (default: nothing)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (default: nothing to do)."""


#: The hooks the trainer fires, in the order of one epoch (Lightning's names).
HOOKS: tuple[str, ...] = tuple(n for n in vars(Callback) if n.startswith("on_"))


def _is_unknown_hook(name: str) -> bool:
    return name.startswith("on_") and name not in HOOKS


def check_callback(callback: Any) -> None:
    """Refuse an object with a method named ``on_...`` that is not one of :data:`HOOKS`.

    Raises:
        ValueError: naming the method and the valid hooks.
    """
    unknown = sorted(n for n in dir(callback)
                     if _is_unknown_hook(n) and callable(getattr(callback, n, None)))
    if unknown:
        raise ValueError(f"callback {type(callback).__qualname__} defines {', '.join(unknown)}: "
                         f"not a trainer hook (valid hooks: {', '.join(HOOKS)})")


def hook_methods(callbacks: Iterable[Any], event: str) -> list[Callable[..., Any]]:
    """The bound ``event`` methods of ``callbacks``, in order; the base class's no-ops are left
    out, so a hook nobody overrides costs nothing per step."""
    if event not in HOOKS:
        raise ValueError(f"event must be one of {', '.join(HOOKS)}, got {event!r}")
    base = getattr(Callback, event)
    out = []
    for cb in callbacks:
        fn = getattr(cb, event, None)
        if callable(fn) and getattr(fn, "__func__", None) is not base:
            out.append(fn)
    return out


def _state_key(callback: Any) -> str:
    key = getattr(callback, "state_key", None)
    return key if isinstance(key, str) and key else type(callback).__qualname__


def callback_states(callbacks: Sequence[Any]) -> dict[str, Any]:
    """``{state_key: state_dict()}`` of the callbacks whose ``state_dict`` is not empty (as in
    Lightning: stateless callbacks of one class may share a key).

    Raises:
        ValueError: two callbacks with state share a ``state_key``.
    """
    out: dict[str, Any] = {}
    for cb in callbacks:
        if not callable(getattr(cb, "state_dict", None)):
            continue
        state = cb.state_dict()
        if not state:
            continue
        key = _state_key(cb)
        if key in out:
            raise ValueError(f"two callbacks have state_key {key!r}: give each callback with "
                             "state its own state_key")
        out[key] = state
    return out


def load_callback_states(callbacks: Sequence[Any], saved: dict[str, Any]) -> None:
    """Hand each callback the state saved under its ``state_key`` (callbacks without saved
    state are left alone). Checkpoints written before state keys existed keyed the state by
    ``"<position>:<class name>"``; those are read too."""
    for i, cb in enumerate(callbacks):
        if not callable(getattr(cb, "load_state_dict", None)):
            continue
        for key in (_state_key(cb), f"{i}:{type(cb).__name__}"):
            if key in saved:
                cb.load_state_dict(saved[key])
                break
