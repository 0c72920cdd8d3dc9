"""The probes against independent references: naive recomputation of every statistic."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from torchdoctor.doctor.vitals import Recorder, default_schedule
from torchdoctor.doctor.vitals import _stats as S


def mlp(act: nn.Module | None = None) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), act or nn.ReLU(), nn.Linear(8, 4))


def recorder(model: nn.Module, opt: torch.optim.Optimizer | None, every: int = 1,
             interval: int = 8) -> Recorder:
    return Recorder(model, opt, interval=interval, schedule=default_schedule(every, first=0),
                    on_full=lambda: None)


@pytest.mark.parametrize("shape", [(16, 8), (4, 3, 5, 5)])
@pytest.mark.parametrize("family", ["relu", "sigmoid", "tanh", None])
def test_activation_stats_match_naive(shape: tuple[int, ...], family: str | None) -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(shape, generator=g) * 3
    y = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, None: lambda t: t}[family](x)
    if family == "relu" and len(shape) == 4:
        y[:, 1] = 0.0  # one dead channel
    raw, peak = S.activation_stats(y, family)
    stats = S.finish_activation([math.nan if v is None else float(v) for v in raw],
                                y.numel(), shape[1])
    y64 = y.double()
    assert stats[0] == pytest.approx(y64.mean().item(), abs=1e-5)
    assert stats[1] == pytest.approx(y64.std(unbiased=False).item(), rel=1e-4)
    if family == "relu":
        assert stats[2] == pytest.approx((y64 == 0).double().mean().item())
        per_unit = y64.transpose(0, 1).reshape(shape[1], -1)
        ref_alive = [bool((row > 0).any()) for row in per_unit]
        assert peak is not None and (peak > 0).tolist() == ref_alive
        assert stats[4] == pytest.approx(1 - sum(ref_alive) / len(ref_alive))
    else:
        assert peak is None and math.isnan(stats[4])
    if family == "sigmoid":
        ref = ((y64 < 0.01) | (y64 > 0.99)).double().mean().item()
        assert stats[3] == pytest.approx(ref)
    elif family == "tanh":
        assert stats[3] == pytest.approx((y64.abs() > 0.99).double().mean().item())
    else:
        assert math.isnan(stats[3])


def values(stats: list) -> list[float]:
    return [math.nan if v is None else float(v) for v in stats]


def test_loss_candidates_match_torch_losses() -> None:
    g = torch.Generator().manual_seed(2)
    o, y = torch.randn(10, 5, generator=g), torch.randint(0, 5, (10,), generator=g)
    c = dict(zip(S.LOSS_FIELDS, values(S.loss_candidates(o, y, 5)), strict=True))
    assert c["ce"] == pytest.approx(F.cross_entropy(o, y).item(), rel=1e-6)
    assert c["nll"] == pytest.approx(F.nll_loss(o, y).item(), rel=1e-6)
    assert c["mse"] == pytest.approx(F.mse_loss(o, F.one_hot(y, 5).float()).item(), rel=1e-6)
    t = torch.rand(10, 5, generator=g)
    c = dict(zip(S.LOSS_FIELDS, values(S.loss_candidates(o, t, 0)), strict=True))
    assert c["bce_logits"] == pytest.approx(F.binary_cross_entropy_with_logits(o, t).item(), rel=1e-6)
    assert c["mse"] == pytest.approx(F.mse_loss(o, t).item(), rel=1e-6)


def test_output_and_input_stats() -> None:
    o = torch.softmax(torch.randn(7, 4), dim=1)
    lo, hi, rs, lse = values(S.output_stats(o))
    assert (lo >= 0, hi <= 1, rs < 1e-6) == (True, True, True)
    lo, hi, rs, lse = values(S.output_stats(torch.log_softmax(torch.randn(7, 4), dim=1)))
    assert lse < 1e-6
    x = torch.arange(12.0).reshape(3, 4)
    mean, std, absmax = S.finish_input(values(S.input_stats(x)), x.numel())
    assert (mean, absmax) == (5.5, 11.0) and std == pytest.approx(x.std(unbiased=False).item())


def train(model: nn.Module, opt: torch.optim.Optimizer, rec: Recorder, steps: int,
          zero_grad: bool = True) -> list[dict[str, list[torch.Tensor]]]:
    g = torch.Generator().manual_seed(3)
    refs = []
    for _ in range(steps):
        x, y = torch.randn(16, 6, generator=g), torch.randint(0, 4, (16,), generator=g)
        out = model(x)
        loss = F.cross_entropy(out, y)
        if zero_grad:
            opt.zero_grad()
        loss.backward()
        rec.record_grads()
        before = [p.detach().clone() for p in model.parameters()]
        grads = [p.grad.detach().clone() for p in model.parameters()]
        rec.close_step(loss, inputs=x, targets=y, outputs=out)
        opt.step()
        after = [p.detach().clone() for p in model.parameters()]
        refs.append({"before": before, "after": after, "grads": grads, "loss": [loss.detach()]})
    return refs


def test_gradient_parameter_and_update_norms_match_reference() -> None:
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    rec = recorder(model, opt)
    refs = train(model, opt, rec, 5)
    records = rec.flush()
    assert [r["step"] for r in records] == [0, 1, 2, 3, 4]
    for r, ref in zip(records, refs, strict=True):
        assert r["loss"] == pytest.approx(ref["loss"][0].item(), rel=1e-6)
        gn = torch.sqrt(sum((g.double() ** 2).sum() for g in ref["grads"])).item()
        assert r["grad_norm"] == pytest.approx(gn, rel=1e-5)
        for name, idx in (("0", (0, 1)), ("2", (2, 3))):
            d = r["layers"][name]
            g = math.sqrt(sum((ref["grads"][i].double() ** 2).sum().item() for i in idx))
            p = math.sqrt(sum((ref["after"][i].double() ** 2).sum().item() for i in idx))
            u = math.sqrt(sum(((ref["after"][i] - ref["before"][i]).double() ** 2).sum().item() for i in idx))
            assert d["grad_norm"] == pytest.approx(g, rel=1e-5)
            assert d["param_norm"] == pytest.approx(p, rel=1e-5)
            assert d["update_ratio"] == pytest.approx(u / p, rel=1e-4)


def test_unsampled_steps_carry_only_the_loss() -> None:
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    rec = recorder(model, opt, every=3)
    train(model, opt, rec, 6)
    records = rec.flush()
    assert [("layers" in r) for r in records] == [True, False, False, True, False, False]
    assert all(isinstance(r["loss"], float) for r in records)


def test_missing_zero_grad_is_seen_and_zeroing_is_not() -> None:
    for zero_grad, expect_stale in ((False, True), (True, False)):
        model = mlp()
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        rec = recorder(model, opt)
        train(model, opt, rec, 4, zero_grad=zero_grad)
        prev = [r.get("prev_grad_norm") for r in rec.flush()]
        if expect_stale:
            assert prev[0] is None and all(p is not None and p > 0 for p in prev[1:])
        else:
            assert prev == [None] * 4


def test_stale_gradient_is_checked_on_sampled_steps_only() -> None:
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    rec = recorder(model, opt, every=3)
    train(model, opt, rec, 7, zero_grad=False)
    prev = [r.get("prev_grad_norm") for r in rec.flush()]
    # sampled steps 0, 3, 6; step 0 has no optimizer step before it
    assert [p is not None for p in prev] == [False, False, False, True, False, False, True]
    assert all(p > 0 for p in prev if p is not None)
    assert rec.vitals.loop["zero_grad_checks"] == 2


def test_no_grad_forward_in_training_mode_is_counted() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    rec = recorder(model, None)
    with torch.no_grad():
        model(torch.randn(2, 4))  # train mode: counted
        model.eval()
        model(torch.randn(2, 4))  # eval mode: fine
    loop = rec.vitals.loop
    assert (loop["nograd_forwards"], loop["nograd_train_forwards"], loop["mode_sensitive"]) == (2, 1, True)


def test_batchnorm_batch_sizes_and_class_histogram() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    rec = recorder(model, opt)
    y = torch.tensor([0, 0, 2])
    out = model(torch.randn(3, 3))
    F.cross_entropy(out, y).backward()
    rec.record_grads()
    rec.close_step(out.sum(), targets=y, outputs=out)
    (r,) = rec.flush()
    assert rec.vitals.loop["bn_batch_sizes"] == [3]
    assert r["targets"] == {"kind": "class", "hist": [2, 0, 1]}
    assert r["train_count"] == 3


def test_flush_keeps_the_open_step_and_bounded_memory() -> None:
    model = mlp()
    rec = Recorder(model, None, interval=4, schedule=lambda s: False, on_full=lambda: None,
                   max_records=100)
    for i in range(300):
        rec.close_step(torch.tensor(float(i)))
        if rec.pending_steps == 4:
            rec.flush()
    assert len(rec.vitals.records) <= 100
    assert rec.vitals.records[-1]["loss"] == 299.0
    steps = [r["step"] for r in rec.vitals.records]
    assert steps == sorted(steps) and steps[0] == 0
