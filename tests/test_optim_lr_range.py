"""Tests for lr_range_test: divergence of GD on a quadratic starts at lr = 2 / λ_max (closed form)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from torchdoctor.optim import LRRangeResult, lr_range_test, plot_lr_range


def _regression(n: int = 64, d: int = 5):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, d, generator=gen, dtype=torch.float64) * torch.linspace(0.5, 2.0, d, dtype=torch.float64)
    y = x @ torch.randn(d, 1, generator=gen, dtype=torch.float64)
    model = torch.nn.Linear(d, 1, bias=False).double()
    torch.nn.init.zeros_(model.weight)
    # loss ½·mean((xw − y)²) has Hessian xᵀx / n: plain GD diverges for lr > 2 / λ_max
    lam_max = torch.linalg.eigvalsh(x.T @ x / n).max().item()
    return x, y, model, lam_max


def _half_mse(out, y):
    return 0.5 * F.mse_loss(out, y)


def test_divergence_found_just_above_two_over_lambda_max():
    x, y, model, lam_max = _regression()
    res = lr_range_test(model, _half_mse, [(x, y)], start_lr=1e-2, end_lr=100.0, num_steps=200,
                        optimizer="sgd", smooth=0.0)
    critical = 2.0 / lam_max
    assert res.diverged_lr is not None
    # Below 2/λ_max every GD step contracts every eigen-component, so the loss cannot grow: the
    # divergence must be detected above the critical rate. Above it, the top component (already
    # converged to ~1e-16) needs some 30 steps of the 1.047x sweep to grow back: < 5x critical.
    assert critical < res.diverged_lr < 5.0 * critical
    assert res.suggested_lr < critical  # the suggestion is a rate at which GD converges
    assert res.suggested_lr == pytest.approx(res.diverged_lr / 10)
    assert res.min_loss_lr < res.diverged_lr
    # exponential sweep: constant ratio between successive rates, from start_lr
    r = [b / a for a, b in zip(res.lrs, res.lrs[1:], strict=False)]
    assert r[0] == pytest.approx((100.0 / 1e-2) ** (1 / 199))
    assert max(r) == pytest.approx(min(r))
    assert res.lrs[0] == pytest.approx(1e-2)


def test_smoothing_is_bias_corrected_ema():
    x, y, model, _ = _regression()
    res = lr_range_test(model, _half_mse, [(x, y)], start_lr=1e-4, end_lr=1e-2, num_steps=20,
                        optimizer="sgd", smooth=0.9)
    avg, ref = 0.0, []
    for i, v in enumerate(res.raw_losses):
        avg = 0.9 * avg + 0.1 * v
        ref.append(avg / (1 - 0.9 ** (i + 1)))
    assert_close(torch.tensor(res.losses), torch.tensor(ref))
    assert res.diverged_lr is None and len(res.lrs) == 20
    assert res.suggested_lr == pytest.approx(res.min_loss_lr / 10)


def test_model_and_optimizer_restored():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 2))
    model.eval()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x, y = torch.randn(16, 4), torch.randint(0, 2, (16,))
    model.train()
    F.cross_entropy(model(x), y).backward()
    opt.step()
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt_before = {k: v.clone() for k, v in opt.state[model[0].weight].items()}
    loader = [(x[:8], y[:8]), (x[8:], y[8:])]
    res = lr_range_test(model, F.cross_entropy, loader, start_lr=1e-3, end_lr=10, num_steps=30,
                        optimizer=opt)
    assert len(res.lrs) >= 2
    for k, v in model.state_dict().items():
        assert_close(v, before[k])
    for k, v in opt.state[model[0].weight].items():
        assert_close(v, opt_before[k])
    assert opt.param_groups[0]["lr"] == 3e-3
    assert not model.training


def test_plot_lr_range():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    x, y, model, _ = _regression()
    res = lr_range_test(model, _half_mse, [(x, y)], start_lr=1e-3, end_lr=100, num_steps=60,
                        optimizer="sgd")
    ax = plot_lr_range(res)
    assert ax.get_xscale() == "log"
    assert len(ax.lines) == 4  # raw, smoothed, suggested, diverged
    assert math.isclose(ax.lines[2].get_xdata()[0], res.suggested_lr)
    import matplotlib.pyplot as plt

    plt.close("all")


def test_result_type_and_errors():
    x, y, model, _ = _regression()
    data = [(x, y)]
    assert isinstance(lr_range_test(model, _half_mse, data, num_steps=3, optimizer="sgd"), LRRangeResult)
    with pytest.raises(ValueError, match=r"start_lr must be > 0, got 0"):
        lr_range_test(model, _half_mse, data, start_lr=0)
    with pytest.raises(ValueError, match=r"end_lr must be > start_lr = 0.1, got 0.01"):
        lr_range_test(model, _half_mse, data, start_lr=0.1, end_lr=0.01)
    with pytest.raises(ValueError, match=r"num_steps must be an integer >= 2, got 1"):
        lr_range_test(model, _half_mse, data, num_steps=1)
    with pytest.raises(ValueError, match=r"smooth must be in \[0, 1\), got 1"):
        lr_range_test(model, _half_mse, data, smooth=1)
    with pytest.raises(ValueError, match=r"diverge_factor must be > 1, got 1"):
        lr_range_test(model, _half_mse, data, diverge_factor=1)
    with pytest.raises(ValueError, match=r"loader must yield at least one batch"):
        lr_range_test(model, _half_mse, [], optimizer="sgd")
    with pytest.raises(ValueError, match=r"optimizer name must be one of"):
        lr_range_test(model, _half_mse, data, optimizer="bogus")
