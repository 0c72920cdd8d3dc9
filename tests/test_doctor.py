"""The Doctor as users meet it: the API of DESIGN.md, its files, its safety guarantees."""

from __future__ import annotations

import copy
import gc
import json
import logging
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import torchdoctor as td
from torchdoctor.doctor import Doctor


def setup(seed: int = 0, bn: bool = False) -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    layers: list[nn.Module] = [nn.Linear(4, 16)]
    if bn:
        layers.append(nn.BatchNorm1d(16))
    layers += [nn.ReLU(), nn.Linear(16, 3)]
    model = nn.Sequential(*layers)
    return model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)


def data(n: int = 256, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    return x, y


def fit(model: nn.Module, opt: torch.optim.Optimizer, doctor: Doctor | None, epochs: int = 3,
        batch: int = 32, lr_bug: float | None = None) -> None:
    x, y = data()
    for _ in range(epochs):
        model.train()
        for i in range(0, len(y), batch):
            xb, yb = x[i:i + batch], y[i:i + batch]
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            opt.zero_grad()
            loss.backward()
            if doctor is not None:
                doctor.step(loss, inputs=xb, targets=yb, outputs=out)
            opt.step()
        model.eval()
        with torch.no_grad():
            out = model(x)
            vl, va = F.cross_entropy(out, y).item(), (out.argmax(1) == y).float().mean().item()
        if doctor is not None:
            doctor.observe(val_loss=vl, val_accuracy=va)


def hook_count(model: nn.Module) -> int:
    n = 0
    for m in model.modules():
        n += len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
    for p in model.parameters():
        n += len(p._backward_hooks or {})
    return n


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"interval": 0}, "interval must be an int >= 1, got 0"),
    ({"sample_every": 1.5}, "sample_every must be an int >= 1, got 1.5"),
    ({"max_records": 10}, "max_records must be an int >= 100, got 10"),
    ({"schedule": 3}, "schedule must be a callable"),
    ({"diagnose_budget": 0.0}, r"diagnose_budget must be in \(0, 1\], got 0.0"),
])
def test_bad_arguments_name_the_parameter(kwargs: dict, match: str) -> None:
    model, opt = setup()
    with pytest.raises(ValueError, match=match):
        Doctor(model, opt, **kwargs)


def test_bad_model_and_optimizer() -> None:
    model, opt = setup()
    with pytest.raises(ValueError, match="model must be a torch.nn.Module, got int"):
        Doctor(3, opt)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="optimizer must be a torch.optim.Optimizer or None, got str"):
        Doctor(model, "sgd")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sinks must be torchdoctor.doctor.Sink instances, got str"):
        Doctor(model, opt, sinks=["file"])  # type: ignore[list-item]


def test_healthy_run_is_quiet_and_tracks_epochs() -> None:
    model, opt = setup()
    with td.Doctor(model, opt, console=False) as doctor:
        fit(model, opt, doctor, epochs=4)
    assert [f for f in doctor.findings if f.severity != "info"] == []
    ep = doctor.vitals.epochs
    assert [e["epoch"] for e in ep] == [0, 1, 2, 3]
    assert {"train_loss", "train_accuracy", "val_loss", "val_accuracy"} <= set(ep[-1])
    assert ep[-1]["train_loss"] < ep[0]["train_loss"]


def test_close_removes_every_hook_and_changes_nothing() -> None:
    model, opt = setup(bn=True)
    before_hooks = hook_count(model)
    x, _ = data(8)
    model.eval()
    with torch.no_grad():
        ref_out = model(x)
    ref_state = copy.deepcopy(model.state_dict())
    doctor = Doctor(model, opt, console=False, sample_every=1)
    assert hook_count(model) > before_hooks
    with torch.no_grad():
        out = model(x)
    doctor.close()
    assert hook_count(model) == before_hooks
    assert not opt._optimizer_step_pre_hooks and not opt._optimizer_step_post_hooks
    torch.testing.assert_close(out, ref_out, rtol=0, atol=0)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, ref_state[k], rtol=0, atol=0)
    doctor.close()  # idempotent


def test_training_with_doctor_is_bitwise_identical_to_without() -> None:
    m1, o1 = setup()
    m2, o2 = setup()
    fit(m1, o1, None, epochs=2)
    with Doctor(m2, o2, console=False, sample_every=1) as d:
        fit(m2, o2, d, epochs=2)
    for a, b in zip(m1.parameters(), m2.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_a_failing_probe_logs_one_warning_and_training_continues(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from torchdoctor.doctor.vitals import _stats

    def boom(*args: object, **kw: object) -> None:
        raise RuntimeError("probe exploded")

    monkeypatch.setattr(_stats, "activation_stats", boom)
    model, opt = setup()
    with caplog.at_level(logging.WARNING, logger="torchdoctor"), Doctor(model, opt, console=False, sample_every=1) as d:
        fit(model, opt, d, epochs=2)
    warnings = [r for r in caplog.records if "probe" in r.getMessage()]
    assert len(warnings) == 1 and "activations" in warnings[0].getMessage()
    assert d.step_count == 16 and len(d.vitals.epochs) == 2
    assert d.vitals.records[-1]["grad_norm"] is not None  # the other probes still work


def test_log_dir_files_are_valid_and_complete(tmp_path: Path) -> None:
    model, opt = setup()
    with Doctor(model, opt, console=False, log_dir=tmp_path, interval=5) as d:
        fit(model, opt, d, epochs=2)
        lines = (tmp_path / "vitals.jsonl").read_text().splitlines()
        assert len(lines) >= 10  # written incrementally, before close
    recs = [json.loads(line) for line in (tmp_path / "vitals.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == list(range(16))
    first = recs[0]
    assert {"step", "epoch", "loss", "grad_norm", "layers"} <= set(first)
    assert {"grad_norm", "param_norm", "update_ratio", "act_mean", "act_std", "frac_zero",
            "frac_saturated"} <= set(first["layers"]["0"]) | set(first["layers"]["1"])
    metrics = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in metrics] == [0, 1] and "val_accuracy" in metrics[0]
    findings = json.loads((tmp_path / "findings.json").read_text())
    assert findings == [f.to_dict() for f in d.findings]


def test_nonfinite_values_are_valid_json(tmp_path: Path) -> None:
    model, opt = setup()
    with Doctor(model, opt, console=False, log_dir=tmp_path, sample_every=1) as d:
        x, y = data(8)
        out = model(x)
        loss = F.cross_entropy(out, y) * float("nan")
        loss.backward()
        d.step(loss, inputs=x, targets=y, outputs=out)
    text = (tmp_path / "vitals.jsonl").read_text()
    rec = json.loads(text)  # json.loads rejects nothing here, but allow_nan=False wrote it
    assert rec["loss"] == "nan" and "NaN" not in text
    assert [f.code for f in d.findings][:1] == ["nonfinite"]


def test_treat_rolls_back_and_halves_the_rate() -> None:
    model, opt = setup()
    doctor = Doctor(model, opt, console=False, treat=True, interval=4)
    x, y = data(32)
    for step in range(12):
        out = model(x)
        loss = F.cross_entropy(out, y)
        opt.zero_grad()
        loss.backward()
        if step == 6:  # poison: one step writes NaN into the weights
            for p in model.parameters():
                p.grad.fill_(float("nan"))
        doctor.step(loss, inputs=x, targets=y, outputs=out)
        opt.step()
    doctor.close()
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)
    assert len(doctor.treatments) == 1
    (f,) = [f for f in doctor.findings if f.code == "nonfinite"]
    assert f.evidence["treatments"][0]["action"] == "rollback+halve_lr"


def test_state_dict_round_trip() -> None:
    model, opt = setup()
    d1 = Doctor(model, opt, console=False)
    fit(model, opt, d1, epochs=2)
    state = d1.state_dict()
    d1.close()
    d2 = Doctor(model, opt, console=False)
    d2.load_state_dict(state)
    assert d2.step_count == d1.step_count and d2.vitals.epochs == d1.vitals.epochs
    fit(model, opt, d2, epochs=1)
    assert [e["epoch"] for e in d2.vitals.epochs] == [0, 1, 2]
    d2.close()
    with pytest.raises(ValueError, match="state must be a Doctor.state_dict"):
        Doctor(model, opt, console=False).load_state_dict({"version": 0})


def test_lightning_style_events() -> None:
    model, opt = setup()
    d = Doctor(model, opt, console=False, sample_every=1)
    x, y = data(64)
    d.on_train_start()
    for _ in range(2):
        d.on_train_epoch_start()
        for i in range(0, 64, 16):
            out = model(x[i:i + 16])
            loss = F.cross_entropy(out, y[i:i + 16])
            d.on_before_backward(loss)
            opt.zero_grad()
            loss.backward()
            d.on_after_backward()
            d.on_before_optimizer_step(opt)
            opt.step()
            d.on_train_batch_end(None, inputs=x[i:i + 16], targets=y[i:i + 16], outputs=out)
        d.on_validation_epoch_end(val_loss=1.0, val_accuracy=0.5)
        d.on_train_epoch_end()
    d.on_train_end()
    d.close()
    assert [e["epoch"] for e in d.vitals.epochs] == [0, 1]
    assert d.vitals.epochs[1]["val_loss"] == 1.0
    recs = d.vitals.records
    assert len(recs) == 8 and all(r["layers"]["0"]["update_ratio"] is not None for r in recs)
    assert all(isinstance(r["loss"], float) for r in recs)


def test_report_calls_the_report_engine(tmp_path: Path) -> None:
    model, opt = setup()
    with Doctor(model, opt, console=False) as d:
        fit(model, opt, d, epochs=2)
    path = d.report(tmp_path / "report.html")
    text = Path(path).read_text()
    assert "<html" in text.lower()


def test_memory_does_not_grow_over_10000_steps() -> None:
    """The doctor's own state stays bounded, and the process does not grow, over 10,000 steps.

    (tracemalloc over the whole loop is exact but ~10x slower; the pickled state and RSS are
    the cheap references.)
    """
    import pickle
    import resource

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    d = Doctor(model, opt, console=False, max_records=1000)
    x, y = torch.randn(8, 2), torch.tensor([0, 1] * 4)

    def run(n: int) -> None:
        for _ in range(n):
            out = model(x)
            loss = F.cross_entropy(out, y)
            opt.zero_grad()
            loss.backward()
            d.step(loss, inputs=x, targets=y, outputs=out)
            opt.step()

    def state_size() -> int:
        return len(pickle.dumps(d.state_dict()))

    run(3000)  # past the first thinning of the timeline
    gc.collect()
    size, rss = state_size(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    run(7000)
    gc.collect()
    assert d.step_count == 10000
    assert len(d.vitals.records) <= 1000
    assert state_size() < 1.3 * size, (state_size(), size)  # 7000 more records would be ~3x
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss < 50_000  # KiB
    d.close()


def test_package_exports() -> None:
    import torchdoctor.doctor as doc

    assert doc.__all__ == sorted(doc.__all__)
    assert td.Doctor is Doctor and doc.Finding is td.Finding and doc.Remedy is td.Remedy
    assert not math.isnan(0.0)


def test_a_failing_event_logs_once_and_training_continues(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    model, opt = setup()
    d = Doctor(model, opt, console=False)

    def boom() -> None:
        raise RuntimeError("grads exploded the probe")

    monkeypatch.setattr(d.recorder, "record_grads", boom)
    with caplog.at_level(logging.WARNING, logger="torchdoctor"):
        fit(model, opt, d, epochs=2)
    d.close()
    msgs = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert len(msgs) == 1 and "on_after_backward" in msgs[0]
    assert d.step_count == 16
