"""Reference tests for torchdoctor.losses (closed forms, PyTorch built-ins, hand formulas)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from torchdoctor.losses import (
    distillation_loss,
    gradient_penalty,
    r1_penalty,
    sigmoid_focal_loss,
    softmax_focal_loss,
)


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(0)


# --- sigmoid focal -----------------------------------------------------------------------

@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sigmoid_focal_gamma0_no_alpha_is_bce(gen, reduction, dtype):
    x = torch.randn(7, 5, generator=gen, dtype=dtype) * 3
    y = (torch.rand(7, 5, generator=gen) > 0.5).to(dtype)
    ours = sigmoid_focal_loss(x, y, alpha=-1, gamma=0.0, reduction=reduction)
    ref = F.binary_cross_entropy_with_logits(x, y, reduction=reduction)
    assert_close(ours, ref)


def test_sigmoid_focal_matches_notes_formula(gen):
    # seed 003 §4: -α(1-p)^γ log p for y=1, -(1-α) p^γ log(1-p) for y=0 (float64, naive)
    x = torch.randn(50, generator=gen, dtype=torch.float64) * 2
    y = (torch.rand(50, generator=gen) > 0.3).double()
    alpha, gamma = 0.25, 2.0
    ref = []
    for xi, yi in zip(x.tolist(), y.tolist(), strict=True):
        p = 1 / (1 + math.exp(-xi))
        if yi == 1:
            ref.append(-alpha * (1 - p) ** gamma * math.log(p))
        else:
            ref.append(-(1 - alpha) * p**gamma * math.log(1 - p))
    ours = sigmoid_focal_loss(x, y, alpha=alpha, gamma=gamma)
    assert_close(ours, torch.tensor(ref, dtype=torch.float64))


def test_sigmoid_focal_down_weights_easy_examples():
    x = torch.tensor([4.0, 0.0])  # easy positive, hard positive
    y = torch.ones(2)
    ratio_focal = sigmoid_focal_loss(x, y, alpha=-1, gamma=2)
    ratio_bce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    assert (ratio_focal[0] / ratio_focal[1]) < 0.01 * (ratio_bce[0] / ratio_bce[1])


def test_sigmoid_focal_gradcheck(gen):
    x = torch.randn(4, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    y = (torch.rand(4, 3, generator=gen) > 0.5).double()
    assert torch.autograd.gradcheck(lambda t: sigmoid_focal_loss(t, y, reduction="sum"), (x,))


def test_sigmoid_focal_errors():
    x, y = torch.zeros(3), torch.zeros(3)
    with pytest.raises(ValueError, match=r"gamma must be >= 0, got -1"):
        sigmoid_focal_loss(x, y, gamma=-1)
    with pytest.raises(ValueError, match=r"reduction must be one of none, mean, sum, got 'avg'"):
        sigmoid_focal_loss(x, y, reduction="avg")
    with pytest.raises(ValueError, match=r"alpha must be <= 1"):
        sigmoid_focal_loss(x, y, alpha=1.5)
    with pytest.raises(ValueError, match=r"targets must have the shape of inputs"):
        sigmoid_focal_loss(x, torch.zeros(4))


# --- softmax focal -----------------------------------------------------------------------

@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_softmax_focal_gamma0_is_cross_entropy(gen, reduction):
    logits = torch.randn(16, 6, generator=gen) * 2
    y = torch.randint(0, 6, (16,), generator=gen)
    assert_close(softmax_focal_loss(logits, y, gamma=0.0, reduction=reduction),
                 F.cross_entropy(logits, y, reduction=reduction))


def test_softmax_focal_per_class_alpha_naive(gen):
    logits = torch.randn(10, 4, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 4, (10,), generator=gen)
    alpha = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    gamma = 1.5
    ref = []
    for i in range(10):
        p = torch.softmax(logits[i], 0)[y[i]].item()
        ref.append(-alpha[y[i]].item() * (1 - p) ** gamma * math.log(p))
    ref_t = torch.tensor(ref, dtype=torch.float64)
    assert_close(softmax_focal_loss(logits, y, gamma=gamma, alpha=alpha, reduction="none"), ref_t)
    assert_close(softmax_focal_loss(logits, y, gamma=gamma, alpha=0.5, reduction="sum"),
                 0.5 * softmax_focal_loss(logits, y, gamma=gamma, reduction="sum"))


def test_softmax_focal_binary_matches_sigmoid_focal(gen):
    # two classes with logits (0, z): softmax p_1 = σ(z), so both focal forms agree (α off)
    z = torch.randn(20, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 2, (20,), generator=gen)
    logits = torch.stack([torch.zeros_like(z), z], 1)
    assert_close(softmax_focal_loss(logits, y, gamma=2.0, reduction="none"),
                 sigmoid_focal_loss(z, y.double(), alpha=-1, gamma=2.0))


def test_softmax_focal_gradcheck(gen):
    logits = torch.randn(5, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 3, (5,), generator=gen)
    assert torch.autograd.gradcheck(lambda t: softmax_focal_loss(t, y, gamma=2.0), (logits,))


def test_softmax_focal_errors():
    logits, y = torch.zeros(4, 3), torch.zeros(4, dtype=torch.long)
    with pytest.raises(ValueError, match=r"gamma must be >= 0, got -0.5"):
        softmax_focal_loss(logits, y, gamma=-0.5)
    with pytest.raises(ValueError, match=r"logits must have shape \[N, C\]"):
        softmax_focal_loss(torch.zeros(4), y)
    with pytest.raises(ValueError, match=r"targets must have shape \[N\]"):
        softmax_focal_loss(logits, torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"targets must hold integer class indices"):
        softmax_focal_loss(logits, torch.zeros(4))
    with pytest.raises(ValueError, match=r"alpha must be a float or a Tensor\[C\] with C = 3"):
        softmax_focal_loss(logits, y, alpha=torch.ones(2))
    with pytest.raises(ValueError, match=r"reduction must be one of"):
        softmax_focal_loss(logits, y, reduction="batchmean")


# --- distillation ------------------------------------------------------------------------

def test_distillation_vs_hand_formula(gen):
    s = torch.randn(8, 5, generator=gen, dtype=torch.float64)
    t = torch.randn(8, 5, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 5, (8,), generator=gen)
    T, alpha = 3.0, 0.3
    ce = -torch.log_softmax(s, 1)[torch.arange(8), y].mean()
    pt = torch.softmax(t / T, 1)
    ps = torch.softmax(s / T, 1)
    kl = (pt * (pt.log() - ps.log())).sum(1).mean()
    ref = alpha * ce + (1 - alpha) * T**2 * kl
    assert_close(distillation_loss(s, t, y, T, alpha), ref)


def test_distillation_limits_and_teacher_detached(gen):
    s = torch.randn(6, 4, generator=gen, requires_grad=True)
    t = torch.randn(6, 4, generator=gen, requires_grad=True)
    y = torch.randint(0, 4, (6,), generator=gen)
    assert_close(distillation_loss(s, t, y, 2.0, 1.0), F.cross_entropy(s, y))
    assert_close(distillation_loss(s, s.detach(), y, 2.0, 0.0), torch.tensor(0.0), atol=1e-6, rtol=0)
    distillation_loss(s, t, y, 2.0, 0.5).backward()
    assert t.grad is None and s.grad is not None


def test_distillation_errors():
    s, y = torch.zeros(2, 3), torch.zeros(2, dtype=torch.long)
    with pytest.raises(ValueError, match=r"T must be > 0, got 0"):
        distillation_loss(s, s, y, 0, 0.5)
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\], got 1.5"):
        distillation_loss(s, s, y, 1.0, 1.5)
    with pytest.raises(ValueError, match=r"student_logits and teacher_logits must both have shape"):
        distillation_loss(s, torch.zeros(2, 4), y, 1.0, 0.5)


# --- gradient penalties ------------------------------------------------------------------

def test_gradient_penalty_linear_critic_closed_form(gen):
    # D(x) = w·x + b has ∇D = w everywhere: penalty = λ (‖w‖ − 1)²
    w = torch.randn(12, generator=gen, dtype=torch.float64)
    critic = torch.nn.Linear(12, 1).double()
    with torch.no_grad():
        critic.weight.copy_(w[None])
    real = torch.randn(9, 3, 4, generator=gen, dtype=torch.float64)
    fake = torch.randn(9, 3, 4, generator=gen, dtype=torch.float64)
    gp = gradient_penalty(lambda x: critic(x.flatten(1)), real, fake, generator=gen)
    assert_close(gp, 10.0 * (w.norm() - 1) ** 2)
    gp.backward()  # graph kept: the penalty trains the critic
    expected = 10.0 * 2 * (w.norm() - 1) * w / w.norm()
    assert_close(critic.weight.grad[0], expected)


def test_gradient_penalty_quadratic_critic_naive(gen):
    # D(x) = ½‖x‖² has ∇D(x̂) = x̂; recompute x̂ with the same ε stream
    real = torch.randn(5, 3, generator=gen, dtype=torch.float64)
    fake = torch.randn(5, 3, generator=gen, dtype=torch.float64)
    gp = gradient_penalty(lambda x: 0.5 * x.pow(2).sum(1), real, fake, lambda_gp=2.0,
                          generator=torch.Generator().manual_seed(7))
    eps = torch.rand(5, 1, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    x_hat = eps * real + (1 - eps) * fake
    assert_close(gp, 2.0 * ((x_hat.norm(dim=1) - 1) ** 2).mean())


def test_r1_penalty_closed_form(gen):
    real = torch.randn(6, 4, generator=gen, dtype=torch.float64)
    r1 = r1_penalty(lambda x: 0.5 * x.pow(2).sum(1), real, gamma=3.0)
    assert_close(r1, 1.5 * real.pow(2).sum(1).mean())


def test_penalty_errors():
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=r"lambda_gp must be >= 0, got -1"):
        gradient_penalty(lambda t: t.sum(1), x, x, lambda_gp=-1)
    with pytest.raises(ValueError, match=r"fake must have the shape of real"):
        gradient_penalty(lambda t: t.sum(1), x, torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"gamma must be >= 0"):
        r1_penalty(lambda t: t.sum(1), x, gamma=-2)
