"""The Doctor in a user's loop never ends it: bad observations, failing output and rules are
named once and training goes on; sinks receive what the Doctor records; the buffer layout
decodes what it placed."""

from __future__ import annotations

import errno
import logging
import math
import time
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import torchdoctor as td
from torchdoctor.doctor import FREE_STEPS, RULES, Sink
from torchdoctor.doctor.vitals import MAX_HIST_CLASSES, Block, Layout, SamplingBudget, vitals_layout


def setup(seed: int = 0) -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    return model, torch.optim.SGD(model.parameters(), lr=0.1)


def batches(n: int, seed: int = 1) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        x = torch.randn(16, 4, generator=g)
        out.append((x, (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()))
    return out


def train(model: nn.Module, opt: torch.optim.Optimizer, doctor: td.Doctor, steps: int,
          loss_of: Any = None) -> list[float]:
    """A plain loop; ``loss_of(per_sample_losses)`` is what is handed to the doctor."""
    means = []
    for x, y in batches(steps):
        out = model(x)
        per = F.cross_entropy(out, y, reduction="none")
        loss = per.mean()
        opt.zero_grad()
        loss.backward()
        doctor.step(loss_of(per) if loss_of else loss, inputs=x, targets=y, outputs=out)
        opt.step()
        means.append(loss.item())
    return means


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize(("value", "kept"), [(None, False), ("low", False), ([1.0], False),
                                             (float("nan"), True), (float("inf"), True)])
def test_observe_a_bad_metric_warns_once_and_goes_on(
        value: Any, kept: bool, caplog: pytest.LogCaptureFixture) -> None:
    model, opt = setup()
    with caplog.at_level(logging.WARNING, logger="torchdoctor"), \
            td.Doctor(model, opt, console=False) as doctor:
        for _ in range(3):
            train(model, opt, doctor, 4)
            doctor.observe(val_loss=value, val_accuracy=0.5)
    msgs = [m for m in warnings_of(caplog) if "val_loss" in m]
    assert len(msgs) == 1, msgs
    epochs = doctor.vitals.epochs
    assert len(epochs) == 3 and all(e["val_accuracy"] == 0.5 for e in epochs)
    if kept:
        assert all(not math.isfinite(e["val_loss"]) for e in epochs)
    else:
        assert all("val_loss" not in e for e in epochs)


def test_a_per_sample_loss_is_recorded_as_its_mean_and_named_once(
        caplog: pytest.LogCaptureFixture) -> None:
    model, opt = setup()
    with caplog.at_level(logging.WARNING, logger="torchdoctor"), \
            td.Doctor(model, opt, console=False) as doctor:
        means = train(model, opt, doctor, 6, loss_of=lambda per: per)
    recorded = [r["loss"] for r in doctor.vitals.records]
    assert recorded == pytest.approx(means, rel=1e-6)  # the mean, not loss[0]
    msgs = [m for m in warnings_of(caplog) if "shape (16,)" in m]
    assert len(msgs) == 1


@pytest.mark.parametrize("bad", ["0.7", object(), torch.empty(0)])
def test_a_loss_that_is_not_a_number_is_named_once(bad: Any, caplog: pytest.LogCaptureFixture) -> None:
    model, opt = setup()
    with caplog.at_level(logging.WARNING, logger="torchdoctor"), \
            td.Doctor(model, opt, console=False) as doctor:
        train(model, opt, doctor, 5, loss_of=lambda per: bad)
    assert doctor.step_count == 5
    assert all(r["loss"] is None for r in doctor.vitals.records)
    assert len([m for m in warnings_of(caplog) if "loss" in m]) == 1


def test_an_optimizer_over_other_parameters_is_named_and_no_false_missing_zero_grad(
        caplog: pytest.LogCaptureFixture) -> None:
    model, _ = setup()
    other = nn.Linear(4, 3)
    opt = torch.optim.SGD(other.parameters(), lr=0.1)
    with caplog.at_level(logging.WARNING, logger="torchdoctor"):
        doctor = td.Doctor(model, opt, console=False, sample_every=1)
    assert len([m for m in warnings_of(caplog) if "updates none of the model's parameters" in m]) == 1
    train(model, opt, doctor, 12)  # opt.zero_grad() zeroes the other module: grads accumulate
    codes = {f.code for f in doctor.findings}
    doctor.close()
    assert "missing_zero_grad" not in codes


def test_huge_integer_targets_without_outputs_stay_cheap(caplog: pytest.LogCaptureFixture) -> None:
    model, opt = setup()
    y = torch.randint(0, 10**7, (16,), generator=torch.Generator().manual_seed(0))
    y[0] = 10**7  # labels up to 1e7
    t0 = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="torchdoctor"), \
            td.Doctor(model, opt, console=False, sample_every=1) as doctor:
        for x, _ in batches(10):
            loss = model(x).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            doctor.step(loss, inputs=x, targets=y)
            opt.step()
        findings = doctor.findings
    assert time.perf_counter() - t0 < 10  # was 49 s and 6.3 GB (a 10^7-bin histogram per row)
    assert isinstance(findings, list)
    assert all("hist" not in r.get("targets", {}) for r in doctor.vitals.records)
    assert len([m for m in warnings_of(caplog) if f"at most {MAX_HIST_CLASSES}" in m]) == 1


class FullDisk(Sink):
    """A sink whose every write fails the way a full disk does."""

    def __init__(self) -> None:
        self.calls = 0

    def _fail(self) -> None:
        self.calls += 1
        raise OSError(errno.ENOSPC, "No space left on device")

    def on_records(self, records: list[dict[str, Any]]) -> None:
        self._fail()

    def on_epoch(self, row: dict[str, Any]) -> None:
        self._fail()

    def on_findings(self, findings: list[Any], new: list[Any]) -> None:
        self._fail()

    def close(self) -> None:
        self._fail()


def test_a_failing_sink_is_named_once_per_event_and_training_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    model, opt = setup()
    sink = FullDisk()
    with caplog.at_level(logging.WARNING, logger="torchdoctor"):
        doctor = td.Doctor(model, opt, console=False, interval=4, sinks=[sink])
        for _ in range(3):
            train(model, opt, doctor, 8)
            doctor.observe(val_loss=1.0)
        findings = doctor.findings
        doctor.close()
        doctor.close()  # idempotent
    assert isinstance(findings, list) and doctor.step_count == 24
    msgs = [m for m in warnings_of(caplog) if "No space left" in m]
    assert sorted(m.split(" failed")[0] for m in msgs) == [
        "torchdoctor: FullDisk.close", "torchdoctor: FullDisk.on_epoch",
        "torchdoctor: FullDisk.on_findings", "torchdoctor: FullDisk.on_records"]
    assert sink.calls > len(msgs)  # it was asked again, but said nothing more


def test_a_failing_rule_is_named_once_and_findings_still_come(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def broken(vitals: Any) -> list[Any]:
        raise ZeroDivisionError("rule bug")

    monkeypatch.setitem(RULES, "zz_broken", broken)
    model, opt = setup()
    with caplog.at_level(logging.WARNING, logger="torchdoctor"), \
            td.Doctor(model, opt, console=False) as doctor:
        train(model, opt, doctor, 8)
        assert isinstance(doctor.findings, list)
        assert isinstance(doctor.diagnose(), list)
    assert any("zz_broken" in m for m in warnings_of(caplog))


def test_report_to_a_bad_path_raises_clearly_and_leaves_nothing(tmp_path: Path) -> None:
    model, opt = setup()
    with td.Doctor(model, opt, console=False) as doctor:
        train(model, opt, doctor, 4)
        with pytest.raises(ValueError, match="report path must name a file, got the directory"):
            doctor.report(tmp_path)
        blocker = tmp_path / "file"
        blocker.write_text("x")
        with pytest.raises(OSError, match="cannot write the report to"):
            doctor.report(blocker / "report.html")  # parent is a file
        with pytest.raises(ValueError, match="report path must be a str or os.PathLike, got int"):
            doctor.report(3)  # type: ignore[arg-type]
        assert doctor.report(tmp_path / "ok.html").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "ok.html"]


class Collect(Sink):
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.epochs: list[dict[str, Any]] = []
        self.findings: list[Any] = []
        self.closed = False

    def on_records(self, records: list[dict[str, Any]]) -> None:
        self.records += records

    def on_epoch(self, row: dict[str, Any]) -> None:
        self.epochs.append(row)

    def on_findings(self, findings: list[Any], new: list[Any]) -> None:
        self.findings = findings

    def close(self) -> None:
        self.closed = True


def test_sinks_receive_every_record_epoch_and_the_findings(tmp_path: Path) -> None:
    model, opt = setup()
    sink = Collect()
    with td.Doctor(model, opt, console=False, interval=5, sinks=[sink]) as doctor:
        for _ in range(2):
            train(model, opt, doctor, 7)
            doctor.observe(val_loss=1.0)
    assert [r["step"] for r in sink.records] == list(range(14))
    assert [e["epoch"] for e in sink.epochs] == [0, 1]
    assert sink.closed and [f.code for f in sink.findings] == [f.code for f in doctor.findings]


def test_the_doctor_writes_nothing_without_a_log_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    model, opt = setup()
    with td.Doctor(model, opt, console=False) as doctor:
        train(model, opt, doctor, 30)
        doctor.observe(val_loss=1.0)
    assert list(tmp_path.iterdir()) == []
    assert capsys.readouterr() == ("", "")


def test_sample_every_is_exact_and_the_budget_thins_the_default() -> None:
    model, opt = setup()
    with td.Doctor(model, opt, console=False, sample_every=10) as exact:
        train(model, opt, exact, 60)
    assert [r["step"] for r in exact.vitals.sampled()] == [0, 1, 2, 3, 4, 10, 20, 30, 40, 50]
    model, opt = setup()
    free = FREE_STEPS
    with td.Doctor(model, opt, console=False, sample_budget=1e-9) as thin:
        train(model, opt, thin, free + 150)
    steps = [r["step"] for r in thin.vitals.sampled()]
    # exact before FREE_STEPS; the first candidate after costs nothing yet, then the budget is spent
    assert steps == [0, 1, 2, 3, 4, *range(25, free + 1, 25)]
    with pytest.raises(ValueError, match=r"sample_budget must be in \(0, 1\], got 0"):
        td.Doctor(model, opt, sample_budget=0)


def test_the_layout_decodes_what_it_placed() -> None:
    layout = Layout([Block("a", (3,), -1.0), Block("b", (2, 2)), Block("c", (1,), 0.0)])
    assert layout.width == 3 + 4 + 1
    row = layout.empty_row()
    assert row[:3] == [-1.0] * 3 and all(math.isnan(v) for v in row[3:7]) and row[7] == 0.0
    for b in layout.blocks:  # each column gets a value that names its block and position
        for k in range(b.size):
            row[layout.start(b.name) + k] = ord(b.name) * 100 + k
    out = layout.decode(row)
    assert out == {"a": [9700, 9701, 9702], "b": [9800, 9801, 9802, 9803], "c": [9900]}
    wider = layout.with_block(Block("hist", (4,), 0.0))
    assert wider.columns("b") == layout.columns("b") and wider.decode(wider.empty_row())["hist"] == [0.0] * 4
    with pytest.raises(ValueError, match="row must have 8 numbers, got 7"):
        layout.decode(row[:7])
    with pytest.raises(ValueError, match="block names must be unique, got 'a' twice"):
        Layout([Block("a", (1,)), Block("a", (2,))])


def test_the_vitals_layout_covers_every_parameter_and_module() -> None:
    layout = vitals_layout(n_params=4, n_watched=3)
    widths = {b.name: b.size for b in layout.blocks}
    assert widths["grad"] == widths["pnorm"] == widths["upd"] == 4
    assert widths["act"] % 3 == 0
    assert sum(widths.values()) == layout.width


def test_the_sampling_budget_against_a_hand_computed_timeline() -> None:
    b = SamplingBudget(0.01, free=10, max_gap=100)
    assert b.step_seconds is None and b.allows(50, last_sample=10)  # nothing spent yet
    b.plain_period(100_000)  # 0.1 ms
    b.plain_period(10_000_000)  # a pause: counted as 3 steps at most
    assert b.period_ns == pytest.approx(100_000 + 0.1 * (300_000 - 100_000))
    b.period_ns = 100_000.0
    b.charge(5_000_000, step=5)  # a free step costs nothing
    assert b.spent_ns == 0
    b.charge(b.extra(400_000), step=20)  # a sampled step's period 0.4 ms: 0.3 ms extra
    assert b.spent_ns == 300_000
    # 1 % of (step - free) x 0.1 ms must cover 0.3 ms: from step 10 + 300 on; max_gap first
    assert not b.allows(100, last_sample=20) and b.allows(120, last_sample=20)
    assert b.allows(310, last_sample=300) and not b.allows(309, last_sample=300)
    assert SamplingBudget(None).allows(10**6, last_sample=10**6 - 1)


def test_freezing_a_layer_during_training_is_not_an_internal_failure(caplog) -> None:
    """The stale-gradient probe sits on the first parameter; a frozen backbone (requires_grad
    set to False after the Doctor attached) must not make the sampled steps fail."""
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    doctor = td.Doctor(m, opt, console=False, sample_every=1)
    x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
    with caplog.at_level("WARNING", logger="torchdoctor"):
        for i in range(30):
            if i == 10:
                for p in m[0].parameters():
                    p.requires_grad_(False)
            loss = nn.functional.cross_entropy(m(x), y)
            opt.zero_grad()
            loss.backward()
            doctor.step(loss)
            opt.step()
        doctor.close()
    assert not [r for r in caplog.records if "failed" in r.getMessage()]
    assert doctor.step_count == 30


@pytest.mark.parametrize("spent_ns", [0, 5_000, 400_000, 3_000_000])
@pytest.mark.parametrize("last_sample", [0, 40, 90])
def test_the_budget_next_allowed_step_is_the_first_one_allows_passes(spent_ns, last_sample) -> None:
    """Reference: ask ``allows`` step by step (a naive loop)."""
    b = SamplingBudget(0.01, free=10, max_gap=100)
    b.plain_period(100_000)
    b.charge(spent_ns, step=20)
    for step in (25, 60, 120):
        naive = next(s for s in range(step + 1, step + 10_000) if b.allows(s, last_sample))
        assert b.next_allowed(step, last_sample) == naive
