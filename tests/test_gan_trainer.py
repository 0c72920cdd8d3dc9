"""The GAN trainer (train.task: gan) through the public API and the CLI: tiny epochs."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

import torchdoctor as td
from conftest import ROOT, run_cli
from torchdoctor.cli import app
from torchdoctor.gan import losses as gl
from torchdoctor.gan import nets
from torchdoctor.train.config import ConfigError, load_config

RING = str(ROOT / "configs" / "gan_ring8.yaml")
VANILLA = str(ROOT / "configs" / "gan_vanilla_ring8.yaml")
TINY = ["train.epochs=2", "train.batch_size=64", "gan.generator.width=16",
        "gan.discriminator.width=16"]


def _cfg(*extra: str, name: str = "ring8") -> td.Config:
    return load_config(None, ["train.task=gan", f"data.name={name}", *TINY, *extra])


# ------------------------------------------------------------------ config
@pytest.mark.parametrize("setting, words", [
    ("gan.pack=0", "gan.pack = 0: must be >= 1"),
    ("gan.soft_labels=1.2", "unbounded below"),
    ("gan.loss=vanilla", "allowed: minimax, non_saturating"),
    ("gan.generator.width=0", "gan.generator.width = 0"),
    ("gan.discriminator.nope=1", "allowed keys here: width, depth"),
    ("gan.betas=[0.5, 1.5]", "each must be in [0, 1)"),
    ("gan.lr_decay_start=1", "gan.lr_decay_start = 1: must be < 1"),
])
def test_bad_gan_keys_exit_2_with_one_line(setting: str, words: str, tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["train", RING, "--out", str(tmp_path / "r"), "--set", setting])
    assert r.exit_code == 2, r.output
    err = r.stderr if hasattr(r, "stderr") else r.output
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and words in lines[0], err
    assert not (tmp_path / "r").exists()


def test_labels_need_a_label_loss_and_instance_norm_needs_images() -> None:
    with pytest.raises(ConfigError, match="needs a loss with label targets"):
        _cfg("gan.loss=hinge", "gan.label_flip=0.1")
    with pytest.raises(ValueError, match="needs image data"):
        td.gan.GanTrainer(_cfg("gan.discriminator.norm=instance"))


def test_defaults_are_the_recommended_set() -> None:
    g = load_config(None).gan
    assert (g.loss, g.pack, g.num_discriminators, g.ema) == ("minimax", 2, 3, 0.99)
    assert (g.lr_decay, g.lr_decay_start) == ("linear", 0.5)
    assert g.lr_d > g.lr_g  # two time-scale rates
    for name in ("gan_ring8", "gan_grid25"):  # both mixtures train the defaults, no gan: key
        assert load_config(ROOT / "configs" / f"{name}.yaml").gan == g


# ------------------------------------------------------------------ losses and networks
@pytest.mark.parametrize("start", [0.0, 0.5, 0.75])
def test_rates_hold_then_fall_linearly_to_zero(start: float) -> None:
    cfg = _cfg("gan.lr_decay=linear", f"gan.lr_decay_start={start}", "gan.lr_g=0.002",
               "gan.lr_d=0.008")
    seen: list[tuple[float, float]] = []

    class Rates:  # a duck-typed doctor: reads both rates at each generator step
        def step_g(self, loss: torch.Tensor, fake_scores: torch.Tensor) -> None:
            seen.append((tr.opt_g.param_groups[0]["lr"], tr.opt_d.param_groups[0]["lr"]))

    tr = td.gan.GanTrainer(cfg, doctor=Rates())
    tr.fit()
    total = len(seen)
    assert total == tr.total_steps
    for step, (lr_g, lr_d) in enumerate(seen):
        t = step / total  # naive piecewise form: flat until `start`, then a line to 0 at t = 1
        f = 1.0 if t <= start else 1.0 - (t - start) / (1.0 - start)
        assert (lr_g, lr_d) == (pytest.approx(0.002 * f, abs=1e-12), pytest.approx(0.008 * f, abs=1e-12))


def test_losses_match_their_definitions() -> None:
    s_r, s_f = torch.randn(7), torch.randn(5)
    bce = torch.nn.BCELoss()
    want = bce(torch.sigmoid(s_r), torch.ones(7)) + bce(torch.sigmoid(s_f), torch.zeros(5))
    torch.testing.assert_close(gl.d_loss("non_saturating", s_r, s_f), want, rtol=1e-5, atol=1e-6)
    p = torch.sigmoid(s_f)
    torch.testing.assert_close(gl.g_loss("minimax", s_f), torch.log(1 - p).mean(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(gl.g_loss("non_saturating", s_f), -torch.log(p).mean(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(gl.d_loss("hinge", s_r, s_f),
                               torch.clamp(1 - s_r, min=0).mean() + torch.clamp(1 + s_f, min=0).mean())
    torch.testing.assert_close(gl.d_loss("wasserstein", s_r, s_f), s_f.mean() - s_r.mean())
    torch.testing.assert_close(gl.d_loss("least_squares", s_r, s_f),
                               0.5 * F.mse_loss(s_r, torch.ones(7)) + 0.5 * F.mse_loss(s_f, torch.zeros(5)))


def test_label_targets_stay_in_their_ranges() -> None:
    g = torch.Generator().manual_seed(0)
    t_r, t_f = gl.label_targets(10000, real=0.9, noise=0.1, generator=g)
    assert 0.8 <= float(t_r.min()) and float(t_r.max()) <= 0.9
    assert 0.0 <= float(t_f.min()) and float(t_f.max()) <= 0.1
    t_r, t_f = gl.label_targets(10000, flip=0.2, generator=g)
    assert abs(float((t_r == 0).double().mean()) - 0.2) < 0.02  # flipped share
    assert torch.equal(t_r + t_f, torch.ones(10000))


def test_r1_penalty_is_half_gamma_squared_gradient() -> None:
    w = torch.tensor([3.0, 4.0])
    critic = lambda x: x @ w  # noqa: E731 - gradient w everywhere, |w|^2 = 25
    assert float(gl.r1_penalty(critic, torch.randn(6, 2), gamma=2.0)) == pytest.approx(25.0)


def test_pack_concatenates_samples_for_the_discriminator() -> None:
    cfg = _cfg("gan.pack=4", "gan.spectral_norm=discriminator")
    d = nets.build_discriminator(cfg.gan.discriminator, (2,), pack=4, spectral_norm=True)
    first = next(m for m in d.modules() if isinstance(m, torch.nn.Linear))
    assert first.in_features == 8 and hasattr(first, "parametrizations")
    assert d(torch.randn(5, 4, 2)).shape == (5,)


@pytest.mark.parametrize("up, down", [("transposed", "strided"), ("pixelshuffle", "avgpool")])
def test_dcgan_for_8x8_digits(up: str, down: str) -> None:
    cfg = _cfg(f"gan.generator.upsample={up}", f"gan.discriminator.downsample={down}",
               "gan.generator.norm=batch", "gan.discriminator.norm=instance", name="digits")
    g = nets.build_generator(cfg.gan.generator, 8, (1, 8, 8), noise=0.1)
    d = nets.build_discriminator(cfg.gan.discriminator, (1, 8, 8), pack=2)
    x = g(torch.randn(6, 8))
    assert x.shape == (6, 1, 8, 8) and float(x.detach().abs().max()) <= 1.0  # tanh output
    assert d(x.reshape(3, 2, 1, 8, 8)).shape == (3,)
    assert any(isinstance(m, torch.nn.PixelShuffle) for m in g.modules()) == (up == "pixelshuffle")


# ------------------------------------------------------------------ trainer and doctor
class Recorder:
    """A fake GAN doctor: counts the calls and keeps their arguments' shapes."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {"step_d": 0, "step_g": 0, "observe": 0}
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.observed: list[dict] = []

    def step_d(self, loss_d, *, real_scores, fake_scores, real, fake) -> None:
        self.calls["step_d"] += 1
        self.shapes.update(real_scores=tuple(real_scores.shape), real=tuple(real.shape))

    def step_g(self, loss_g, *, fake_scores) -> None:
        self.calls["step_g"] += 1

    def observe(self, **metrics) -> None:
        self.calls["observe"] += 1
        self.observed.append(metrics)


def test_the_doctor_sees_every_step_and_epoch() -> None:
    doc = Recorder()
    tr = td.gan.GanTrainer(_cfg("gan.d_steps=2", "gan.pack=2", "gan.num_discriminators=2"), doctor=doc)
    res = tr.fit()
    steps = tr.steps_per_epoch * 2
    assert doc.calls == {"step_d": 2 * steps, "step_g": steps, "observe": 2}
    assert doc.shapes == {"real_scores": (64,), "real": (128, 2)}  # samples, unpacked
    assert doc.observed[-1]["step"] == steps == res.metrics["step"]
    assert res.samples.shape == (2500, 2)


def test_a_failing_doctor_is_reported_once_and_training_goes_on() -> None:
    class Broken(Recorder):
        def step_g(self, loss_g, *, fake_scores) -> None:
            raise RuntimeError("boom")

    tr = td.gan.GanTrainer(_cfg(), doctor=Broken())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = tr.fit()
    assert res.epochs_run == 2 and tr.doctor is None
    assert sum("boom" in str(w.message) for w in caught) == 1


@pytest.mark.parametrize("extra", [
    ["gan.loss=wasserstein", "gan.gradient_penalty=wgan_gp", "gan.latent=uniform"],
    ["gan.loss=least_squares", "gan.soft_labels=0.9", "gan.noisy_labels=0.1", "gan.label_flip=0.05",
     "gan.instance_noise=0.1", "gan.g_noise=0.05", "gan.optimizer_d=sgd", "gan.ema=0"],
    ["gan.loss=hinge", "gan.gradient_penalty=r1", "gan.gp_weight=1", "gan.spectral_norm=both",
     "gan.separate_batches=false", "gan.generator.norm=batch", "gan.discriminator.norm=layer",
     "gan.scale_inputs=false", "gan.optimizer_g=rmsprop", "gan.lr_decay=none"],
])
def test_every_switch_trains(extra: list[str]) -> None:
    res = td.gan.GanTrainer(_cfg(*extra, "train.epochs=1")).fit()
    m = res.metrics
    assert all(math.isfinite(m[k]) for k in ("loss_d", "loss_g", "d_real", "d_fake"))
    assert {"modes", "high_quality", "kl", "coverage"} <= set(m)


def test_same_seed_same_samples() -> None:
    a = td.gan.GanTrainer(_cfg("train.epochs=1")).fit().samples
    b = td.gan.GanTrainer(_cfg("train.epochs=1")).fit().samples
    np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ CLI
def test_cli_train_writes_samples_metrics_and_report(tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = run_cli("train", RING, "--out", str(out), "--quiet", *sum((["--set", s] for s in TINY), []))
    assert r.returncode == 0, r.stderr
    with np.load(out / "samples.npz") as f:
        assert f["x"].shape == (2500, 2) and f["x"].dtype == np.float32
        assert f["snapshots"].shape[1:] == (500, 2)
    rows = [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [0, 1]
    assert {"loss_d", "loss_g", "d_real", "d_fake", "modes", "coverage"} <= set(rows[-1])
    html = (out / "report.html").read_text()
    assert "Samples over the epochs" in html and "<svg" in html and "D(real)" in html
    findings = json.loads((out / "findings.json").read_text())
    assert all(f["code"].startswith("gan_") for f in findings)
    (out / "report.html").unlink()
    r2 = CliRunner().invoke(app, ["report", str(out)])  # rebuilt from the logs: the GAN report
    assert r2.exit_code == 0 and "Samples over the epochs" in (out / "report.html").read_text()


def test_cli_repair_of_a_collapsed_gan(tmp_path: Path) -> None:
    # the mechanics on a tiny budget (the full repair is measured in docs/gan.md)
    r = run_cli("repair", VANILLA, "--json", "--rounds", "1", "--out", str(tmp_path / "rep"),
                "--set", "train.epochs=2", "--set", "gan.generator.width=16",
                "--set", "gan.discriminator.width=16")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert "gan_mode_collapse" in doc["before"]["findings"]
    tried = [c["remedies"][0] for c in doc["candidates"]]
    # gan_mode_collapse's remedies in the GAN priority (catalogue spec -> PATCHES)
    assert tried[:3] == ["pack_samples", "spectral_norm", "gradient_penalty"]
    assert all(c["patch"] for c in doc["candidates"])
    assert (tmp_path / "rep" / "report.html").is_file()
    assert (tmp_path / "rep" / "config.yaml").is_file()


def test_gan_patches_are_valid_config_patches() -> None:
    from torchdoctor.catalogue import remedies_for
    from torchdoctor.repair import apply_patch, patch_for

    vanilla = load_config(VANILLA)
    codes = {r.code for c in ("gan_mode_collapse", "gan_discriminator_wins",
                              "gan_discriminator_ineffective") for r in remedies_for(c)}
    for code in codes:
        patch = patch_for(code)
        assert patch and all(k.startswith("gan.") for k in patch), code
        res = apply_patch(vanilla, patch)
        assert res.ok or "changes nothing" in res.reason, (code, res.reason)


def test_cli_diagnose_of_a_gan_config() -> None:
    args = ["diagnose", VANILLA, "--json", "--epochs", "1"] + sum((["--set", s] for s in TINY), [])
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["metrics"]["epoch"] == 0 and doc["metrics"]["num_modes"] == 8
    collapse = [f for f in doc["findings"] if f["code"] == "gan_mode_collapse"]
    assert collapse and collapse[0]["remedies"][0]["patch"] == {"gan.pack": 4}
