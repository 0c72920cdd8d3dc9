"""init_model against closed-form variances, empirical fans and PyTorch's untouched default."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from torchdoctor.init import INIT_SCHEMES, fans, init_model
from torchdoctor.nn import Maxout, SwitchNorm2d


def _layer(kind: str) -> nn.Module:
    if kind == "linear":
        return nn.Linear(800, 1200)  # fan_in 800, fan_out 1200
    return nn.Conv2d(64, 128, 3)  # fan_in 576, fan_out 1152


FANS = {"linear": (800, 1200), "conv": (576, 1152)}


def _expected_std(scheme: str, fan_in: float, fan_out: float, gain: float) -> float:
    # closed forms of the notes (004: Xavier σ² = 2/(n_in+n_out); He σ² = 2/n_in; LeCun 1/n_in)
    return {
        "xavier_normal": gain * math.sqrt(2 / (fan_in + fan_out)),
        "xavier_uniform": gain * math.sqrt(2 / (fan_in + fan_out)),
        "kaiming_normal": gain * math.sqrt(1 / fan_in),
        "kaiming_uniform": gain * math.sqrt(1 / fan_in),
        "lecun_normal": math.sqrt(1 / fan_in),
        "lecun_uniform": math.sqrt(1 / fan_in),
    }[scheme]


@pytest.mark.parametrize("kind", ["linear", "conv"])
@pytest.mark.parametrize("scheme", ["xavier_normal", "xavier_uniform", "kaiming_normal",
                                    "kaiming_uniform", "lecun_normal", "lecun_uniform"])
@pytest.mark.parametrize("nonlinearity,gain", [("linear", 1.0), ("relu", math.sqrt(2)),
                                               ("tanh", 5 / 3)])
def test_std_matches_closed_form(kind, scheme, nonlinearity, gain):
    torch.manual_seed(0)
    layer = _layer(kind)
    init_model(layer, scheme, nonlinearity=nonlinearity)
    want = _expected_std(scheme, *FANS[kind], gain)
    w = layer.weight.detach()
    assert abs(w.std().item() / want - 1) < 0.05
    assert abs(w.mean().item()) < 0.05 * want
    if scheme.endswith("uniform"):  # bound √3·σ, and it is reached
        bound = math.sqrt(3) * want
        assert w.abs().max().item() <= bound * (1 + 1e-6)
        assert w.abs().max().item() > 0.99 * bound


def test_he_relu_is_two_over_fan_in():
    torch.manual_seed(1)
    layer = init_model(nn.Linear(1000, 1000), "kaiming_normal", nonlinearity="relu")
    assert abs(layer.weight.var().item() / (2 / 1000) - 1) < 0.05


def test_leaky_relu_gain_uses_slope_001():
    torch.manual_seed(2)
    layer = init_model(nn.Linear(1000, 1000), "kaiming_normal", nonlinearity="leaky_relu")
    want = math.sqrt(2 / (1 + 0.01**2)) / math.sqrt(1000)
    assert abs(layer.weight.std().item() / want - 1) < 0.05


@pytest.mark.parametrize("std", [0.01, 0.5])
def test_normal_uniform_constant_zeros(std):
    torch.manual_seed(3)
    lin = init_model(nn.Linear(1000, 1000), "normal", std=std)
    assert abs(lin.weight.std().item() / std - 1) < 0.05
    init_model(lin, "uniform", std=std)
    assert lin.weight.abs().max().item() <= std
    assert abs(lin.weight.std().item() / (std / math.sqrt(3)) - 1) < 0.05
    init_model(lin, "constant", std=std)
    assert torch.all(lin.weight == std)
    init_model(lin, "zeros")
    assert torch.all(lin.weight == 0)


@pytest.mark.parametrize("scheme", [s for s in INIT_SCHEMES if s != "default"])
def test_bias_honoured_by_every_scheme(scheme):
    model = nn.Sequential(nn.Linear(4, 8), nn.Conv1d(8, 8, 3), nn.ConvTranspose2d(2, 3, 2))
    init_model(model, scheme, bias=0.25)
    for m in model:
        assert torch.all(m.bias == 0.25)


def test_default_leaves_pytorch_init_untouched_unless_bias_nonzero():
    torch.manual_seed(4)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(),
                          nn.Linear(8, 2))
    before = copy.deepcopy(model.state_dict())
    init_model(model, "default")
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)
    init_model(model, "default", bias=-0.5)
    assert torch.all(model[0].bias == -0.5) and torch.all(model[4].bias == -0.5)
    torch.testing.assert_close(model[0].weight, before["0.weight"], rtol=0, atol=0)


def test_norm_layers_get_gamma_one_beta_zero():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.GroupNorm(2, 8),
                          nn.InstanceNorm2d(8, affine=True), SwitchNorm2d(8), nn.LayerNorm(8))
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(2, 3)
    init_model(model, "xavier_normal")
    for m in list(model)[1:]:
        assert torch.all(m.weight == 1) and torch.all(m.bias == 0)


def test_submodules_of_custom_layers_are_initialized():
    model = nn.Sequential(Maxout(10, 4, pieces=3))
    init_model(model, "constant", std=0.3, bias=0.1)
    assert torch.all(model[0].linear.weight == 0.3) and torch.all(model[0].linear.bias == 0.1)


def test_zeros_init_gives_symmetric_units():
    # notes 003 §15: identical initial weights → identical units and identical gradients
    model = init_model(nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 1)), "constant",
                       std=0.1)
    model(torch.randn(16, 5)).sum().backward()
    g = model[0].weight.grad
    torch.testing.assert_close(g, g[:1].expand_as(g))


# ---- fans, checked empirically with all-ones weights and inputs ----------------------------

@pytest.mark.parametrize("conv", [
    nn.Conv2d(6, 4, 3, bias=False),
    nn.Conv2d(6, 4, (3, 5), stride=2, groups=2, bias=False),
    nn.Conv1d(4, 6, 5, stride=1, groups=2, bias=False),
    nn.ConvTranspose2d(6, 4, 4, stride=2, bias=False),
    nn.ConvTranspose2d(4, 6, 3, stride=1, groups=2, bias=False),
])
def test_fans_count_connections(conv):
    dims = conv.weight.dim() - 2
    with torch.no_grad():
        conv.weight.fill_(1.0)
    x = torch.ones(1, conv.in_channels, *([40] * dims), requires_grad=True)
    y = conv(x)
    y.sum().backward()
    crop = (slice(None), slice(None), *[slice(8, -8)] * dims)
    fan_in, fan_out = fans(conv)
    # interior output = number of inputs feeding it; interior d(Σy)/dx = outputs fed
    assert y.detach()[crop].mean().item() == pytest.approx(fan_in)
    assert x.grad[crop].mean().item() == pytest.approx(fan_out)


def test_fans_linear_and_torch_agreement():
    assert fans(nn.Linear(3, 7)) == (3, 7)
    w = nn.Conv2d(5, 9, 3).weight
    assert fans(nn.Conv2d(5, 9, 3)) == nn.init._calculate_fan_in_and_fan_out(w)
    with pytest.raises(ValueError, match="module must be"):
        fans(nn.ReLU())


def test_bad_arguments():
    lin = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="scheme must be one of .*got 'he'"):
        init_model(lin, "he")
    with pytest.raises(ValueError, match="nonlinearity must be .*got 'swish'"):
        init_model(lin, "kaiming_normal", nonlinearity="swish")
    with pytest.raises(ValueError, match="std must be >= 0 .*got -1"):
        init_model(lin, "normal", std=-1.0)
    with pytest.raises(ValueError, match="std must be finite, got nan"):
        init_model(lin, "normal", std=float("nan"))
    with pytest.raises(ValueError, match="bias must be finite, got inf"):
        init_model(lin, "zeros", bias=float("inf"))


def test_returns_model_and_covers_every_config_scheme():
    for scheme in ("default", "constant", "zeros", "uniform", "normal", "xavier_uniform",
                   "xavier_normal", "kaiming_uniform", "kaiming_normal", "lecun_normal",
                   "lecun_uniform"):
        m = nn.Linear(3, 3)
        assert init_model(m, scheme) is m
