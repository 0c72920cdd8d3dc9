"""Every model × norm × activation builds, runs forward and backward, honours the config."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from torchdoctor.train.config import load_config
from torchdoctor.train.models import build_model

ARCHS = ["mlp", "cnn", "resnet"]
NORMS = ["none", "batch", "layer", "instance", "group", "switch"]
ACTS = ["relu", "leaky_relu", "elu", "selu", "gelu", "tanh", "sigmoid", "maxout"]
INPUTS = {"image": (1, 8, 8), "sequence": (1, 40), "tabular": (64,)}

COMBOS = [(a, n, act) for a, n, act in itertools.product(ARCHS, NORMS, ACTS)
          if not (a == "mlp" and n == "instance")]


@pytest.mark.parametrize(("arch", "norm", "act"), COMBOS)
def test_builds_forward_backward(arch: str, norm: str, act: str) -> None:
    cfg = load_config(None, [f"model.arch={arch}", f"model.norm={norm}", f"model.activation={act}",
                             "model.depth=2", "model.width=8", "model.dropout=0.1"])
    kinds = ["tabular", "image"] if arch == "mlp" else ["image", "sequence"]
    for kind in kinds:
        shape = INPUTS[kind]
        model = build_model(cfg.model, shape, 10, kind=kind)
        x = torch.randn(4, *shape)
        out = model(x)
        assert out.shape == (4, 10) and torch.isfinite(out).all()
        out.square().mean().backward()
        grads = [p.grad for p in model.parameters() if p.requires_grad]
        assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
        first = _linears(model)[0]
        assert first.weight.grad.abs().sum() > 0, "no gradient reaches the first layer"


def _linears(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d))]


def test_depth_width_dropout_and_output_activation() -> None:
    cfg = load_config(None, ["model.depth=4", "model.width=16", "model.dropout=0.5",
                             "model.output_activation=softmax"])
    model = build_model(cfg.model, (64,), 10)
    lin = _linears(model)
    assert len(lin) == 5 and all(m.out_features == 16 for m in lin[:-1])
    assert sum(isinstance(m, nn.Dropout) and m.p == 0.5 for m in model.modules()) == 4
    model.eval()
    out = model(torch.randn(3, 64))
    assert torch.allclose(out.sum(1), torch.ones(3), atol=1e-6) and (out >= 0).all()


@pytest.mark.parametrize(("act", "out", "check"), [
    ("none", "sigmoid", lambda y: ((y > 0) & (y < 1)).all()),
    ("none", "relu", lambda y: (y >= 0).all()),
    ("none", "log_softmax", lambda y: torch.allclose(y.exp().sum(1), torch.ones(len(y)), atol=1e-5)),
])
def test_output_activations(act: str, out: str, check) -> None:
    cfg = load_config(None, [f"model.output_activation={out}"])
    model = build_model(cfg.model, (64,), 10)
    assert check(model(torch.randn(5, 64)))


def test_init_scheme_std_and_bias_are_honoured() -> None:
    cfg = load_config(None, ["model.init=normal", "model.init_std=0.2", "model.bias_init=0.3",
                             "model.width=256"])
    model = build_model(cfg.model, (64,), 10)
    lin = _linears(model)
    w = torch.cat([m.weight.flatten() for m in lin])
    assert abs(float(w.detach().std()) - 0.2) < 0.01
    assert all(torch.allclose(m.bias, torch.full_like(m.bias, 0.3)) for m in lin)
    const = build_model(load_config(None, ["model.init=constant", "model.init_std=0.5"]).model, (64,), 10)
    assert all(torch.all(m.weight == 0.5) for m in _linears(const))


def test_maxout_width() -> None:
    cfg = load_config(None, ["model.activation=maxout", "model.width=8", "model.depth=2"])
    model = build_model(cfg.model, (64,), 3)
    lin = _linears(model)
    assert [m.out_features for m in lin] == [16, 16, 3] and lin[1].in_features == 8


def test_cnn_rejects_tabular_data() -> None:
    cfg = load_config(None, ["model.arch=cnn"])
    with pytest.raises(ValueError, match="model.arch = cnn: needs image .* or sequence"):
        build_model(cfg.model, (2,), 2, kind="tabular")


def test_resnet_has_identity_skips() -> None:
    cfg = load_config(None, ["model.arch=resnet", "model.depth=3", "model.width=8"])
    model = build_model(cfg.model, (1, 8, 8), 10, kind="image")
    blocks = [m for m in model.modules() if type(m).__name__ == "BasicBlock"]
    assert len(blocks) == 3
    # zero both convs of a block: it must then pass its input through (act of identity)
    b = blocks[-1]
    for conv in (b.conv1, b.conv2):
        nn.init.zeros_(conv.weight)
        nn.init.zeros_(conv.bias)
    x = torch.randn(2, 8, 2, 2).abs()
    assert torch.allclose(b(x), torch.relu(x))
