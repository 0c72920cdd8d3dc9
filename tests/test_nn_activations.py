"""make_activation, replace_activation, GroupMax and Maxout against PyTorch and explicit loops."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from torchdoctor.nn import ACTIVATIONS, GroupMax, Maxout, make_activation, replace_activation

REFERENCE = {
    "relu": F.relu, "leaky_relu": lambda x: F.leaky_relu(x, 0.01), "elu": F.elu,
    "selu": F.selu, "gelu": F.gelu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_every_config_name_matches_torch(name):
    x = torch.randn(5, 7, generator=torch.Generator().manual_seed(0)) * 3
    torch.testing.assert_close(make_activation(name)(x), REFERENCE[name](x))


def test_config_names_are_exactly_covered():
    assert set(ACTIVATIONS) == {"relu", "leaky_relu", "elu", "selu", "gelu", "tanh", "sigmoid",
                                "maxout"}


def test_kwargs_pass_through():
    x = torch.linspace(-3, 3, 13)
    torch.testing.assert_close(make_activation("leaky_relu", negative_slope=0.2)(x),
                               F.leaky_relu(x, 0.2))
    torch.testing.assert_close(make_activation("elu", alpha=0.5)(x), F.elu(x, 0.5))


@pytest.mark.parametrize("shape", [(4, 6), (2, 6, 5), (2, 6, 3, 4)])
@pytest.mark.parametrize("pieces", [1, 2, 3])
def test_group_max_is_max_over_consecutive_channels(shape, pieces):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    y = make_activation("maxout", pieces=pieces)(x)
    c = shape[1] // pieces
    assert y.shape == (shape[0], c, *shape[2:])
    for j in range(c):  # explicit loop reference
        want = x[:, j * pieces]
        for k in range(1, pieces):
            want = torch.maximum(want, x[:, j * pieces + k])
        torch.testing.assert_close(y[:, j], want)


def test_maxout_layer_against_loop_and_gradcheck():
    torch.manual_seed(2)
    m = Maxout(5, 3, pieces=4).double()
    x = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    y = m(x)
    w, b = m.linear.weight, m.linear.bias
    for j in range(3):
        pieces = torch.stack([x @ w[j * 4 + k] + b[j * 4 + k] for k in range(4)], 1)
        torch.testing.assert_close(y[:, j], pieces.max(1).values)
    assert torch.autograd.gradcheck(m, (x,))
    assert sum(p.numel() for p in m.parameters()) == 4 * 3 * (5 + 1)
    assert "5, 3, pieces=4" in repr(m)


def test_maxout_errors():
    with pytest.raises(ValueError, match="pieces must be an int >= 1, got 0"):
        make_activation("maxout", pieces=0)
    with pytest.raises(ValueError, match="pieces must be an int >= 1, got 0"):
        Maxout(3, 2, pieces=0)
    with pytest.raises(ValueError, match="out_features must be an int >= 1, got -1"):
        Maxout(3, -1)
    with pytest.raises(ValueError, match=r"input.shape\[1\] must be a multiple of pieces=2"):
        GroupMax(2)(torch.randn(3, 5))


def test_make_activation_unknown_name_lists_valid():
    with pytest.raises(ValueError, match="name must be one of relu, leaky_relu, .* got 'swish'"):
        make_activation("swish")


def test_replace_activation_nested_and_functional_equivalence():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(),
                          nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 8), nn.ReLU6()),
                          nn.Linear(8, 2), nn.Sigmoid())
    x = torch.randn(10, 4)
    assert replace_activation(model, "leaky_relu", negative_slope=0.1) is model
    assert isinstance(model[1], nn.LeakyReLU) and isinstance(model[2][1], nn.LeakyReLU)
    assert isinstance(model[2][3], nn.LeakyReLU) and isinstance(model[4], nn.LeakyReLU)
    h = F.leaky_relu(model[0](x), 0.1)
    h = F.leaky_relu(model[2][0](h), 0.1)
    h = F.leaky_relu(model[2][2](h), 0.1)
    torch.testing.assert_close(model(x), F.leaky_relu(model[3](h), 0.1))


def test_replace_activation_errors():
    with pytest.raises(ValueError, match="name must not be 'maxout'"):
        replace_activation(nn.Sequential(nn.ReLU()), "maxout")
    with pytest.raises(ValueError, match="model must not contain maxout units"):
        replace_activation(nn.Sequential(nn.Linear(4, 4), GroupMax(2)), "relu")
    with pytest.raises(ValueError, match="name must be one of"):
        replace_activation(nn.Sequential(nn.ReLU()), "swish")
    with pytest.raises(ValueError, match="model must contain activations, not be one"):
        replace_activation(nn.ReLU(), "elu")
