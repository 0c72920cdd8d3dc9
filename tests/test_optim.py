"""Tests for torchdoctor.optim: the factory and LARS against the formula written naively."""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

from torchdoctor.optim import LARS, OPTIMIZERS, make_optimizer


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(),
                               torch.nn.Linear(8, 3))


# --- factory -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("name", "cls", "checks"),
    [
        ("gd", torch.optim.SGD, {"momentum": 0.0}),
        ("sgd", torch.optim.SGD, {"momentum": 0.0}),
        ("sgdm", torch.optim.SGD, {"momentum": 0.9}),
        ("adagrad", torch.optim.Adagrad, {}),
        ("adadelta", torch.optim.Adadelta, {}),
        ("rmsprop", torch.optim.RMSprop, {"momentum": 0.0}),
        ("adam", torch.optim.Adam, {}),
        ("adamw", torch.optim.AdamW, {"weight_decay": 0.01}),
        ("lars", LARS, {"momentum": 0.9, "eta": 0.001}),
    ],
)
def test_make_optimizer_classes(name, cls, checks):
    opt = make_optimizer(name.upper() if name == "adam" else name, _model().parameters(), 0.1,
                         weight_decay=0.01)
    assert type(opt) is cls
    group = opt.param_groups[0]
    assert group["lr"] == 0.1
    assert group["weight_decay"] == 0.01
    for key, value in checks.items():
        assert group[key] == value
    assert set(OPTIMIZERS) == {"gd", "sgd", "sgdm", "adagrad", "adadelta", "rmsprop", "adam",
                               "adamw", "lars"}


def test_make_optimizer_matches_torch_trajectory():
    # sgdm through the factory takes exactly torch's steps
    a, b = _model(), _model()
    oa = make_optimizer("sgdm", a.parameters(), 0.05, momentum=0.8, nesterov=True)
    ob = torch.optim.SGD(b.parameters(), lr=0.05, momentum=0.8, nesterov=True)
    x = torch.randn(16, 4, generator=torch.Generator().manual_seed(1))
    for _ in range(3):
        for m, o in ((a, oa), (b, ob)):
            o.zero_grad()
            m(x).pow(2).mean().backward()
            o.step()
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert_close(pa, pb)


def test_make_optimizer_errors():
    params = list(_model().parameters())
    with pytest.raises(ValueError, match=r"optimizer name must be one of gd, sgd, sgdm, adagrad, "
                                         r"adadelta, rmsprop, adam, adamw, lars; got 'nadamx'"):
        make_optimizer("nadamx", params, 0.1)
    with pytest.raises(ValueError, match=r"lr must be > 0, got 0"):
        make_optimizer("sgd", params, 0)
    with pytest.raises(ValueError, match=r"lr must be > 0, got -0.1"):
        make_optimizer("adam", params, -0.1)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\), got 1.0"):
        make_optimizer("sgdm", params, 0.1, momentum=1.0)
    with pytest.raises(ValueError, match=r"weight_decay must be >= 0, got -1"):
        make_optimizer("sgdm", params, 0.1, weight_decay=-1)


# --- LARS --------------------------------------------------------------------------------

def _naive_lars(params, grads, bufs, *, lr, momentum, wd, eta, eps, exclude_1d=True):
    """The paper's update, one tensor at a time, in plain Python arithmetic on norms."""
    for p, g, name in zip(params, grads, range(len(params)), strict=True):
        if exclude_1d and p.ndim <= 1:
            d, trust = g.clone(), 1.0
        else:
            w_norm, g_norm = p.norm().item(), g.norm().item()
            d = g + wd * p
            trust = eta * w_norm / (g_norm + wd * w_norm + eps) if w_norm > 0 and g_norm > 0 else 1.0
        bufs[name] = momentum * bufs.get(name, torch.zeros_like(p)) + trust * d
        p -= lr * bufs[name]


@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("wd", [0.0, 5e-4])
@pytest.mark.parametrize("exclude_1d", [True, False])
@pytest.mark.parametrize("fused", [None, False])
def test_lars_matches_naive_formula(momentum, wd, exclude_1d, fused):
    model = _model().double()
    ref = [p.detach().clone() for p in model.parameters()]
    opt = LARS(model.parameters(), lr=0.5, momentum=momentum, weight_decay=wd, eta=0.01, fused=fused,
               exclude_1d=exclude_1d)
    bufs: dict = {}
    gen = torch.Generator().manual_seed(3)
    for _ in range(4):
        x = torch.randn(32, 4, generator=gen, dtype=torch.float64)
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        grads = [p.grad.clone() for p in model.parameters()]
        opt.step()
        for p, g in zip(model.parameters(), grads, strict=True):
            assert torch.equal(p.grad, g)  # the step never touches the gradients
        _naive_lars(ref, grads, bufs, lr=0.5, momentum=momentum, wd=wd, eta=0.01, eps=1e-8,
                    exclude_1d=exclude_1d)
        for p, r in zip(model.parameters(), ref, strict=True):
            assert_close(p.detach(), r)


def test_lars_zero_weight_gets_trust_one_and_state_round_trip():
    w = torch.nn.Parameter(torch.zeros(3, 2))
    opt = LARS([w], lr=0.1, momentum=0.0)
    w.grad = torch.ones(3, 2)
    opt.step()
    assert_close(w.detach(), torch.full((3, 2), -0.1))  # ‖w‖ = 0 -> ratio 1, plain SGD step
    # state_dict round trip keeps the momentum buffers
    m = _model()
    o1 = LARS(m.parameters(), lr=0.1)
    m(torch.randn(4, 4)).sum().backward()
    o1.step()
    o2 = LARS(m.parameters(), lr=0.1)
    o2.load_state_dict(o1.state_dict())
    for p in m.parameters():
        assert_close(o2.state[p]["momentum_buffer"], o1.state[p]["momentum_buffer"])


def test_lars_per_group_options_and_skip_no_grad():
    m = _model()
    frozen = torch.nn.Parameter(torch.ones(2, 2))
    opt = LARS([{"params": list(m.parameters())}, {"params": [frozen], "lr": 1.0}], lr=0.1)
    m(torch.randn(4, 4)).sum().backward()
    opt.step()
    assert_close(frozen.detach(), torch.ones(2, 2))
    assert opt.param_groups[1]["lr"] == 1.0


def test_lars_closure_returns_loss():
    m = _model()
    opt = LARS(m.parameters(), lr=0.1)
    x = torch.randn(8, 4)

    def closure():
        opt.zero_grad()
        loss = m(x).pow(2).mean()
        loss.backward()
        return loss

    assert torch.is_tensor(opt.step(closure))


def test_lars_errors():
    params = list(_model().parameters())
    with pytest.raises(ValueError, match=r"lr must be > 0, got 0"):
        LARS(params, lr=0)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\), got -0.1"):
        LARS(params, lr=0.1, momentum=-0.1)
    with pytest.raises(ValueError, match=r"weight_decay must be >= 0, got -1"):
        LARS(params, lr=0.1, weight_decay=-1)
    with pytest.raises(ValueError, match=r"eta must be > 0, got 0"):
        LARS(params, lr=0.1, eta=0)
    with pytest.raises(ValueError, match=r"eps must be >= 0, got -1"):
        LARS(params, lr=0.1, eps=-1)
