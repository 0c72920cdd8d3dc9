"""SwitchNorm against a naive version written here (each statistic separately), gradcheck,
and BatchNorm / LayerNorm / InstanceNorm as the one-branch special cases."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from torchdoctor.nn import SwitchNorm1d, SwitchNorm2d, make_norm, switch_norm

DT = torch.float64


def naive(x, w, b, mw, vw, bn_stats=None, using_bn=True, eps=1e-5):
    """Every statistic computed on its own from x, biased variances; bn_stats replace BN's."""
    dims = list(range(2, x.dim()))
    shape = (1, -1) + (1,) * len(dims)

    def moments(over):
        mean = x.mean(over, keepdim=True)
        return mean, ((x - mean) ** 2).mean(over, keepdim=True)

    branches = []
    if x.dim() > 2:
        branches.append(moments(dims))
    branches.append(moments([1, *dims]))
    if using_bn:
        if bn_stats is None:
            branches.append(moments([0, *dims]))
        else:
            branches.append((bn_stats[0].view(shape), bn_stats[1].view(shape)))
    keep = ([0] if x.dim() > 2 else []) + [1] + ([2] if using_bn else [])
    pm, pv = torch.softmax(mw[keep], 0), torch.softmax(vw[keep], 0)
    mean = sum(p * m for p, (m, _) in zip(pm, branches, strict=True))
    var = sum(p * v for p, (_, v) in zip(pv, branches, strict=True))
    return (x - mean) / torch.sqrt(var + eps) * w.view(shape) + b.view(shape)


def _params(c, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(c, generator=g, dtype=DT).requires_grad_(),
            torch.randn(c, generator=g, dtype=DT).requires_grad_(),
            torch.randn(3, generator=g, dtype=DT).requires_grad_(),
            torch.randn(3, generator=g, dtype=DT).requires_grad_()]


SHAPES = [(4, 6, 5, 5), (3, 5, 7), (6, 4), (1, 3, 4, 4), (2, 3, 1, 1)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("using_bn", [True, False])
def test_forward_and_grads_match_naive(shape, using_bn):
    if len(shape) == 2 and not using_bn:
        return
    g = torch.Generator().manual_seed(1)
    x = (torch.randn(*shape, generator=g, dtype=DT) * 2 + 3).requires_grad_()
    params = _params(shape[1])
    y = switch_norm(x, *params, using_bn=using_bn)
    want = naive(x, *params, using_bn=using_bn)
    torch.testing.assert_close(y, want)
    up = torch.randn(*shape, generator=g, dtype=DT)
    got = torch.autograd.grad(y, [x, *params], up)
    ref = torch.autograd.grad(want, [x, *params], up)
    for a, r in zip(got, ref, strict=True):
        torch.testing.assert_close(a, r)


@pytest.fixture
def one_thread():
    """Tiny tensors: one thread avoids stalls on a busy machine; restored afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize("shape", [(2, 4, 2, 3), (3, 4, 3), (5, 4)])
@pytest.mark.parametrize("training,using_bn", [(True, True), (False, True), (True, False)])
def test_gradcheck_float64(shape, training, using_bn, one_thread):
    if len(shape) == 2 and not using_bn:
        return
    g = torch.Generator().manual_seed(2)
    x = torch.randn(*shape, generator=g, dtype=DT).requires_grad_()
    rm = torch.randn(4, generator=g, dtype=DT)
    rv = torch.rand(4, generator=g, dtype=DT) + 0.5

    def f(x, w, b, mw, vw):
        return switch_norm(x, w, b, mw, vw, rm.clone(), rv.clone(), training=training,
                           using_bn=using_bn)

    assert torch.autograd.gradcheck(f, (x, *_params(4, seed=3)))


@pytest.mark.parametrize("shape", [(5, 7, 3), (5, 7, 2, 2), (5, 7)])
def test_hand_written_backward_equals_autograd_with_running_stats(shape):
    """Eval mode: BN's branch uses the running statistics (constants), the other branches the
    sample's own; every gradient (input, γ, β, both mixing logits) equals autograd through the
    naive version. Training mode is covered by test_forward_and_grads_match_naive."""
    g = torch.Generator().manual_seed(4)
    c = shape[1]
    x = torch.randn(*shape, generator=g, dtype=DT).requires_grad_()
    rm = torch.randn(c, generator=g, dtype=DT)
    rv = torch.rand(c, generator=g, dtype=DT) + 1
    params = _params(c, seed=5)
    y = switch_norm(x, *params, rm.clone(), rv.clone(), training=False)
    want = naive(x, *params, bn_stats=(rm, rv))
    torch.testing.assert_close(y, want)
    up = torch.randn(*shape, generator=g, dtype=DT)
    got = torch.autograd.grad(y, [x, *params], up)
    ref = torch.autograd.grad(want, [x, *params], up)
    for a, r in zip(got, ref, strict=True):
        torch.testing.assert_close(a, r)


def test_running_stats_follow_pytorch_batchnorm():
    torch.manual_seed(5)
    sn, bn = SwitchNorm2d(6, momentum=0.3).double(), nn.BatchNorm2d(6, momentum=0.3).double()
    for _ in range(4):
        x = torch.randn(8, 6, 5, 5, dtype=DT) * 3 + 2
        sn(x)
        bn(x)
    torch.testing.assert_close(sn.running_mean, bn.running_mean)
    torch.testing.assert_close(sn.running_var, bn.running_var)  # unbiased, as PyTorch keeps it


def test_eval_uses_running_stats_for_bn_branch_only():
    torch.manual_seed(6)
    sn = SwitchNorm2d(4).double()
    with torch.no_grad():
        sn.mean_weight.copy_(torch.tensor([0.3, -0.2, 0.5]))
        sn.var_weight.copy_(torch.tensor([-0.1, 0.4, 0.2]))
        sn.running_mean.copy_(torch.randn(4))
        sn.running_var.copy_(torch.rand(4) + 0.5)
    sn.eval()
    x = torch.randn(3, 4, 6, 6, dtype=DT)
    want = naive(x, sn.weight, sn.bias, sn.mean_weight, sn.var_weight,
                 bn_stats=(sn.running_mean, sn.running_var))
    before = sn.running_mean.clone()
    torch.testing.assert_close(sn(x), want)
    torch.testing.assert_close(sn.running_mean, before)
    # batch independence in eval: one sample alone gives the same output
    torch.testing.assert_close(sn(x[1:2]), want[1:2])


@pytest.mark.parametrize("branch", ["in", "ln", "bn"])
def test_one_hot_mix_is_the_pure_norm(branch):
    torch.manual_seed(7)
    x = torch.randn(4, 6, 5, 5, dtype=DT) * 2 + 1
    sn = SwitchNorm2d(6).double()
    logits = {"in": [40.0, -40, -40], "ln": [-40, 40.0, -40], "bn": [-40, -40, 40.0]}[branch]
    with torch.no_grad():
        sn.mean_weight.copy_(torch.tensor(logits))
        sn.var_weight.copy_(torch.tensor(logits))
        sn.weight.uniform_(0.5, 2)
        sn.bias.uniform_(-1, 1)
    w, b = sn.weight.detach(), sn.bias.detach()
    ref = {"in": lambda: F.instance_norm(x, weight=w, bias=b),
           "ln": lambda: F.group_norm(x, 1, w, b),
           "bn": lambda: F.batch_norm(x, None, None, w, b, training=True)}[branch]()
    torch.testing.assert_close(sn(x), ref)


def test_features_input_mixes_ln_and_bn():
    torch.manual_seed(8)
    x = torch.randn(10, 6, dtype=DT)
    sn = SwitchNorm1d(6).double()
    with torch.no_grad():
        sn.mean_weight.copy_(torch.tensor([5.0, -40, 40]))  # IN entry ignored for [N, C]
        sn.var_weight.copy_(torch.tensor([5.0, -40, 40]))
    torch.testing.assert_close(sn(x), F.batch_norm(x, None, None, sn.weight, sn.bias, True))
    mix = sn.mixing_weights()
    assert set(mix["mean"]) == {"in", "ln", "bn"}
    assert abs(sum(mix["var"].values()) - 1) < 1e-9


def test_constant_input_is_finite_and_state_dict_round_trips():
    sn = SwitchNorm2d(3)
    y = sn(torch.full((2, 3, 4, 4), 7.0, requires_grad=True))
    assert torch.isfinite(y).all()
    y.sum().backward()
    other = SwitchNorm2d(3)
    other.load_state_dict(sn.state_dict())
    assert set(sn.state_dict()) == {"weight", "bias", "mean_weight", "var_weight",
                                    "running_mean", "running_var"}
    assert "using_bn=False" in repr(SwitchNorm2d(3, using_bn=False))
    assert SwitchNorm2d(3, using_bn=False).running_mean is None


def test_batch_of_one_without_bn_branch():
    sn = SwitchNorm2d(4, using_bn=False).double()
    x = torch.randn(1, 4, 5, 5, dtype=DT)
    torch.testing.assert_close(sn(x), naive(x, sn.weight, sn.bias, sn.mean_weight,
                                            sn.var_weight, using_bn=False))


def test_make_norm_switch_kinds():
    assert isinstance(make_norm("switch", 8, spatial_dims=0), SwitchNorm1d)
    assert isinstance(make_norm("switch", 8, spatial_dims=1), SwitchNorm1d)
    assert isinstance(make_norm("switch", 8, spatial_dims=2, using_bn=False), SwitchNorm2d)


def test_errors():
    with pytest.raises(ValueError, match=r"input must have 4 dims for SwitchNorm2d, got shape \(2, 3\)"):
        SwitchNorm2d(3)(torch.randn(2, 3))
    with pytest.raises(ValueError, match="input must have 2 or 3 dims for SwitchNorm1d"):
        SwitchNorm1d(3)(torch.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"input.shape\[1\] must be num_channels=3, got 5"):
        SwitchNorm2d(3)(torch.randn(2, 5, 4, 4))
    with pytest.raises(ValueError, match="momentum must be in \\[0, 1\\], got 1.5"):
        SwitchNorm2d(3, momentum=1.5)
    with pytest.raises(ValueError, match="eps must be > 0, got 0"):
        SwitchNorm1d(3, eps=0)
    with pytest.raises(ValueError, match="num_channels must be >= 1, got 0"):
        SwitchNorm1d(0)
    with pytest.raises(ValueError, match="using_bn must be True for 2-D input"):
        SwitchNorm1d(3, using_bn=False)(torch.randn(4, 3))
    p = _params(3)
    with pytest.raises(ValueError, match=r"input must have shape \[N, C, \*\], got shape \(3,\)"):
        switch_norm(torch.randn(3, dtype=DT), *p)


def test_float32_stays_accurate_with_large_means():
    """Means 1000× the spread: E[x²] − μ² bookkeeping would cancel in float32; ours must not."""
    g = torch.Generator().manual_seed(9)
    x64 = torch.randn(8, 6, 5, 5, generator=g, dtype=DT) + 1000 * torch.rand(
        1, 6, 1, 1, generator=g, dtype=DT) + 500
    x64.requires_grad_()
    params = _params(6, seed=10)
    want = naive(x64, *params)
    up = torch.randn(8, 6, 5, 5, generator=g, dtype=DT)
    want_dx = torch.autograd.grad(want, x64, up)[0]
    x32 = x64.detach().float().requires_grad_()
    y = switch_norm(x32, *[p.detach().float() for p in params])
    dx = torch.autograd.grad(y, x32, up.float())[0]
    torch.testing.assert_close(y.double(), want.detach(), rtol=0, atol=1e-3)
    torch.testing.assert_close(dx.double(), want_dx, rtol=1e-3, atol=1e-3)
