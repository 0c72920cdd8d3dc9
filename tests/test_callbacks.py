"""The trainer's callbacks: hook names (Lightning's), typo refusal, order, keyword arguments,
and checkpointed state keyed by ``state_key``."""

from __future__ import annotations

import math
from typing import Any

import pytest

from torchdoctor import Doctor
from torchdoctor.integrations.trainer import DoctorCallback
from torchdoctor.train import EVENTS, HOOKS, Callback, Trainer, load_config

FAST = ["model.depth=2", "model.width=16", "train.epochs=2", "train.batch_size=256"]


def test_a_misspelt_hook_is_refused_at_class_creation() -> None:
    with pytest.raises(ValueError, match=r"Typo defines on_validation_epoch_ed: not a trainer hook "
                                         r"\(valid hooks: on_fit_start, .*on_fit_end\)"):
        class Typo(Callback):  # noqa: F841
            def on_validation_epoch_ed(self, trainer: Any) -> None: ...


def test_a_duck_typed_callback_with_an_unknown_hook_is_refused_by_the_trainer() -> None:
    class Duck:
        def on_train_epoch_ends(self, trainer: Any, **kw: Any) -> None: ...

    cfg = load_config(None, FAST)
    with pytest.raises(ValueError, match="Duck defines on_train_epoch_ends: not a trainer hook"):
        Trainer(cfg, callbacks=[Duck()])
    t = Trainer(cfg)
    t.callbacks.append(Duck())  # added after construction: refused when fit starts
    with pytest.raises(ValueError, match="on_train_epoch_ends"):
        t.fit()


def test_hooks_are_lightnings_names() -> None:
    pl = pytest.importorskip("lightning.pytorch", reason="lightning extra not installed")
    lightning_hooks = {n for n in dir(pl.Callback) if n.startswith("on_")}
    assert set(HOOKS) <= lightning_hooks
    assert EVENTS == HOOKS
    doctor_events = {n for n in dir(Doctor) if n.startswith("on_")}
    assert doctor_events and doctor_events <= lightning_hooks


class Recorder(Callback):
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _rec(self, name: str, kw: dict[str, Any]) -> None:
        self.calls.append((name, kw))

    def on_fit_start(self, trainer: Any) -> None:
        self._rec("on_fit_start", {})

    def on_train_epoch_start(self, trainer: Any, *, epoch: int) -> None:
        self._rec("on_train_epoch_start", {"epoch": epoch})

    def on_after_backward(self, trainer: Any, *, loss: Any, inputs: Any, targets: Any,
                          outputs: Any) -> None:
        assert all(p.grad is not None for p in trainer.model.parameters())
        self._rec("on_after_backward", {"n": len(inputs), "outputs": tuple(outputs.shape),
                                        "targets": len(targets), "loss": loss.dim()})

    def on_before_optimizer_step(self, trainer: Any) -> None:
        self._rec("on_before_optimizer_step", {"step": trainer.step})

    def on_train_batch_end(self, trainer: Any) -> None:
        self._rec("on_train_batch_end", {"step": trainer.step})

    def on_validation_end(self, trainer: Any, *, metrics: dict[str, Any]) -> None:
        self._rec("on_validation_end", {"has_val": "val_loss" in metrics})

    def on_train_epoch_end(self, trainer: Any, *, epoch: int, metrics: dict[str, Any]) -> None:
        self._rec("on_train_epoch_end", {"epoch": epoch, "done": trainer.epoch})

    def on_fit_end(self, trainer: Any) -> None:
        self._rec("on_fit_end", {})


def test_every_hook_fires_in_order_with_its_arguments() -> None:
    rec = Recorder()
    t = Trainer(load_config(None, FAST), callbacks=[rec])
    t.fit()
    n = len(t.data.x_train)
    batches = math.ceil(n / 256)
    expected: list[tuple[str, dict[str, Any]]] = [("on_fit_start", {})]
    step = 0
    for epoch in range(2):
        expected.append(("on_train_epoch_start", {"epoch": epoch}))
        for b in range(batches):
            size = min(256, n - 256 * b)
            expected.append(("on_after_backward", {"n": size, "outputs": (size, t.data.num_outputs),
                                                   "targets": size, "loss": 0}))
            expected.append(("on_before_optimizer_step", {"step": step}))
            step += 1
            expected.append(("on_train_batch_end", {"step": step}))
        expected.append(("on_validation_end", {"has_val": True}))
        expected.append(("on_train_epoch_end", {"epoch": epoch, "done": epoch + 1}))
    expected.append(("on_fit_end", {}))
    assert rec.calls == expected
    assert {name for name, _ in rec.calls} == set(HOOKS)


class Counter(Callback):
    def __init__(self, name: str) -> None:
        self.name = name
        self.epochs = 0

    @property
    def state_key(self) -> str:
        return f"Counter[{self.name}]"

    def on_train_epoch_end(self, trainer: Any, **kw: Any) -> None:
        self.epochs += 1

    def state_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "name": self.name}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        assert state["name"] == self.name
        self.epochs = state["epochs"]


def test_state_is_keyed_by_state_key_not_by_position() -> None:
    cfg = load_config(None, FAST)
    a, b = Counter("a"), Counter("b")
    a.epochs = 10
    t = Trainer(cfg, callbacks=[a, b])
    t.fit()
    state = t.state_dict()
    assert set(state["callbacks"]) == {"Counter[a]", "Counter[b]"}
    a2, b2, extra = Counter("a"), Counter("b"), Recorder()
    Trainer(cfg, callbacks=[extra, b2, a2]).load_state_dict(state)  # other order, one more
    assert (a2.epochs, b2.epochs) == (12, 2)


def test_two_callbacks_with_one_state_key_are_refused() -> None:
    t = Trainer(load_config(None, FAST), callbacks=[Counter("a"), Counter("a")])
    with pytest.raises(ValueError, match=r"two callbacks have state_key 'Counter\[a\]'"):
        t.state_dict()


def test_the_default_state_key_is_the_class_name() -> None:
    assert Recorder().state_key == "Recorder"
    # callbacks without state may share a key: nothing of theirs is saved
    t = Trainer(load_config(None, FAST), callbacks=[Recorder(), Recorder()])
    assert t.state_dict()["callbacks"] == {}


def test_the_trainer_doctor_callback_is_a_trainer_callback() -> None:
    t = Trainer(load_config(None, FAST))
    doc = Doctor(t.model, t.optimizer, console=False)
    cb = DoctorCallback(doc)
    assert isinstance(cb, Callback)
    t.callbacks.append(cb)
    t.fit()
    doc.close()
    assert doc.step_count == t.step
    assert len(doc.vitals.epochs) == 2
    assert "DoctorCallback" in t.state_dict()["callbacks"]


def test_a_checkpoint_keyed_by_position_is_still_read() -> None:
    cfg = load_config(None, FAST)
    t = Trainer(cfg)
    state = t.state_dict()
    state["callbacks"] = {"1:Counter": {"epochs": 7, "name": "b"}}  # the former key format
    b = Counter("b")
    Trainer(cfg, callbacks=[Recorder(), b]).load_state_dict(state)
    assert b.epochs == 7
