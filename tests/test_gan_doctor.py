"""GanDoctor: the API on tiny seeded GAN loops, the GAN rules on hand-made series, the
GAN-aware zero_grad check, sample statistics against torchdoctor.gan.metrics, no crash."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import torchdoctor as td
from torchdoctor.catalogue import Thresholds
from torchdoctor.doctor import Vitals, diagnose
from torchdoctor.gan import GAN_CODES, metrics

RING = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])


def ring(n: int, gen: torch.Generator) -> torch.Tensor:
    """n points of 4 tight Gaussians on the unit circle (2-D)."""
    return RING[torch.randint(4, (n,), generator=gen)] + 0.02 * torch.randn(n, 2, generator=gen)


def mlp(n_in: int, n_out: int, width: int = 32) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, width), nn.LeakyReLU(0.2), nn.Linear(width, width),
                         nn.LeakyReLU(0.2), nn.Linear(width, n_out))


def gan_loop(steps: int, *, d_steps: int = 1, loss: str = "ns", dcgan_order: bool = False,
             zero_grad_d: bool = True, zero_grad_g: bool = True, seed: int = 0,
             doctor: bool = True, on_step: Callable[[int, Any], None] | None = None,
             **gd_kw: Any) -> tuple[Any, nn.Module, nn.Module]:
    """A tiny seeded GAN loop on 4 Gaussians; returns (GanDoctor or None, G, D)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    G, D = mlp(2, 2), mlp(2, 1)
    opt_g = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.5, 0.999))
    gd = td.GanDoctor(G, D, opt_g, opt_d, console=False, **gd_kw) if doctor else None
    for step in range(steps):
        for _ in range(d_steps):
            real = ring(64, gen)
            if loss == "wgan":
                with torch.no_grad():
                    fake = G(torch.randn(64, 2, generator=gen))
            else:
                fake = G(torch.randn(64, 2, generator=gen))
            if zero_grad_d:
                opt_d.zero_grad()
            d_real = D(real)
            d_fake = D(fake if loss == "wgan" else fake.detach())
            if loss == "wgan":
                loss_d = d_fake.mean() - d_real.mean()
            else:
                loss_d = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) \
                    + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
            loss_d.backward()
            if gd is not None:
                gd.step_d(loss_d, real_scores=d_real, fake_scores=d_fake, real=real, fake=fake)
            opt_d.step()
            if loss == "wgan":
                for p in D.parameters():
                    p.data.clamp_(-0.05, 0.05)
        if zero_grad_g:
            opt_g.zero_grad()
        d_gen = D(fake if dcgan_order else G(torch.randn(64, 2, generator=gen)))
        loss_g = -d_gen.mean() if loss == "wgan" else \
            F.binary_cross_entropy_with_logits(d_gen, torch.ones_like(d_gen))
        loss_g.backward()
        if gd is not None:
            gd.step_g(loss_g, fake_scores=d_gen)
        opt_g.step()
        if on_step is not None:
            on_step(step, gd)
    return gd, G, D


def loud(findings: list[td.Finding]) -> list[str]:
    return [f"{f.code}:{f.message}" for f in findings if f.severity in ("warning", "error")]


# ---------------------------------------------------------------------------------- the API
def test_healthy_loop_is_quiet_and_the_report_is_written(tmp_path: Any) -> None:
    gd, _, _ = gan_loop(300)
    assert gd.step_count == (300, 300)
    assert loud(gd.findings) == []
    out = gd.report(tmp_path / "gan.html")
    html = out.read_text(encoding="utf-8")
    assert "<svg" in html and "Training curves" in html and "Findings" in html
    assert "<script" not in html
    gd.close()
    gd.close()  # idempotent


def test_layers_are_named_per_network_and_close_removes_every_hook() -> None:
    torch.manual_seed(0)
    G, D = mlp(2, 2), mlp(2, 1)

    def hooks() -> list[int]:
        out = []
        for net in (G, D):
            for m in net.modules():
                out += [len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks)]
            out += [len(p._backward_hooks or {}) for p in net.parameters()]
        return out

    before = hooks()
    opt_g, opt_d = torch.optim.SGD(G.parameters(), 0.1), torch.optim.SGD(D.parameters(), 0.1)
    n_opt_hooks = (len(opt_g._optimizer_step_post_hooks), len(opt_d._optimizer_step_post_hooks))
    gd = td.GanDoctor(G, D, opt_g, opt_d, console=False, sample_every=1)
    assert set(gd.g_doctor.vitals.layers) == {"G.0", "G.1", "G.2", "G.3", "G.4"}
    assert set(gd.d_doctor.vitals.layers) == {"D.0", "D.1", "D.2", "D.3", "D.4"}
    x = torch.randn(8, 2)
    loss_d = D(x).mean() - D(G(x).detach()).mean()
    loss_d.backward()
    gd.step_d(loss_d, real_scores=D(x), fake_scores=D(G(x)))
    gd.close()
    assert hooks() == before
    assert (len(opt_g._optimizer_step_post_hooks), len(opt_d._optimizer_step_post_hooks)) == n_opt_hooks


def test_the_doctor_does_not_change_the_training() -> None:
    _, g1, d1 = gan_loop(40, doctor=False, seed=3)
    gd, g2, d2 = gan_loop(40, doctor=True, seed=3, sample_every=1)
    gd.close()
    for a, b in ((g1, g2), (d1, d2)):
        for (n, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            assert torch.equal(p, q), n


def test_several_d_steps_per_g_step() -> None:
    gd, _, _ = gan_loop(50, d_steps=3)
    assert gd.step_count == (50, 150)
    v = gd.gan_vitals().loop["gan"]
    assert [r["g_steps"] for r in v["d"][:7]] == [0, 0, 0, 1, 1, 1, 2]
    assert len(v["g"]) == 50
    assert loud(gd.findings) == []


def test_wgan_critic_scores_are_read_as_raw_values() -> None:
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    torch.manual_seed(0)
    gd = td.GanDoctor(mlp(2, 2), mlp(2, 1), console=False)
    gen = torch.Generator().manual_seed(1)
    for _ in range(20):
        r = 1e4 * torch.randn(64, 1, generator=gen) + 3e4  # unbounded critic values
        f = 1e4 * torch.randn(64, 1, generator=gen)
        seen.append((r.flatten(), f.flatten()))
        gd.step_d(torch.tensor(-5e3), real_scores=r, fake_scores=f)
    rows = gd.gan_vitals().loop["gan"]["d"]
    for row, (r, f) in zip(rows, seen, strict=True):
        naive = sum((a > b) + 0.5 * (a == b) for a in r.tolist() for b in f.tolist()) / (64 * 64)
        assert row["auc"] == pytest.approx(naive, abs=1e-6)
        assert row["real"] == pytest.approx(float(r.mean()), rel=1e-5)
        assert row["loss"] == -5e3
    gd.close()


def test_wgan_loop_with_no_grad_sampling_runs_quietly() -> None:
    gd, _, _ = gan_loop(200, loss="wgan", d_steps=2)
    assert gd.step_count == (200, 400)
    assert not [f for f in gd.findings if f.code in ("missing_zero_grad", "train_mode_in_eval")]
    gd.close()


# ---------------------------------------------------------------------------------- zero_grad
def test_dcgan_order_raises_no_missing_zero_grad() -> None:
    gd, _, _ = gan_loop(150, dcgan_order=True, sample_every=3)
    assert not [f for f in gd.findings if f.code == "missing_zero_grad"]
    gd.close()


@pytest.mark.parametrize("net", ["D", "G"])
def test_a_forgotten_zero_grad_is_named_with_its_network(net: str) -> None:
    gd, _, _ = gan_loop(60, zero_grad_d=net != "D", zero_grad_g=net != "G", sample_every=3)
    mz = [f for f in gd.findings if f.code == "missing_zero_grad"]
    assert [f.evidence["network"] for f in mz] == [net]
    assert mz[0].message.startswith(f"[{net}]") and mz[0].remedies
    gd.close()


# ---------------------------------------------------------------------------------- sample statistics
def test_sample_statistics_match_the_metrics_module() -> None:
    torch.manual_seed(0)
    gd = td.GanDoctor(mlp(2, 2), mlp(2, 1), console=False, sample_every=5)
    gen = torch.Generator().manual_seed(2)
    fakes = []
    for _ in range(11):
        real, fake = ring(64, gen), 0.5 * torch.randn(64, 2, generator=gen)
        fakes.append(fake)
        gd.step_d(torch.tensor(1.0), real_scores=torch.randn(64), fake_scores=torch.randn(64),
                  real=real, fake=fake)
    samples = gd.series.samples
    assert [s["step"] for s in samples] == [5, 10]
    real = gd.reservoir.data
    assert real.shape == (7 * 64, 2) and gd.reservoir.seen == 7 * 64  # steps 0-4, 5 and 10
    precision, recall = metrics.precision_recall(real, fakes[10], k=3)
    assert samples[-1]["recall"] == pytest.approx(recall, abs=1e-6)
    assert samples[-1]["precision"] == pytest.approx(precision, abs=1e-6)
    assert samples[-1]["coverage"] == pytest.approx(metrics.coverage(real, fakes[10], k=5), abs=1e-6)
    assert samples[-1]["diversity"] == pytest.approx(
        metrics.diversity(fakes[10]) / metrics.diversity(real), rel=1e-4)
    gd.close()


def test_a_collapsed_generator_is_named_on_a_tiny_loop() -> None:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    G, D = mlp(2, 2), mlp(2, 1)
    opt_g, opt_d = torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3)
    gd = td.GanDoctor(G, D, opt_g, opt_d, console=False, sample_every=10)
    for _ in range(150):
        real = ring(64, gen)
        fake = G(torch.randn(1, 2, generator=gen).expand(64, -1))  # one z for the batch
        d_real, d_fake = D(real), D(fake.detach())
        loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        opt_d.zero_grad()
        loss_d.backward()
        gd.step_d(loss_d, real_scores=d_real, fake_scores=d_fake, real=real, fake=fake)
        opt_d.step()
        d_gen = D(fake)
        loss_g = F.softplus(-d_gen).mean()
        opt_g.zero_grad()
        loss_g.backward()
        gd.step_g(loss_g, fake_scores=d_gen)
        opt_g.step()
    codes = {f.code for f in gd.findings}
    assert "gan_mode_collapse" in codes
    gd.close()


# ---------------------------------------------------------------------------------- the pure rules
def _series(n: int = 120, *, auc: float = 0.6, g_grad: list[float] | None = None,
            g_loss: list[float] | None = None, recall: float = 0.9, diversity: float = 1.0,
            distance: float = 0.05) -> Vitals:
    d = [{"step": i, "loss": 1.3, "real": 0.1, "fake": -0.1, "auc": auc} for i in range(n)]
    g = [{"step": i, "loss": (g_loss or [0.7] * n)[i], "fake": 0.0} for i in range(n)]
    grads = [[i * 10, x] for i, x in enumerate(g_grad or [1.0] * 12)]
    samples = [{"step": i * 10, "recall": recall, "coverage": recall / 2, "precision": 0.5,
                "diversity": diversity, "distance": distance} for i in range(12)]
    return Vitals(loop={"gan": {"d": d, "g": g, "g_grad": grads, "samples": samples}})


def _codes(v: Vitals, **overrides: float) -> set[str]:
    return {f.code for f in diagnose(v, codes=list(GAN_CODES), thresholds=overrides)}


def test_rule_discriminator_wins_needs_separation_and_a_vanished_gradient() -> None:
    falling = [1.0, 1.0, 1.0, 0.5, 0.1, 0.01, 0.005, 0.004, 0.003, 0.003, 0.002, 0.002]
    assert _codes(_series(auc=1.0, g_grad=falling)) == {"gan_discriminator_wins"}
    assert _codes(_series(auc=0.95, g_grad=falling)) == set()  # D does not separate enough
    assert _codes(_series(auc=1.0)) == set()  # the gradient did not fall
    t = Thresholds()
    f = diagnose(_series(auc=1.0, g_grad=falling), codes=["gan_discriminator_wins"])[0]
    assert f.severity == "error" and f.evidence["g_grad_ratio"] == pytest.approx(0.0025)
    assert f.evidence["threshold_auc"] == t.gan_separation_high
    # just below the threshold: quiet; the override moves it
    assert _codes(_series(auc=t.gan_separation_high - 1e-3, g_grad=falling)) == set()
    assert _codes(_series(auc=0.95, g_grad=falling), gan_separation_high=0.9) == {"gan_discriminator_wins"}


def test_rule_mode_collapse_needs_low_recall_and_low_diversity() -> None:
    assert _codes(_series(recall=0.1, diversity=0.1)) == {"gan_mode_collapse"}
    assert _codes(_series(recall=0.1, diversity=0.9)) == set()
    assert _codes(_series(recall=0.8, diversity=0.1)) == set()
    t = Thresholds()
    assert _codes(_series(recall=t.gan_recall_min, diversity=0.1)) == set()


def test_rule_discriminator_ineffective_needs_a_falling_g_loss_chance_d_and_far_samples() -> None:
    falling = [2.0 - i / 100 for i in range(120)]
    assert _codes(_series(auc=0.5, g_loss=falling, distance=0.9)) == {"gan_discriminator_ineffective"}
    assert _codes(_series(auc=0.8, g_loss=falling, distance=0.9)) == set()
    t = Thresholds()
    assert _codes(_series(auc=t.gan_separation_low + 1e-3, g_loss=falling, distance=0.9)) == set()
    assert _codes(_series(auc=0.5, g_loss=falling, distance=0.05)) == set()
    # samples near some data but reaching little of it count as far from the data
    assert _codes(_series(auc=0.5, g_loss=falling, distance=0.05, recall=0.1, diversity=0.9)) \
        == {"gan_discriminator_ineffective"}
    wobble = [0.7 + 0.1 * (-1) ** i * (i % 7) for i in range(120)]
    assert _codes(_series(auc=0.5, g_loss=wobble, distance=0.9)) == set()


def test_rules_are_silent_for_a_plain_doctor_and_short_series() -> None:
    assert _codes(Vitals()) == set()
    assert _codes(_series(n=20, auc=0.5, g_loss=[2.0 - i / 10 for i in range(20)], distance=0.9)) == set()


# ---------------------------------------------------------------------------------- never crash
def test_bad_values_are_said_once_and_training_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    torch.manual_seed(0)
    gd = td.GanDoctor(mlp(2, 2), mlp(2, 1), console=False)
    with caplog.at_level(logging.WARNING, logger="torchdoctor"):
        for _ in range(3):
            gd.step_d("abc", real_scores="x", fake_scores=torch.zeros(3, dtype=torch.long),
                      real=[1.0], fake=torch.zeros(2, 5))
            gd.step_d(torch.tensor(1.0), real_scores=torch.randn(8, 3), fake_scores=torch.randn(8))
            gd.step_g(None, fake_scores=object())
    text = caplog.text
    assert text.count("real_scores must be a tensor") == 1
    assert text.count("fake_scores must be a non-empty floating tensor") == 1
    assert text.count("has shape (8, 3)") == 1
    assert text.count("real must be a floating tensor") == 1
    assert gd.step_count == (3, 6)
    gd.close()


def test_an_internal_failure_is_reported_once(caplog: pytest.LogCaptureFixture,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    gd = td.GanDoctor(mlp(2, 2), mlp(2, 1), console=False)

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(gd.series, "add_d", boom)
    with caplog.at_level(logging.WARNING, logger="torchdoctor"):
        for _ in range(4):
            gd.step_d(torch.tensor(1.0), real_scores=torch.randn(4), fake_scores=torch.randn(4))
    assert caplog.text.count("GanDoctor step_d failed (RuntimeError: boom)") == 1
    assert isinstance(gd.findings, list)
    gd.close()


def test_bad_constructor_arguments_raise_one_clear_line() -> None:
    G = mlp(2, 2)
    with pytest.raises(ValueError, match="discriminator must be a torch.nn.Module"):
        td.GanDoctor(G, "D")
    with pytest.raises(ValueError, match="sample_every must be an int >= 1, got 0"):
        td.GanDoctor(G, mlp(2, 1), sample_every=0)
    with pytest.raises(ValueError, match="two different modules"):
        td.GanDoctor(G, G)
    with pytest.raises(ValueError, match="thresholds must name fields"):
        td.GanDoctor(G, mlp(2, 1), thresholds={"gan_nope": 1.0})


def test_public_names() -> None:
    assert td.GanDoctor is td.gan.GanDoctor
    assert callable(td.gan.metrics.coverage)
    assert set(GAN_CODES) <= set(td.SYMPTOM_CODES)


def test_scores_of_other_shapes_are_read_flat() -> None:
    torch.manual_seed(0)
    gd = td.GanDoctor(mlp(2, 2), mlp(2, 1), console=False)
    real = torch.full((4, 1, 2, 2), 3.0)  # a patch discriminator's map
    gd.step_d(torch.tensor(0.5), real_scores=real, fake_scores=torch.tensor(-1.0))
    gd.step_d(0.25, real_scores=torch.ones(3, dtype=torch.float64), fake_scores=torch.zeros(3))
    rows = gd.gan_vitals().loop["gan"]["d"]
    assert [(r["loss"], r["real"], r["fake"], r["auc"]) for r in rows] == [
        (0.5, 3.0, -1.0, 1.0), (0.25, 1.0, 0.0, 1.0)]
    gd.close()
