"""The GAN clinic's ablation: the vanilla GAN, each trick alone on it, the recommended set.

Needs the GAN trainer (:mod:`torchdoctor.gan.trainer`). In a build without it the experiment
reports the verdict ``not available`` and says so; it never fails.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from torchdoctor.data import load_raw
from torchdoctor.lab._experiment import Check, Context, Experiment, Outcome, finite_mean
from torchdoctor.report.charts import figure

#: The module and the name the ablation drives (the GAN clinic's documented entry point).
TRAINER_MODULE, TRAINER_NAME = "torchdoctor.gan.trainer", "GanTrainer"


def gan_trainer() -> ModuleType | None:
    """The GAN trainer module when this build has it (with ``GanTrainer``), else ``None``."""
    try:
        module = importlib.import_module(TRAINER_MODULE)
    except ImportError:
        return None
    return module if hasattr(module, TRAINER_NAME) else None


def not_available(why: str) -> Outcome:
    """The outcome of a build that cannot run the ablation: no checks, verdict not available."""
    return Outcome([], why, [], verdict="not available",
                   notes="Install a build of torchdoctor with the GAN clinic (torchdoctor.gan."
                         "trainer) to run this experiment.")


#: The tricks tried alone in the full run (of :data:`torchdoctor.gan.ablation.TRICKS`).
TRICKS_TRIED = ("non-saturating loss", "PacGAN pack 4", "TTUR (lr_d = 4 lr_g)", "R1 penalty",
                "instance noise 0.1")


def _train(trainer: ModuleType, overrides: list[str], seed: int, epochs: int) -> tuple[dict, object]:
    """One ring8 GAN training: (final metrics, 2,500 samples (2500, 2) in data units)."""
    from torchdoctor.train.config import load_config

    cfg = load_config(None, ["train.task=gan", "data.name=ring8", f"seed={seed}",
                             f"train.epochs={epochs}", "train.batch_size=128", *overrides])
    t = getattr(trainer, TRAINER_NAME)(cfg)
    result = t.fit()
    return result.metrics, result.samples


def _ablation(ctx: Context, trainer: ModuleType) -> Outcome:
    from torchdoctor.gan.ablation import TRICKS, VANILLA  # the GAN clinic, present (checked)

    epochs = 15 if ctx.quick else 60
    tried = () if ctx.quick else TRICKS_TRIED  # quick: the vanilla GAN against the recommended set
    variants = {"vanilla GAN": [*VANILLA], **{f"vanilla + {k}": [*VANILLA, *TRICKS[k]] for k in tried},
                "recommended set (gan: defaults)": []}
    rows, samples = [], {}
    for name, overrides in variants.items():
        modes, hq = [], []
        for seed in range(ctx.seeds):
            m, x = _train(trainer, overrides, seed, epochs)
            modes.append(float(m["modes"]))
            hq.append(float(m["high_quality"]))
            samples.setdefault(name, x)
            ctx.progress(f"{name}, seed {seed}")
        rows.append({"variant": name, "modes": finite_mean(modes), "of": 8,
                     "high_quality": finite_mean(hq), "epochs": epochs})
    by = {r["variant"]: r for r in rows}
    van, rec = by["vanilla GAN"], by["recommended set (gan: defaults)"]
    alone = [r for r in rows if r["variant"].startswith("vanilla + ")]
    helped = [r for r in alone if r["modes"] > van["modes"]]

    fig, axes = figure(ncols=3, width=10.5, height=3.2)
    axes[0].barh([r["variant"].replace("vanilla + ", "+ ") for r in rows],
                 [r["modes"] for r in rows], color="#0072B2")
    axes[0].set_xlim(0, 8)
    axes[0].set_xlabel("modes captured (of 8)")
    axes[0].invert_yaxis()
    real = load_raw("ring8", seed=0).x
    for ax, name in zip(axes[1:], ("vanilla GAN", "recommended set (gan: defaults)"), strict=True):
        x = samples.get(name)
        ax.scatter(real[:, 0], real[:, 1], s=2, color="#999999", label="real")
        if x is not None:
            ax.scatter(x[:1000, 0], x[:1000, 1], s=2, color="#D55E00", label="generated")
        ax.set_title(name, fontsize=9)
        ax.set_aspect("equal")
    axes[1].legend(loc="upper right", markerscale=4)
    ctx.figure(fig, "modes", f"Modes captured per variant ({epochs} epochs) and the samples of "
                             "the vanilla GAN and the recommended set (seed 0)")
    checks = [Check("the recommended set captures more modes than the vanilla GAN",
                    rec["modes"] > van["modes"], f"{rec['modes']:.1f} vs {van['modes']:.1f} of 8")]
    if alone:
        checks.append(Check(
            "most tricks alone capture more modes than the vanilla GAN",
            len(helped) > len(alone) / 2, f"{len(helped)} of {len(alone)}: "
            + ", ".join(f"{r['variant'][10:]} {r['modes']:.1f}" for r in alone)))
    summary = (f"ring8, {epochs} epochs, {ctx.seeds} seed(s): vanilla {van['modes']:.1f}/8 modes "
               f"({van['high_quality']:.0%} high quality), recommended {rec['modes']:.1f}/8 "
               f"({rec['high_quality']:.0%})"
               + (f"; {len(helped)} of {len(alone)} tricks alone add modes" if alone else ""))
    notes = ("A short budget (the clinic's benchmark trains 250 epochs: benchmarks/bench_gan.py "
             "and docs/gan.md); a vanilla GAN that has not collapsed yet leaves the tricks "
             "little to add, which is then what the verdict says.")
    return Outcome(checks, summary, rows, notes=notes)


def _measure(ctx: Context) -> Outcome:
    trainer = gan_trainer()
    if trainer is None:
        return not_available("the GAN clinic (torchdoctor.gan.trainer) is not installed in this "
                             "build: nothing measured")
    return _ablation(ctx, trainer)


EXPERIMENT = Experiment(
    name="gan_tricks",
    claim="The GAN stabilization tricks (the non-saturating loss, packing, two time-scale "
          "learning rates, a gradient penalty, instance noise) each help a small GAN cover the "
          "modes of its data, and together they cover all of them.",
    reference="Lin, Khetan, Fanti & Oh 2018, PacGAN, NeurIPS (Table 1); Mescheder, Geiger & "
              "Nowozin 2018, Which training methods for GANs do actually converge?, ICML (R1); "
              "Goodfellow et al. 2014, Generative Adversarial Nets, NeurIPS (the "
              "non-saturating loss); Heusel et al. 2017, GANs trained by a two time-scale "
              "update rule, NeurIPS; Sønderby et al. 2017, Amortised MAP inference for image "
              "super-resolution, ICLR (instance noise)",
    setup="An MLP GAN on the 8-Gaussian ring (sigma 0.01), batch 128: the vanilla GAN "
          "(minimax loss, one rate 1e-3 for both networks), the vanilla GAN with each trick "
          "alone, and the recommended set (the gan: defaults); modes captured and high-quality "
          "share by PacGAN's definitions (torchdoctor.gan.modes), mean over seeds.",
    measure=_measure,
    default_seeds=2,
    order=16,
)
