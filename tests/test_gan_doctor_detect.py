"""GanDoctor detection beyond the loops it was tuned on: a discriminator that wins from the
start, a discriminator that does not learn (its weights do not move), the weight-motion series
against a naive computation, and sample statistics spread over the whole run."""

from __future__ import annotations

import logging

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import torchdoctor as td
from torchdoctor.catalogue import Thresholds
from torchdoctor.doctor import Vitals, diagnose
from torchdoctor.gan import GAN_CODES

MODES = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])


def four_gaussians(n: int, gen: torch.Generator) -> torch.Tensor:
    """n points of 4 tight Gaussians on the unit circle: (n, 2)."""
    return MODES[torch.randint(4, (n,), generator=gen)] + 0.02 * torch.randn(n, 2, generator=gen)


def mlp(n_in: int, n_out: int, width: int = 32) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, width), nn.LeakyReLU(0.2), nn.Linear(width, width),
                         nn.LeakyReLU(0.2), nn.Linear(width, n_out))


def ns_loop(steps: int, *, step_d: bool = True, freeze_d_after: int | None = None,
            sample_every: int | None = 5, seed: int = 0) -> tuple[td.GanDoctor, nn.Module]:
    """A seeded non-saturating GAN loop on 4 Gaussians; ``step_d=False`` forgets
    ``opt_d.step()``; ``freeze_d_after`` leaves D's ``requires_grad`` off from that step on
    (the fakes are not detached, so D's loss still backpropagates)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    G, D = mlp(2, 2), mlp(2, 1)
    opt_g = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.5, 0.999))
    gd = td.GanDoctor(G, D, opt_g, opt_d, console=False, sample_every=sample_every)
    for step in range(steps):
        real, fake = four_gaussians(64, gen), G(torch.randn(64, 2, generator=gen))
        d_real, d_fake = D(real), D(fake if freeze_d_after is not None else fake.detach())
        loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        opt_d.zero_grad()
        loss_d.backward()
        gd.step_d(loss_d, real_scores=d_real, fake_scores=d_fake, real=real, fake=fake)
        if step_d:
            opt_d.step()
        if freeze_d_after is not None and step >= freeze_d_after:
            D.requires_grad_(False)
        d_gen = D(G(torch.randn(64, 2, generator=gen)))
        loss_g = F.softplus(-d_gen).mean()
        opt_g.zero_grad()
        loss_g.backward()
        gd.step_g(loss_g, fake_scores=d_gen)
        opt_g.step()
    gd.close()
    return gd, D


def loud(findings: list[td.Finding]) -> set[str]:
    return {f.code for f in findings if f.severity in ("warning", "error")}


# ---------------------------------------------------------------------------------- real loops
@pytest.mark.parametrize("fault", ["forgotten_step", "requires_grad_left_off"])
def test_a_discriminator_that_does_not_learn_is_named(fault: str,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    torch.manual_seed(0)
    reference = mlp(2, 2), mlp(2, 1)  # the same initial weights as the loop's G and D
    with caplog.at_level(logging.WARNING, logger="torchdoctor"):
        if fault == "forgotten_step":
            gd, D = ns_loop(200, step_d=False)
        else:
            gd, D = ns_loop(200, freeze_d_after=0)
    found = {f.code: f for f in gd.findings}
    assert "gan_discriminator_ineffective" in found
    f = found["gan_discriminator_ineffective"]
    assert f.severity == "warning" and f.remedies[0].code == "call_optimizer_step"
    assert "opt_d.step()" in f.remedies[0].description
    t = Thresholds()
    assert f.evidence["d_weight_change"] <= t.gan_weights_still < f.evidence["g_weight_change"]
    # independent reference: D's weights are those it was built with (forgotten step) or moved
    # once (frozen after its first step); G's moved
    moved = sum(float((p - q).detach().norm()) for p, q in zip(D.parameters(), reference[1].parameters(),
                                                       strict=True))
    assert (moved == 0.0) if fault == "forgotten_step" else (moved > 0.0)
    # a frozen network is no internal failure of the GanDoctor
    assert not [r for r in caplog.records if "GanDoctor" in r.getMessage()]


def test_a_learning_discriminator_is_not_called_still() -> None:
    gd, _ = ns_loop(200)
    assert "gan_discriminator_ineffective" not in {f.code for f in gd.findings}
    rows = gd.gan_vitals().loop["gan"]["d_motion"]
    assert len(rows) >= 30 and min(x for _, x in rows) > 100 * Thresholds().gan_weights_still


def test_weight_motion_matches_a_naive_computation() -> None:
    """The d_motion row of step s is ||theta_s - theta_{s-5}|| / ||theta_{s-5}|| / 5."""
    copies: dict[int, torch.Tensor] = {}
    torch.manual_seed(1)
    gen = torch.Generator().manual_seed(1)
    G, D = mlp(2, 2), mlp(2, 1)
    opt_d = torch.optim.SGD(D.parameters(), 0.05)
    gd = td.GanDoctor(G, D, None, opt_d, console=False, sample_every=5)
    for step in range(21):
        real, fake = four_gaussians(32, gen), G(torch.randn(32, 2, generator=gen)).detach()
        d_real, d_fake = D(real), D(fake)
        loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        opt_d.zero_grad()
        loss_d.backward()
        copies[step] = torch.cat([p.detach().flatten().clone() for p in D.parameters()])
        gd.step_d(loss_d, real_scores=d_real, fake_scores=d_fake)
        opt_d.step()
    rows = gd.gan_vitals().loop["gan"]["d_motion"]
    assert [s for s, _ in rows] == [5, 10, 15, 20]
    for s, x in rows:
        naive = float((copies[s] - copies[s - 5]).norm() / copies[s - 5].norm() / 5)
        assert x == pytest.approx(naive, rel=1e-5)
    gd.close()


def test_sample_statistics_reach_the_end_of_the_run() -> None:
    """The default budget thins the statistics but keeps them coming: some in the last half."""
    gd, _ = ns_loop(400, sample_every=None)
    steps = [r["step"] for r in gd.gan_vitals().loop["gan"]["samples"]]
    assert len(steps) >= 5 and max(steps) >= 200


# ---------------------------------------------------------------------------------- the pure rules
def _series(n: int = 120, *, auc_first: float = 0.99, auc_last: float = 0.99,
            recall: float = 0.05, d_motion: float = 1e-3, g_motion: float = 1e-3) -> Vitals:
    third = n // 3
    d = [{"step": i, "loss": 0.2, "real": 3.0, "fake": -3.0,
          "auc": auc_first if i < third else auc_last} for i in range(n)]
    g = [{"step": i, "loss": 0.03, "fake": -3.0} for i in range(n)]
    grads = [[i * 10, 0.3 + 0.2 * (i % 3)] for i in range(12)]  # no peak to fall from
    samples = [{"step": i * 10, "recall": recall, "coverage": recall, "precision": 0.5,
                "diversity": 0.9, "distance": 0.05} for i in range(12)]
    motion_d = [[i * 10, d_motion] for i in range(1, 12)]
    motion_g = [[i * 10, g_motion] for i in range(1, 12)]
    return Vitals(loop={"gan": {"d": d, "g": g, "g_grad": grads, "samples": samples,
                                "d_motion": motion_d, "g_motion": motion_g}})


def _found(v: Vitals, **overrides: float) -> dict[str, td.Finding]:
    return {f.code: f for f in diagnose(v, codes=list(GAN_CODES), thresholds=overrides)}


def test_rule_a_discriminator_winning_from_the_start() -> None:
    t = Thresholds()
    f = _found(_series())["gan_discriminator_wins"]
    assert f.severity == "error" and f.evidence["won_from_start"] is True
    assert f.evidence["auc_first_third"] == pytest.approx(0.99)
    assert f.evidence["recall_best"] == pytest.approx(0.05)
    # the generator reached the data at some point, or D let go early or late: quiet
    assert "gan_discriminator_wins" not in _found(_series(recall=t.gan_recall_min))
    assert "gan_discriminator_wins" not in _found(_series(auc_first=0.9))
    assert "gan_discriminator_wins" not in _found(_series(auc_last=t.gan_separation_held - 1e-3))
    assert "gan_discriminator_wins" in _found(_series(auc_last=0.9), gan_separation_held=0.85)


def test_rule_a_discriminator_whose_weights_do_not_move() -> None:
    t = Thresholds()
    chance = {"auc_first": 0.5, "auc_last": 0.5, "recall": 0.9}
    f = _found(_series(d_motion=0.0, **chance))["gan_discriminator_ineffective"]
    assert f.evidence["d_weight_change"] == 0.0 and f.remedies[0].code == "call_optimizer_step"
    assert "gan_discriminator_ineffective" in _found(_series(d_motion=t.gan_weights_still, **chance))
    assert "gan_discriminator_ineffective" not in _found(
        _series(d_motion=10 * t.gan_weights_still, g_motion=10 * t.gan_weights_still, **chance))
    # a discriminator that won (a hinge loss at 0 stops it) is no ineffective one
    assert "gan_discriminator_ineffective" not in _found(
        _series(d_motion=0.0, auc_first=1.0, auc_last=1.0, recall=0.9))
    # neither network moves: not a discriminator problem
    assert "gan_discriminator_ineffective" not in _found(_series(d_motion=0.0, g_motion=0.0, **chance))
    # without the motion series (an older record): the rule stays as it was
    v = _series(d_motion=0.0, **chance)
    del v.loop["gan"]["d_motion"]
    assert "gan_discriminator_ineffective" not in _found(v)


def test_rule_a_discriminator_that_lags_far_behind_the_generator() -> None:
    t = Thresholds()
    chance = {"auc_first": 0.5, "auc_last": 0.5, "recall": 0.9}
    f = _found(_series(d_motion=1e-5, g_motion=1e-3, **chance))["gan_discriminator_ineffective"]
    assert f.evidence["weight_change_ratio"] == pytest.approx(0.01)
    assert f.remedies[0].code == "more_d_steps"  # it learns, too slowly
    lagging = _series(d_motion=t.gan_weights_lag * 1e-3, g_motion=1e-3, **chance)
    assert "gan_discriminator_ineffective" in _found(lagging)
    assert "gan_discriminator_ineffective" not in _found(
        _series(d_motion=2 * t.gan_weights_lag * 1e-3, g_motion=1e-3, **chance))
    # a slow discriminator that still separates real from fake is not outrun
    assert "gan_discriminator_ineffective" not in _found(
        _series(d_motion=1e-5, g_motion=1e-3, auc_first=0.9, auc_last=0.9, recall=0.9))
    # several D steps per G step count: 20 D steps of 1e-5 per G step of 1e-3 is 0.2
    v = _series(d_motion=1e-5, g_motion=1e-3, **chance)
    v.loop["gan"]["g"] = v.loop["gan"]["g"][:6]
    assert "gan_discriminator_ineffective" not in _found(v)


def test_weight_motion_of_a_large_layer_follows_a_strided_subset() -> None:
    """A layer above 65,536 weights: the change of every k-th weight, which for a uniform
    relative change equals the whole tensor's."""
    torch.manual_seed(2)
    G, D = nn.Linear(4, 2), nn.Linear(400, 400)  # 160,400 weights in D
    gd = td.GanDoctor(G, D, console=False, sample_every=5)
    for _ in range(11):
        scores = torch.randn(8)
        gd.step_d(torch.tensor(1.0), real_scores=scores, fake_scores=scores - 1)
        with torch.no_grad():
            for p in D.parameters():
                p.mul_(1.01)  # every weight grows by 1 % per step
    rows = gd.gan_vitals().loop["gan"]["d_motion"]
    # between two sampled steps 5 apart: (1.01^5 - 1) / 5 per step
    assert [s for s, _ in rows] == [5, 10]
    for _, x in rows:
        assert x == pytest.approx((1.01 ** 5 - 1) / 5, rel=1e-4)
    gd.close()
