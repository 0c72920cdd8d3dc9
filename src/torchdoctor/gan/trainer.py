"""The GAN trainer (``train.task: gan``): G against D with every trick of the ``gan:`` section.

One generator step: ``gan.d_steps`` discriminator steps (real and fake packs, instance noise,
soft/noisy/flipped labels, gradient penalty), then one G step on fresh latents; both rates
fall linearly to 0 when ``gan.lr_decay: linear`` (after the first ``gan.lr_decay_start``
share of the steps); an exponential moving average of G's weights (``gan.ema``) makes the
samples. An epoch is ``ceil(N / train.batch_size)`` generator steps; after each, one
``metrics.jsonl`` row: the losses, D(real), D(fake) and, every few epochs and at the end, the
mode metrics of 2,500 samples (:mod:`torchdoctor.gan.modes`).

A doctor is optional and duck-typed: any object with ``step_d(loss_d, real_scores=,
fake_scores=, real=, fake=)`` (called after D's backward, before its step), ``step_g(loss_g,
fake_scores=)`` (after G's backward), ``observe(**metrics)`` (each epoch). A doctor that
raises is reported once and detached: the training goes on.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from torchdoctor import rundir
from torchdoctor.gan.data import GanData, load_gan_data
from torchdoctor.gan.losses import d_loss, g_loss, label_targets, r1_penalty, scores_as_probability
from torchdoctor.gan.modes import SAMPLES, DigitClassifier, digit_stats, mixture, mode_stats
from torchdoctor.gan.nets import build_discriminator, build_generator
from torchdoctor.optim import make_optimizer

__all__ = ["SAMPLES_FILE", "SNAPSHOTS", "GanResult", "GanTrainer"]

#: The run directory's generated samples: ``x`` (2,500 samples of the final G, data units),
#: ``snapshots`` (S, n, *shape) and ``snapshot_epochs`` (S,) for the report, ``real`` (n, *shape).
SAMPLES_FILE = "samples.npz"
#: Snapshots of the generated samples kept over the epochs for the report.
SNAPSHOTS = 6
_SNAPSHOT_SIZE = {"tabular": 500, "image": 16}
#: Mode metrics are computed on about this many epochs (and always on the last one).
EVALUATIONS = 10
#: Coverage compares this many real samples (a fixed subset) with as many generated ones.
COVERAGE_SAMPLES = 1000


@dataclass
class GanResult:
    """What :meth:`GanTrainer.fit` returns: final metrics, history, the run directory."""

    metrics: dict[str, Any]
    history: list[dict[str, Any]]
    run_dir: Path | None
    epochs_run: int
    samples: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _optimizer(name: str, params: Any, lr: float, betas: tuple[float, float]) -> torch.optim.Optimizer:
    """``gan.optimizer_g``/``optimizer_d`` by the pharmacy's factory (``betas`` for Adam only)."""
    return make_optimizer(name, params, lr, **({"betas": betas} if name == "adam" else {}))


class GanTrainer:
    """Train the GAN a config describes (``train.task: gan``).

    Args:
        cfg: the validated :class:`~torchdoctor.train.config.Config`.
        out_dir: run directory (config.yaml, metrics.jsonl, samples.npz, checkpoint.pt); None
            keeps everything in memory.
        doctor: optional object with ``step_d``, ``step_g``, ``observe`` (see the module doc).
        data: prepared :class:`GanData` (default: loaded from ``cfg.data.name``).

    Attributes:
        G, D: the generator and the discriminator (an ``nn.ModuleList`` when
            ``gan.num_discriminators`` > 1; :attr:`discriminators` lists them).
        opt_g, opt_d: their optimizers.
    """

    def __init__(self, cfg: Any, *, out_dir: str | Path | None = None, doctor: Any = None,
                 data: GanData | None = None) -> None:
        if cfg.train.task != "gan":
            raise ValueError(f"train.task = {cfg.train.task}: the GAN trainer needs task gan")
        self.cfg = cfg
        g = cfg.gan
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.doctor = doctor
        torch.manual_seed(cfg.seed)
        self.data = data if data is not None else load_gan_data(cfg.data.name, cfg.seed,
                                                                 scale_inputs=g.scale_inputs)
        shape = self.data.shape
        image = len(shape) == 3
        for side, net in (("generator", g.generator), ("discriminator", g.discriminator)):
            if net.norm == "instance" and not image:
                raise ValueError(f"gan.{side}.norm = instance: needs image data (digits); "
                                 "allowed for vectors: none, batch, layer")
        self.G = build_generator(g.generator, g.latent_dim, shape, tanh=g.scale_inputs,
                                 noise=g.g_noise,
                                 spectral_norm=g.spectral_norm in ("generator", "both"))
        self.discriminators = [
            build_discriminator(g.discriminator, shape, g.pack,
                                spectral_norm=g.spectral_norm in ("discriminator", "both"))
            for _ in range(g.num_discriminators)]
        self.D: nn.Module = (self.discriminators[0] if len(self.discriminators) == 1
                             else nn.ModuleList(self.discriminators))
        self.G_ema = copy.deepcopy(self.G).eval() if g.ema > 0 else self.G
        for p in self.G_ema.parameters() if g.ema > 0 else ():
            p.requires_grad_(False)
        betas = (float(g.betas[0]), float(g.betas[1]))
        self.opt_g = _optimizer(g.optimizer_g, self.G.parameters(), g.lr_g, betas)
        self.opt_d = _optimizer(g.optimizer_d, self.D.parameters(), g.lr_d, betas)
        n = len(self.data.x)
        self.batch = min(cfg.train.batch_size, n)
        self.steps_per_epoch = max(1, math.ceil(n / self.batch))
        self.total_steps = self.steps_per_epoch * cfg.train.epochs
        if self.batch < 2 and "batch" in (g.generator.norm, g.discriminator.norm):
            raise ValueError(f"train.batch_size = {cfg.train.batch_size}: BatchNorm in the GAN "
                             "needs at least 2 samples per batch; choose a larger batch or norm layer")
        self.history: list[dict[str, Any]] = []
        self.epoch = 0
        self.step = 0
        self.should_stop = False
        self._gen = torch.Generator().manual_seed(cfg.seed + 1)  # labels and indices
        self._classifier: DigitClassifier | None = None
        self._real_subset: np.ndarray | None = None
        self._snapshots: list[np.ndarray] = []
        self._snapshot_epochs: list[int] = []
        self._eval_every = max(1, cfg.train.epochs // EVALUATIONS)
        self._snap_at = sorted({min(cfg.train.epochs, max(1, round(cfg.train.epochs * (i + 1) / SNAPSHOTS)))
                                for i in range(SNAPSHOTS)})
        self.doctor_error: str | None = None

    # ------------------------------------------------------------------ doctor
    def _call_doctor(self, method: str, *args: Any, **kw: Any) -> None:
        """Call the doctor; an exception inside it is reported once and the doctor detached."""
        if self.doctor is None:
            return
        fn = getattr(self.doctor, method, None)
        if fn is None:
            return
        try:
            fn(*args, **kw)
        except Exception as exc:  # noqa: BLE001 - the doctor never crashes a user's training
            self.doctor_error = f"{type(exc).__name__}: {exc}"
            warnings.warn(f"torchdoctor: the GAN doctor failed and was detached ({self.doctor_error}); "
                          "training goes on", RuntimeWarning, stacklevel=2)
            self.doctor = None

    # ------------------------------------------------------------------ sampling
    def latent(self, n: int) -> Tensor:
        """``n`` latent vectors (n, latent_dim) from the configured distribution."""
        g = self.cfg.gan
        if g.latent == "uniform":
            return torch.rand(n, g.latent_dim) * 2 - 1
        return torch.randn(n, g.latent_dim)

    @torch.no_grad()
    def sample(self, n: int = SAMPLES, *, seed: int | None = None) -> np.ndarray:
        """``n`` samples of the (averaged) generator in the data's own units, (n, *shape)."""
        if seed is not None:
            state = torch.get_rng_state()
            torch.manual_seed(seed)
        was = self.G_ema.training
        self.G_ema.eval()
        try:
            x = self.G_ema(self.latent(n))
        finally:
            self.G_ema.train(was)
            if seed is not None:
                torch.set_rng_state(state)
        return self.data.unscale(x)

    def evaluate(self, samples: np.ndarray) -> dict[str, Any]:
        """Mode metrics of ``samples`` (data units): mixtures by PacGAN's definitions, labelled
        data by a classifier of the real samples; plus ``coverage`` (Naeem et al. 2020) of a
        fixed subset of 1,000 real samples by the first 1,000 generated ones."""
        from torchdoctor.gan.metrics import coverage

        d = self.data
        mix = mixture(d.name)
        out: dict[str, Any]
        if mix is not None:
            out = mode_stats(samples, mix.centres, mix.sigma)
        elif d.y is not None:
            if self._classifier is None:
                self._classifier = DigitClassifier(d.raw, d.y, seed=self.cfg.seed)
            out = digit_stats(samples, self._classifier)
        else:
            out = {}
        if self._real_subset is None:
            rng = np.random.default_rng(self.cfg.seed)
            k = min(COVERAGE_SAMPLES, len(d.raw))
            self._real_subset = d.raw[rng.choice(len(d.raw), size=k, replace=False)]
        out["coverage"] = coverage(self._real_subset, samples[:COVERAGE_SAMPLES])
        return out

    # ------------------------------------------------------------------ steps
    def _noise_std(self) -> float:
        g = self.cfg.gan
        return g.instance_noise * max(0.0, 1.0 - self.step / max(1, self.total_steps))

    def _packs(self, x: Tensor) -> Tensor:
        return x.reshape(self.batch, self.cfg.gan.pack, *self.data.shape)

    def _scores(self, disc: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
        sigma = self._noise_std()
        if sigma > 0:
            real = real + sigma * torch.randn_like(real)
            fake = fake + sigma * torch.randn_like(fake)
        if self.cfg.gan.separate_batches:
            return disc(real), disc(fake)
        s = disc(torch.cat([real, fake]))
        return s[: len(real)], s[len(real):]

    def _d_step(self) -> tuple[float, Tensor, Tensor]:
        g = self.cfg.gan
        m = self.batch * g.pack
        idx = torch.randint(0, len(self.data.x), (m,), generator=self._gen)
        real = self._packs(self.data.x[idx])
        with torch.no_grad():
            fake = self._packs(self.G(self.latent(m)))
        total = torch.zeros(())
        s_r = s_f = torch.zeros(0)
        for disc in self.discriminators:
            s_r, s_f = self._scores(disc, real, fake)
            t_r = t_f = None
            if g.loss in ("minimax", "non_saturating", "least_squares"):
                t_r, t_f = label_targets(self.batch, real=g.soft_labels, noise=g.noisy_labels,
                                         flip=g.label_flip, generator=self._gen)
            loss = d_loss(g.loss, s_r, s_f, t_r, t_f)
            if g.gradient_penalty == "wgan_gp" and g.gp_weight > 0:
                from torchdoctor.losses import gradient_penalty

                loss = loss + gradient_penalty(disc, real, fake, lambda_gp=g.gp_weight)
            elif g.gradient_penalty == "r1" and g.gp_weight > 0:
                loss = loss + r1_penalty(disc, real, g.gp_weight)
            total = total + loss
        total = total / len(self.discriminators)
        self.opt_d.zero_grad(set_to_none=True)
        total.backward()
        shape = self.data.shape  # the doctor compares samples, not packs: (B * pack, *shape)
        self._call_doctor("step_d", total.detach(), real_scores=s_r.detach(),
                          fake_scores=s_f.detach(), real=real.reshape(-1, *shape),
                          fake=fake.detach().reshape(-1, *shape))
        self.opt_d.step()
        return float(total.detach()), s_r.detach(), s_f.detach()

    def _g_step(self) -> tuple[float, Tensor]:
        g = self.cfg.gan
        fake = self._packs(self.G(self.latent(self.batch * g.pack)))
        sigma = self._noise_std()
        if sigma > 0:
            fake = fake + sigma * torch.randn_like(fake)
        scores = [disc(fake) for disc in self.discriminators]
        loss = torch.stack([g_loss(g.loss, s) for s in scores]).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self._call_doctor("step_g", loss.detach(), fake_scores=scores[0].detach())
        self.opt_g.step()
        if g.ema > 0:
            with torch.no_grad():
                for pe, p in zip(self.G_ema.parameters(), self.G.parameters(), strict=True):
                    pe.lerp_(p, 1 - g.ema)
                for be, b in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
                    be.copy_(b)
        return float(loss.detach()), scores[0].detach()

    def _set_rates(self) -> None:
        g = self.cfg.gan
        f = 1.0
        if g.lr_decay == "linear":  # constant for the first lr_decay_start share, then to 0
            f = min(1.0, (1.0 - self.step / self.total_steps) / (1.0 - g.lr_decay_start))
        for opt, lr in ((self.opt_g, g.lr_g), (self.opt_d, g.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr * f

    # ------------------------------------------------------------------ loop
    def _run_epoch(self) -> dict[str, Any]:
        g = self.cfg.gan
        t0 = time.perf_counter()
        sums = dict.fromkeys(("loss_d", "loss_g", "d_real", "d_fake"), 0.0)
        self.G.train()
        for disc in self.discriminators:
            disc.train()
        for _ in range(self.steps_per_epoch):
            self._set_rates()
            for _ in range(g.d_steps):
                ld, s_r, s_f = self._d_step()
            lg, _ = self._g_step()
            sums["loss_d"] += ld
            sums["loss_g"] += lg
            sums["d_real"] += float(scores_as_probability(g.loss, s_r).mean())
            sums["d_fake"] += float(scores_as_probability(g.loss, s_f).mean())
            self.step += 1
        row: dict[str, Any] = {"epoch": self.epoch, "step": self.step,
                               **{k: v / self.steps_per_epoch for k, v in sums.items()}}
        last = self.epoch + 1 == self.cfg.train.epochs
        if last or (self.epoch + 1) % self._eval_every == 0:
            stats = self.evaluate(self.sample(SAMPLES, seed=self.cfg.seed + 7919 * (self.epoch + 1)))
            row.update({k: v for k, v in stats.items() if k != "counts"})
        if self.epoch + 1 in self._snap_at:
            self._snapshots.append(self.sample(_SNAPSHOT_SIZE[self.data.kind], seed=self.cfg.seed))
            self._snapshot_epochs.append(self.epoch + 1)
        row["time_s"] = time.perf_counter() - t0
        return row

    def fit(self) -> GanResult:
        """Train to ``train.epochs``; write the run directory when :attr:`out_dir` is set."""
        log = None
        if self.out_dir is not None:
            d = rundir.prepare_dir(self.out_dir)
            from torchdoctor.train.config import dump_config

            dump_config(self.cfg, d / rundir.CONFIG_FILE)
            log = rundir.JsonlLog(d / rundir.METRICS_FILE, fsync=True)
        try:
            while self.epoch < self.cfg.train.epochs and not self.should_stop:
                row = self._run_epoch()
                self.history.append(row)
                self.epoch += 1
                if log is not None:
                    log.write(row)
                self._call_doctor("observe", **{k: v for k, v in row.items() if k != "time_s"})
        finally:
            if log is not None:
                log.close()
        samples = self.sample(SAMPLES, seed=self.cfg.seed)
        if self.out_dir is not None:
            self.save(self.out_dir, samples)
        final = {k: v for k, v in (self.history[-1] if self.history else {}).items() if k != "time_s"}
        return GanResult(final, self.history, self.out_dir, self.epoch, samples)

    def save(self, out_dir: str | Path, samples: np.ndarray) -> None:
        """Write samples.npz (``x``, ``snapshots``, ``snapshot_epochs``, ``real``) and
        checkpoint.pt (G, its average, D, optimizers) into ``out_dir``."""
        d = Path(out_dir)
        k = _SNAPSHOT_SIZE[self.data.kind]
        rng = np.random.default_rng(self.cfg.seed)
        real = self.data.raw[rng.choice(len(self.data.raw), size=min(k, len(self.data.raw)), replace=False)]
        snaps = (np.stack(self._snapshots) if self._snapshots
                 else np.zeros((0, k, *self.data.shape), np.float32))

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                np.savez(fh, x=samples, snapshots=snaps,
                         snapshot_epochs=np.asarray(self._snapshot_epochs, np.int64), real=real)

        rundir.atomic_write(d / SAMPLES_FILE, write)
        rundir.save_checkpoint(d / rundir.CHECKPOINT_FILE, {
            "version": 1, "task": "gan", "epoch": self.epoch, "step": self.step,
            "generator": self.G.state_dict(), "generator_ema": self.G_ema.state_dict(),
            "discriminator": self.D.state_dict(), "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(), "history": rundir.jsonable(self.history)})
