"""The lab's experiments init_depth, grad_depth, norm_batch, bn_eval and gan_tricks: their
measurements against independent references (closed forms, PyTorch built-ins, naive loops)."""

from __future__ import annotations

import math
from itertools import pairwise

import pytest
import torch
from torch import nn

import torchdoctor as td
from torchdoctor.lab.experiments import (
    e01_init_depth,
    e03_grad_depth,
    e04_norm_batch,
    e05_bn_eval,
    e16_gan_tricks,
)

MINE = ("init_depth", "grad_depth", "norm_batch", "bn_eval", "gan_tricks")


def test_my_experiments_are_registered_in_order() -> None:
    orders = {n: td.lab.EXPERIMENTS[n].order for n in MINE}
    assert orders == {"init_depth": 1, "grad_depth": 3, "norm_batch": 4, "bn_eval": 5,
                      "gan_tricks": 16}


# ------------------------------------------------------------------ init_depth
def test_he_init_keeps_the_relu_second_moment_closed_form() -> None:
    """He et al. 2015, eq. 10: Var(w) = 2/fan_in gives E[z_l²] = 2·E[x²]/2·... = 2 at every
    layer for x ~ N(0, 1) inputs (E[relu(z)²] = E[z²]/2). Wide net, many inputs: tight."""
    s = e01_init_depth.activation_stats("relu", "kaiming_normal", width=1024, batch=1000,
                                        seed=0, nonlinearity="relu")
    m2 = s["pre_second_moment"]
    assert m2[0] == pytest.approx(2.0, rel=0.05)
    ratios = [b / a for a, b in pairwise(m2)]
    # one layer's gain scatters by ~7% at width 1024; their geometric mean by ~2.5%
    assert all(r == pytest.approx(1.0, rel=0.25) for r in ratios), ratios
    assert math.prod(ratios) ** (1 / len(ratios)) == pytest.approx(1.0, rel=0.08)


def test_xavier_on_relu_halves_the_second_moment_per_layer() -> None:
    s = e01_init_depth.activation_stats("relu", "xavier_normal", width=1024, batch=1000, seed=1)
    m2 = s["pre_second_moment"]
    assert m2[0] == pytest.approx(1.0, rel=0.05)  # Var(w) = 1/fan_in, E[x²] = 1
    ratios = [b / a for a, b in pairwise(m2)]
    assert all(r == pytest.approx(0.5, rel=0.25) for r in ratios), ratios
    assert math.prod(ratios) ** (1 / len(ratios)) == pytest.approx(0.5, rel=0.08)


def test_normal_001_shrinks_and_constant_init_gives_identical_units() -> None:
    s = e01_init_depth.activation_stats("tanh", "normal", width=256, batch=64, seed=0, std=0.01)
    # tanh ≈ identity near 0: std shrinks by 0.01·√256 = 0.16 per layer
    per_layer = [b / a for a, b in pairwise(s["std"])]
    assert all(r == pytest.approx(0.16, rel=0.15) for r in per_layer)
    c = e01_init_depth.activation_stats("tanh", "constant", width=64, batch=32, seed=0, std=0.01)
    assert c["unit_spread"][-1] == 0.0 and c["std"][-1] > 0


# ------------------------------------------------------------------ grad_depth
def test_grad_norms_match_autograd_on_the_weights() -> None:
    torch.manual_seed(0)
    model = e03_grad_depth.make_net("sigmoid", depth=4, inputs=8, classes=3)
    x, y = torch.randn(16, 8), torch.randint(0, 3, (16,))
    got = e03_grad_depth.hidden_grad_norms(model, x, y)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 5 and len(got) == 4  # 4 hidden, the head left out
    grads = torch.autograd.grad(nn.functional.cross_entropy(model(x), y),
                                [m.weight for m in linears[:-1]])
    assert got == pytest.approx([float(g.norm()) for g in grads], rel=1e-5)


@pytest.mark.parametrize("kind", e03_grad_depth.KINDS)
def test_every_net_has_the_same_number_of_hidden_layers(kind: str) -> None:
    model = e03_grad_depth.make_net(kind)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == e03_grad_depth.DEPTH + 1


def test_batchnorm_gradient_growth_near_the_mean_field_closed_form() -> None:
    """Yang et al. 2019: at initialization a deep ReLU+BN net's squared gradient grows by
    π/(π−1) per layer towards the input. Between hidden layers 2 and 20 (18 steps, inputs of
    the same kind; the first layer sees the raw input) seeds 0-2 at width 256 measure 27-31
    against 31.5: a factor 1.5 margin."""
    ratios = []
    for seed in range(2):
        torch.manual_seed(seed)
        model = e03_grad_depth.make_net("relu+bn", depth=20, width=256, inputs=32, classes=10)
        g = torch.Generator().manual_seed(seed)
        x, y = torch.randn(512, 32, generator=g), torch.randint(0, 10, (512,), generator=g)
        norms = e03_grad_depth.hidden_grad_norms(model, x, y)
        ratios.append(norms[1] / norms[-1])
    closed = (math.pi / (math.pi - 1)) ** (18 / 2)
    assert closed / 1.5 < sum(ratios) / len(ratios) < closed * 1.5, (ratios, closed)


# ------------------------------------------------------------------ norm_batch
def test_the_cnn_group_norm_uses_four_channels_per_group() -> None:
    torch.manual_seed(0)
    model = e04_norm_batch.make_cnn("group")
    gn = model[1]
    x = torch.randn(3, 16, 8, 8)
    ref = x.reshape(3, 4, -1)  # naive: 4 groups of 4 channels
    ref = ((ref - ref.mean(-1, keepdim=True)) / torch.sqrt(ref.var(-1, unbiased=False, keepdim=True)
                                                          + gn.eps)).reshape_as(x)
    assert torch.allclose(gn(x), ref, atol=1e-5)
    for _, kind in e04_norm_batch.NORMS:
        assert e04_norm_batch.make_cnn(kind)(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_the_paper_numbers_are_the_group_norm_papers() -> None:
    paper = e04_norm_batch.PAPER_ERROR
    assert paper["BN"][2] == 34.7 and paper["GN"][2] == 24.1 and paper["BN"][32] == 23.6


# ------------------------------------------------------------------ bn_eval
@pytest.mark.parametrize("momentum", [0.1, 0.01, None])
def test_batchnorm_running_mean_is_the_moving_average(momentum: float | None) -> None:
    trace, fed = e05_bn_eval.running_mean_trace(momentum, 200, seed=0)
    ref = e05_bn_eval.ema_reference(fed, momentum)
    assert trace == pytest.approx(ref, abs=1e-5)
    if momentum is None:
        assert trace[-1] == pytest.approx(sum(fed) / len(fed), abs=1e-5)


@pytest.mark.parametrize("momentum", [0.1, 0.01, 0.3])
def test_steps_to_settle_match_the_closed_form_on_a_constant_stream(momentum: float) -> None:
    ema = e05_bn_eval.ema_reference([2.0] * 2000, momentum)
    for t in (1, 10, 100):
        assert ema[t - 1] == pytest.approx(2.0 * (1 - (1 - momentum) ** t), rel=1e-9)
    assert e05_bn_eval.steps_to_within(ema, 2.0, 0.05) == e05_bn_eval.closed_form_steps(momentum)


def test_train_mode_accuracy_uses_batch_statistics_and_leaves_the_model_alone() -> None:
    torch.manual_seed(0)
    model = e05_bn_eval.make_mlp(0.1, inputs=6, classes=3)
    x, y = torch.randn(40, 6), torch.randint(0, 3, (40,))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    got = e05_bn_eval.train_mode_accuracy(model, x, y, batch=40)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with torch.no_grad():  # reference: the same layers with F.batch_norm on batch statistics
        h = x
        for layer in model:
            if isinstance(layer, nn.BatchNorm1d):
                h = nn.functional.batch_norm(h, None, None, layer.weight, layer.bias,
                                             training=True, eps=layer.eps)
            else:
                h = layer(h)
    assert got == pytest.approx(float((h.argmax(1) == y).float().mean()))
    # a trailing single row joins the previous batch (BatchNorm1d cannot normalize one row)
    assert 0.0 <= e05_bn_eval.train_mode_accuracy(model, x[:5], y[:5], batch=2) <= 1.0


# ------------------------------------------------------------------ gan_tricks
def test_gan_tricks_is_not_available_without_the_gan_trainer(monkeypatch) -> None:
    monkeypatch.setattr(e16_gan_tricks, "TRAINER_MODULE", "torchdoctor.gan.no_such_module")
    assert e16_gan_tricks.gan_trainer() is None
    doc = td.lab.run("gan_tricks", quick=True).to_json()
    assert doc["verdict"] == "not available" and doc["checks"] == [] and doc["figures"] == []
    assert "not installed" in doc["summary"]
