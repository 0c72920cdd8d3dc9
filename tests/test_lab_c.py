"""Lab experiments 11-15 (distillation, ce_vs_mse, conv_blocks, covariate_shift, label_shift):
each runs quick and yields a well-formed document; their measuring pieces agree with closed
forms, naive loops and PyTorch / NumPy / SciPy built-ins."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

import torchdoctor as td
from conftest import quick_lab_result
from torchdoctor.lab.experiments import (
    e11_distillation,
    e12_ce_vs_mse,
    e13_conv_blocks,
    e14_covariate_shift,
    e15_label_shift,
)

NAMES = ("distillation", "ce_vs_mse", "conv_blocks", "covariate_shift", "label_shift")
MODULES = (e11_distillation, e12_ce_vs_mse, e13_conv_blocks, e14_covariate_shift, e15_label_shift)


@pytest.fixture(scope="module")
def results():
    return {name: quick_lab_result(name) for name in NAMES}


def test_registered_in_order():
    names = list(td.lab.EXPERIMENTS)
    assert all(n in names for n in NAMES)
    assert [names.index(n) for n in NAMES] == sorted(names.index(n) for n in NAMES)
    for name, module, order in zip(NAMES, MODULES, range(11, 16), strict=True):
        exp = td.lab.EXPERIMENTS[name]
        assert exp is module.EXPERIMENT and exp.order == order
        assert exp.claim and exp.reference and exp.setup


@pytest.mark.parametrize("name", NAMES)
def test_quick_run_document(results, name):
    result = results[name]
    doc = result.to_json()
    json.dumps(doc, allow_nan=False)  # plain numbers and strings only
    assert doc["name"] == name and doc["quick"] is True and doc["seeds"] == 1
    assert doc["verdict"] in td.lab.VERDICTS
    assert doc["verdict"] == td.lab.verdict_from(result.outcome.checks)
    assert isinstance(doc["summary"], str) and doc["summary"] and "\n" not in doc["summary"]
    assert doc["checks"] and all(set(c) == {"name", "passed", "detail"} for c in doc["checks"])
    assert doc["table"] and all(isinstance(r, dict) and r for r in doc["table"])
    for row in doc["table"]:
        assert all(isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in row.values())
    assert doc["figures"] and doc["figures"] == [f"{name}-{f.name}.svg" for f in result.figures]
    assert all(f.svg.lstrip().startswith("<svg") for f in result.figures)


def test_write_result(results, tmp_path):
    path = td.lab.write_result(results["conv_blocks"], tmp_path)
    doc = json.loads(path.read_text())
    assert doc["name"] == "conv_blocks"
    for fig in doc["figures"]:
        assert (tmp_path / fig).read_text().startswith("<svg")


# --- distillation ---------------------------------------------------------------------------

def test_distillation_loss_gradient_matches_hinton_closed_form():
    g = torch.Generator().manual_seed(0)
    zs = torch.randn(5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    zt = torch.randn(5, 4, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 3, 1])
    T, a = 3.0, 0.3
    (grad,) = torch.autograd.grad(td.losses.distillation_loss(zs, zt, y, T=T, alpha=a), zs)
    # Hinton et al. eq. 2: the T² scaled soft term has gradient T·(q_s − q_t) per sample
    soft = T * (torch.softmax(zs / T, 1) - torch.softmax(zt / T, 1))
    hard = torch.softmax(zs, 1) - F.one_hot(y, 4)
    expected = ((1 - a) * soft + a * hard) / 5
    torch.testing.assert_close(grad, expected.detach())


def test_omitted_bias_finds_the_separating_shift():
    # class 2's logit is 1.5 too low for the rows of class 2, and 2.5 below the others' margin
    logits = torch.tensor([[3.0, 0.0, 1.5], [0.0, 3.0, 1.5], [4.0, 0.0, 0.0], [0.0, 4.0, 0.5]])
    labels = torch.tensor([2, 2, 0, 1])
    b = e11_distillation.omitted_bias(logits, labels, 2)
    assert 1.5 < b < 3.5  # a naive scan: every bias in (1.5, 3.5) is right on all four rows
    z = logits.clone()
    z[:, 2] += b
    assert bool((z.argmax(1) == labels).all())


def test_conv1d_teacher_shape():
    out = e11_distillation.Conv1dNet()(torch.zeros(3, 40))
    assert out.shape == (3, 10)


# --- ce_vs_mse ------------------------------------------------------------------------------

def test_losses_against_naive_loops():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(6, 5, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 4, 2, 2, 1, 3])
    naive = {"softmax_mse": 0.0, "sigmoid_mse": 0.0, "sigmoid_bce": 0.0}
    for i in range(6):
        p = [math.exp(v) for v in z[i].tolist()]
        p = [v / sum(p) for v in p]
        s = [1 / (1 + math.exp(-v)) for v in z[i].tolist()]
        for k in range(5):
            t = 1.0 if k == int(y[i]) else 0.0
            naive["softmax_mse"] += (p[k] - t) ** 2 / 6
            naive["sigmoid_mse"] += (s[k] - t) ** 2 / 6
            naive["sigmoid_bce"] += -(t * math.log(s[k]) + (1 - t) * math.log(1 - s[k])) / 6
    assert float(e12_ce_vs_mse.softmax_mse_loss(z, y)) == pytest.approx(naive["softmax_mse"])
    assert float(e12_ce_vs_mse.sigmoid_mse_loss(z, y)) == pytest.approx(naive["sigmoid_mse"])
    assert float(e12_ce_vs_mse.sigmoid_bce_loss(z, y)) == pytest.approx(naive["sigmoid_bce"])
    assert float(e12_ce_vs_mse.softmax_ce_loss(z, y)) == pytest.approx(float(F.cross_entropy(z, y)))


@pytest.mark.parametrize("margin", [-2.0, 0.0, 3.0, 8.0])
def test_true_logit_gradient_closed_forms(margin):
    k = 10
    z = np.full(k, -abs(margin) / 2 - 2.0)
    z[0], z[1] = -margin / 2, margin / 2
    p = np.exp(z) / np.exp(z).sum()
    s = 1 / (1 + np.exp(-z[0]))
    grad = e12_ce_vs_mse.true_logit_gradient
    assert grad(e12_ce_vs_mse.softmax_ce_loss, margin) == pytest.approx(1 - p[0], rel=1e-5)
    assert grad(e12_ce_vs_mse.sigmoid_bce_loss, margin) == pytest.approx(1 - s, rel=1e-5)
    assert grad(e12_ce_vs_mse.sigmoid_mse_loss, margin) == pytest.approx(
        2 * (1 - s) * s * (1 - s), rel=1e-4)
    # softmax + MSE: d/dz_0 Σ_k (p_k − t_k)² = 2 Σ_k (p_k − t_k) p_k (δ_k0 − p_0)
    t = np.eye(k)[0]
    mse = abs(2 * np.sum((p - t) * p * ((np.arange(k) == 0) - p[0])))
    assert grad(e12_ce_vs_mse.softmax_mse_loss, margin) == pytest.approx(mse, rel=1e-4, abs=1e-9)


# --- conv_blocks ----------------------------------------------------------------------------

def test_separable_parameter_count_exact():
    assert e13_conv_blocks.n_params(nn.Conv2d(3, 4, 3, bias=False)) == 3 * 4 * 9 == 108
    assert e13_conv_blocks.n_params(td.nn.SeparableConv2d(3, 4, 3, bias=False)) == 3 * 9 + 3 * 4 == 39


@pytest.mark.parametrize("rates", [(1, 1, 1), (1, 2, 4), (2, 2, 2), (1, 2, 3)])
def test_dilated_receptive_field_closed_form(rates):
    model = e13_conv_blocks.dilated_stack(rates)
    assert td.ops.receptive_field(model, (1, 1, 33, 33))[-1].size == (1 + 2 * sum(rates),) * 2
    assert td.ops.empirical_receptive_field(model, (1, 1, 33, 33)) == (1 + 2 * sum(rates),) * 2


def test_path_count_map_is_the_convolved_kernels():
    # all-ones kernels: paths per offset = the 1D kernels convolved, outer product in 2D
    for rates in [(1, 1, 1), (2, 2, 2), (1, 2, 3)]:
        one_d = np.array([1.0])
        for r in rates:
            k = np.zeros(2 * r + 1)
            k[::r] = 1.0
            one_d = np.convolve(one_d, k)
        grad = e13_conv_blocks.path_count_map(e13_conv_blocks.dilated_stack(rates, ones=True), 33)
        c, h = 16, len(one_d) // 2
        np.testing.assert_allclose(grad[c - h:c + h + 1, c - h:c + h + 1], np.outer(one_d, one_d))
        assert grad.sum() == pytest.approx(one_d.sum() ** 2)
    gridded = e13_conv_blocks.path_count_map(e13_conv_blocks.dilated_stack((2, 2, 2), ones=True), 33)
    assert e13_conv_blocks.field_coverage(gridded) == pytest.approx(49 / 169)


@pytest.mark.parametrize("kind", e13_conv_blocks.BLOCKS)
def test_blocks_keep_shape(kind):
    assert e13_conv_blocks.block(kind)(torch.zeros(2, 16, 8, 8)).shape == (2, 16, 8, 8)
    assert e13_conv_blocks.cnn(kind)(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


def test_block_rejects_unknown_kind():
    with pytest.raises(ValueError, match="allowed"):
        e13_conv_blocks.block("dense 5x5")


# --- covariate_shift ------------------------------------------------------------------------

def test_density_ratio_against_scipy():
    from scipy.stats import norm

    x = np.linspace(-1.5, 2.0, 15)
    E = e14_covariate_shift
    exact = norm.pdf(x, E.TARGET_MEAN, E.TARGET_SD) / norm.pdf(x, E.SOURCE_MEAN, E.SOURCE_SD)
    np.testing.assert_allclose(E.density_ratio(x), exact, rtol=1e-10)


def test_weighted_polyfit_against_numpy():
    rng = np.random.default_rng(0)
    x, y, w = rng.normal(size=40), rng.normal(size=40), rng.uniform(0.1, 3, 40)
    ours = e14_covariate_shift.weighted_polyfit(x, y, w, 3)
    ref = np.polyfit(x, y, 3, w=np.sqrt(w))[::-1]  # numpy weights the residuals, not squares
    np.testing.assert_allclose(ours, ref, rtol=1e-8, atol=1e-10)


def test_estimated_weights_follow_the_exact_ratio():
    E = e14_covariate_shift
    rng = np.random.default_rng(3)
    xs = rng.normal(E.SOURCE_MEAN, E.SOURCE_SD, 400)
    xt = rng.normal(E.TARGET_MEAN, E.TARGET_SD, 400)
    w = td.shift.importance_weights(xs[:, None], xt[:, None], clip=None,
                                    features=E.quadratic_features)
    exact = E.density_ratio(xs)
    corr = np.corrcoef(np.log(w), np.log(exact / exact.mean()))[0, 1]
    assert corr > 0.95


# --- label_shift ----------------------------------------------------------------------------

def test_weight_error_closed_form():
    assert e15_label_shift.weight_error(np.array([1.0, 2.0]), np.array([1.0, 0.0])) == 2.0


def test_bbse_with_a_perfect_classifier_recovers_the_sample_priors():
    rng = np.random.default_rng(0)
    ys = rng.integers(0, 4, 200)
    yt = rng.choice(4, size=300, p=[0.7, 0.1, 0.1, 0.1])
    eye = np.eye(4) * 0.96 + 0.01
    res = td.shift.estimate_label_shift(eye[ys], ys, eye[yt], method="bbse")
    q = np.bincount(yt, minlength=4) / 300
    np.testing.assert_allclose(res.target_priors, q, atol=1e-12)
    p = np.bincount(ys, minlength=4) / 200
    assert e15_label_shift.weight_error(res.weights, q / p) < 1e-20
