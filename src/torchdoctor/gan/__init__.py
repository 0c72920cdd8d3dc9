"""GAN clinic: the GAN doctor, the GAN trainer, its mode metrics and sample metrics.

- :class:`GanDoctor`: a doctor for two-network GAN loops in any user's code (docs/gan-doctor.md).
- :mod:`torchdoctor.gan.ablation`: the vanilla GAN and each trick alone, as config overrides.
- :mod:`torchdoctor.gan.metrics`: coverage, density, precision/recall, diversity.
- :mod:`torchdoctor.gan.modes`: PacGAN's mode metrics (modes captured, high-quality share,
  KL from uniform) and the digit classes generated.
- :class:`GanTrainer` (``train.task: gan``), :func:`train_gan` and :func:`diagnose_gan`: the
  config-driven GAN training (docs/gan.md).
"""

from torchdoctor.gan import ablation, metrics
from torchdoctor.gan._doctor import GAN_CODES, GanDoctor
from torchdoctor.gan.modes import (
    MIXTURES,
    DigitClassifier,
    digit_stats,
    kl_from_uniform,
    mixture,
    mode_stats,
)
from torchdoctor.gan.outcome import outcome_findings
from torchdoctor.gan.run import diagnose_gan, train_gan
from torchdoctor.gan.trainer import SAMPLES_FILE, GanResult, GanTrainer

__all__ = [
    "GAN_CODES", "MIXTURES", "SAMPLES_FILE", "DigitClassifier", "GanDoctor", "GanResult",
    "GanTrainer", "ablation", "diagnose_gan", "digit_stats", "kl_from_uniform", "metrics", "mixture",
    "mode_stats", "outcome_findings", "train_gan",
]
