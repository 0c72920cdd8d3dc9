"""The GAN clinic's ablation: each stabilization trick removed in turn, mode coverage measured.

Needs the GAN trainer (:mod:`torchdoctor.gan.trainer`). In a build without it the experiment
reports the verdict ``not available`` and says so; it never fails.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from torchdoctor.lab._experiment import Context, Experiment, Outcome

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


def _ablation(ctx: Context, trainer: ModuleType) -> Outcome:
    # STUB (to be wired to torchdoctor.gan.trainer when the GAN clinic is merged): train the
    # ring-of-8 GAN with every trick, then with each trick removed (spectral norm, the
    # non-saturating loss, two time-scale rates, instance noise), measure mode coverage with
    # torchdoctor.gan.metrics over ctx.seeds seeds, draw the samples and a coverage bar chart
    # with ctx.figure, and compute the verdict from Checks (coverage drops without a trick).
    del ctx, trainer
    return not_available("the GAN clinic is installed but its ablation is not wired in this "
                         "build of the lab")


def _measure(ctx: Context) -> Outcome:
    trainer = gan_trainer()
    if trainer is None:
        return not_available("the GAN clinic (torchdoctor.gan.trainer) is not installed in this "
                             "build: nothing measured")
    return _ablation(ctx, trainer)


EXPERIMENT = Experiment(
    name="gan_tricks",
    claim="Each of the GAN clinic's stabilization tricks (spectral normalization, the "
          "non-saturating loss, two time-scale learning rates, instance noise) helps a small "
          "GAN cover the modes of its data; removing one loses modes.",
    reference="Miyato, Kataoka, Koyama & Yoshida 2018, Spectral Normalization for GANs, ICLR "
              "(Table 2); Goodfellow et al. 2014, Generative Adversarial Nets, NeurIPS (the "
              "non-saturating loss); Heusel et al. 2017, GANs trained by a two time-scale "
              "update rule, NeurIPS; Sønderby et al. 2017, Amortised MAP inference for image "
              "super-resolution, ICLR (instance noise)",
    setup="A small MLP GAN on the 8-Gaussian ring, trained with all tricks and with each "
          "removed in turn; mode coverage and sample quality by torchdoctor.gan.metrics.",
    measure=_measure,
    default_seeds=2,
    order=16,
)
