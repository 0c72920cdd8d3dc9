"""When the Doctor flushes: every ``interval`` steps when given, and for short steps with the
default, less often (a flush's fixed cost stays small beside a ~0.1 ms step). No step is lost
either way: the records are the steps, in order, with their losses."""

from __future__ import annotations

import math
import time

import torch
from torch import nn

import torchdoctor as td
from torchdoctor.doctor import FLUSH_SECONDS, INTERVAL, Sink


class Flushes(Sink):
    """Counts the flushes (the calls of on_records) and keeps every record."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.records: list[dict] = []

    def on_records(self, records: list[dict]) -> None:
        self.sizes.append(len(records))
        self.records += records


def _train(steps: int, sink: Sink, pause: float = 0.0, **kw) -> list[float]:
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    doctor = td.Doctor(model, opt, console=False, sinks=[sink], **kw)
    x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
    losses = []
    for _ in range(steps):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        doctor.step(loss)
        opt.step()
        losses.append(loss.item())
        if pause:
            time.sleep(pause)
    doctor.close()
    return losses


def test_an_explicit_interval_flushes_exactly_that_often() -> None:
    sink = Flushes()
    _train(1000, sink, interval=50)
    assert sink.sizes[:19] == [50] * 19  # the last flush, at close, takes the rest


def test_the_default_stretches_flushes_of_short_steps_and_loses_no_step() -> None:
    sink = Flushes()
    losses = _train(2000, sink)
    # a step of this model takes well under 0.1 ms: after the first flushes (before a step's
    # duration is known) each holds FLUSH_SECONDS of training, at most 8 x INTERVAL steps
    assert sink.sizes[0] == INTERVAL
    assert max(sink.sizes) > INTERVAL and max(sink.sizes) <= 8 * INTERVAL
    assert len(sink.sizes) < 2000 / INTERVAL / 2
    assert [r["step"] for r in sink.records] == list(range(2000))
    assert all(math.isclose(r["loss"], v, rel_tol=1e-6) for r, v in zip(sink.records, losses, strict=True))


def test_the_default_keeps_the_interval_for_steps_of_a_millisecond_or_more() -> None:
    sink = Flushes()
    _train(2 * INTERVAL + 70, sink, pause=FLUSH_SECONDS / INTERVAL * 2)  # 2 ms per step
    assert sink.sizes[:2] == [INTERVAL, INTERVAL]
    assert sink.sizes[2] == INTERVAL  # the step's duration is known by now: no stretch


def test_non_finite_losses_inside_a_run_of_plain_steps_are_named() -> None:
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sink = Flushes()
    doctor = td.Doctor(model, opt, console=False, sinks=[sink], interval=50)
    x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
    for i in range(60):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        doctor.step(loss * float("nan") if i == 30 else loss)
        opt.step()
    doctor.close()
    assert sink.records[30]["loss"] == "nan"
    assert all(isinstance(r["loss"], float) for i, r in enumerate(sink.records) if i != 30)
    assert "nonfinite" in {f.code for f in doctor.findings}
