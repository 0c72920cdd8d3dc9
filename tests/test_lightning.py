"""DoctorCallback inside a real ``lightning.Trainer`` (CPU, a few steps).

Two layers of checks: a recording stand-in for the Doctor pins down what the callback forwards
(which hooks, in which order, which loss, batch and validation metrics, the state dict), with
the references computed independently in the LightningModule; then the real Doctor runs
end to end on a model with a known bug.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

# Lightning is an optional extra: without it these tests skip. An ImportError of torchdoctor
# itself is a failure, never a skip.
pl = pytest.importorskip("lightning.pytorch", reason="lightning extra not installed")

from torchdoctor.integrations import lightning as lightning_mod  # noqa: E402
from torchdoctor.integrations.lightning import DoctorCallback  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny models: one intra-op thread is faster, and far faster on a shared, busy CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _loaders() -> tuple[DataLoader, DataLoader]:
    X, y = load_digits(return_X_y=True)
    X, y = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    X = (X - X.mean()) / X.std()
    g = torch.Generator().manual_seed(0)
    train = DataLoader(TensorDataset(X[300:], y[300:]), batch_size=64, shuffle=True, generator=g)
    val = DataLoader(TensorDataset(X[:300], y[:300]), batch_size=300)  # one batch per validation
    return train, val


class DigitsModule(pl.LightningModule):  # type: ignore[misc, name-defined]
    def __init__(self, softmax: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)]
        if softmax:
            layers.append(nn.Softmax(dim=1))
        self.net = nn.Sequential(*layers)
        self.train_losses: list[torch.Tensor] = []
        self.train_batches: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.val_losses: list[float] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: Any, batch_idx: int) -> dict[str, torch.Tensor]:
        x, y = batch
        out = self(x)
        loss = F.cross_entropy(out, y)
        self.train_losses.append(loss.detach())
        self.train_batches.append((x, y))
        return {"loss": loss, "outputs": out.detach()}

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        out = self(x)
        loss = F.cross_entropy(out, y)
        self.log("val_loss", loss)
        self.log("val_acc", (out.argmax(1) == y).float().mean())
        if not self.trainer.sanity_checking:
            self.val_losses.append(loss.item())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)


def _trainer(callback: Any, **kw: Any) -> Any:
    args: dict[str, Any] = dict(
        max_epochs=2, limit_train_batches=5, accelerator="cpu", devices=1,
        enable_progress_bar=False, logger=False, enable_checkpointing=False,
        enable_model_summary=False, callbacks=[callback],
    )
    args.update(kw)
    return pl.Trainer(**args)


class RecordingDoctor:
    """Stand-in with the Doctor's event methods; records every call."""

    def __init__(self, model: nn.Module, optimizer: Any = None, **kwargs: Any) -> None:
        self.model, self.optimizer, self.kwargs = model, optimizer, kwargs
        self.events: list[tuple[str, Any]] = []
        self.closed = False
        self.state: dict[str, Any] = {"steps": 0}
        self.findings: list[Any] = []

    def _rec(name: str) -> Any:  # noqa: N805 - a method factory used in the class body
        def method(self: RecordingDoctor, *args: Any, **kwargs: Any) -> None:
            self.events.append((name, (args, kwargs)))
            if name == "on_before_optimizer_step":
                self.state["steps"] += 1
        return method

    on_train_start = _rec("on_train_start")
    on_train_epoch_start = _rec("on_train_epoch_start")
    on_before_backward = _rec("on_before_backward")
    on_after_backward = _rec("on_after_backward")
    on_before_optimizer_step = _rec("on_before_optimizer_step")
    on_train_batch_end = _rec("on_train_batch_end")
    on_validation_epoch_end = _rec("on_validation_epoch_end")
    on_train_epoch_end = _rec("on_train_epoch_end")
    on_train_end = _rec("on_train_end")

    def close(self) -> None:
        self.closed = True

    def state_dict(self) -> dict[str, Any]:
        return dict(self.state)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.state = dict(state)


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> type[RecordingDoctor]:
    import torchdoctor.doctor

    monkeypatch.setattr(torchdoctor.doctor, "Doctor", RecordingDoctor, raising=False)
    return RecordingDoctor


def test_callback_forwards_the_loop(recording: type[RecordingDoctor]) -> None:
    torch.manual_seed(0)
    train, val = _loaders()
    module = DigitsModule()
    cb = DoctorCallback(interval=7)
    assert cb.doctor is None and cb.findings == []
    trainer = _trainer(cb)
    trainer.fit(module, train, val)

    doc = cb.doctor
    assert isinstance(doc, RecordingDoctor) and doc.closed
    assert doc.model is module and doc.optimizer is trainer.optimizers[0]
    assert doc.kwargs == {"interval": 7}
    names = [n for n, _ in doc.events]
    steps = 2 * 5
    for hook in ("on_before_backward", "on_after_backward", "on_before_optimizer_step", "on_train_batch_end"):
        assert names.count(hook) == steps, hook
    assert names.count("on_train_epoch_start") == names.count("on_train_epoch_end") == 2
    assert names[:6] == [
        "on_train_start", "on_train_epoch_start", "on_before_backward", "on_after_backward",
        "on_before_optimizer_step", "on_train_batch_end",
    ]
    assert names[-1] == "on_train_end"

    # The loss, inputs and targets of each step are the ones training_step saw.
    ends = [call for n, call in doc.events if n == "on_train_batch_end"]
    for (args, kwargs), loss, (x, y) in zip(ends, module.train_losses, module.train_batches, strict=True):
        torch.testing.assert_close(args[0].detach(), loss)
        assert torch.equal(kwargs["inputs"], x) and torch.equal(kwargs["targets"], y)
        assert kwargs["outputs"].shape == (len(y), 10)

    # Validation metrics after each validation run (not the sanity check), aliases applied.
    vals = [kwargs for n, (_, kwargs) in doc.events if n == "on_validation_epoch_end"]
    assert len(vals) == 2 == len(module.val_losses)
    for got, ref in zip(vals, module.val_losses, strict=True):
        assert set(got) == {"val_loss", "val_accuracy"}
        assert got["val_loss"] == pytest.approx(ref, rel=1e-6)


def test_state_dict_round_trip(recording: type[RecordingDoctor]) -> None:
    torch.manual_seed(0)
    train, val = _loaders()
    cb = DoctorCallback()
    assert cb.state_dict() == {}
    _trainer(cb, max_epochs=1).fit(DigitsModule(), train, val)
    state = cb.state_dict()
    assert state == {"doctor": {"steps": 5}}

    # Lightning restores callback state before on_fit_start: it is held, then applied.
    cb2 = DoctorCallback()
    cb2.load_state_dict(state)
    assert cb2.state_dict() == state
    _trainer(cb2, max_epochs=1).fit(DigitsModule(), train, val)
    assert cb2.doctor.state["steps"] == 5 + 5


class FailingDoctor(RecordingDoctor):
    def on_after_backward(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("probe exploded")


def test_a_failing_doctor_never_breaks_the_fit(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import torchdoctor.doctor

    monkeypatch.setattr(torchdoctor.doctor, "Doctor", FailingDoctor, raising=False)
    torch.manual_seed(0)
    train, val = _loaders()
    module = DigitsModule()
    cb = DoctorCallback()
    with caplog.at_level("WARNING", logger="torchdoctor"):
        trainer = _trainer(cb)
        trainer.fit(module, train, val)
    assert trainer.global_step == 10 and len(module.train_losses) == 10
    failures = [r for r in caplog.records if "on_after_backward failed" in r.getMessage()]
    assert len(failures) == 1  # once, not once per step
    assert [n for n, _ in cb.doctor.events].count("on_train_batch_end") == 10  # the rest still runs


def test_bad_unpack_batch_is_rejected() -> None:
    with pytest.raises(ValueError, match="unpack_batch must be callable"):
        DoctorCallback(unpack_batch=3)


def test_collect_metrics_filters_and_aliases() -> None:
    metrics = {
        "val_acc": torch.tensor(0.5), "val_loss": torch.tensor(1.25), "train_loss": torch.tensor(2.0),
        "val_nan": torch.tensor(float("nan")), "val_vec": torch.ones(3), "epoch": 1.0,
    }
    got = lightning_mod.collect_metrics(metrics, ("val_",))
    assert got == {"val_accuracy": 0.5, "val_loss": 1.25}
    got = lightning_mod.collect_metrics({"val/accuracy": 0.75, "train/loss": 0.1}, ("val_", "train_"))
    assert got == {"val_accuracy": 0.75, "train_loss": 0.1}


def test_default_unpack_batch() -> None:
    x, y = torch.zeros(2, 3), torch.ones(2)
    assert lightning_mod.default_unpack_batch((x, y)) == (x, y)
    assert lightning_mod.default_unpack_batch({"image": x, "label": y}) == (x, y)
    assert lightning_mod.default_unpack_batch(x) == (None, None)


def test_real_doctor_finds_softmax_before_cross_entropy(tmp_path: Any) -> None:
    torch.manual_seed(0)
    train, val = _loaders()
    module = DigitsModule(softmax=True)
    state_before = {k: v.clone() for k, v in module.state_dict().items()}
    cb = DoctorCallback()
    trainer = _trainer(cb, max_epochs=3, limit_train_batches=None, default_root_dir=tmp_path)
    trainer.fit(module, train, val)
    codes = {f.code for f in cb.findings}
    assert "wrong_output_activation" in codes, [(f.severity, f.code) for f in cb.findings]
    # Closed at teardown: no hook of the doctor is left on any module or parameter.
    for m in module.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks
    assert any(not torch.equal(v, module.state_dict()[k]) for k, v in state_before.items())
    # The checkpoint carries the doctor's state under the callback's key.
    path = tmp_path / "last.ckpt"
    trainer.save_checkpoint(path)
    ckpt = torch.load(path, weights_only=False)
    assert "doctor" in ckpt["callbacks"][cb.state_key]


def test_real_doctor_healthy_fit_is_quiet_and_sees_epochs() -> None:
    torch.manual_seed(0)
    train, val = _loaders()
    module = DigitsModule()
    cb = DoctorCallback(console=False)
    _trainer(cb, max_epochs=3, limit_train_batches=None).fit(module, train, val)
    serious = [(f.severity, f.code) for f in cb.findings if f.severity != "info"]
    assert serious == []
    epochs = cb.doctor.vitals.epochs
    assert len(epochs) == 3
    for row, ref in zip(epochs, module.val_losses, strict=True):
        assert row["val_loss"] == pytest.approx(ref, rel=1e-6)
        assert 0.0 <= row["val_accuracy"] <= 1.0
    steps = 3 * len(train)
    assert cb.doctor.step_count == steps
