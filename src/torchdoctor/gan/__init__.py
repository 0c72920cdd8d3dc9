"""GAN clinic: the GAN trainer, its mode metrics and sample metrics.

- :mod:`torchdoctor.gan.metrics`: coverage, density, precision/recall, diversity.
- :mod:`torchdoctor.gan.modes`: PacGAN's mode metrics (modes captured, high-quality share,
  KL from uniform) and the digit classes generated.
- :class:`GanTrainer` (``train.task: gan``), :func:`train_gan` and :func:`diagnose_gan`: the
  config-driven GAN training (docs/gan.md).
"""

# -- the GAN trainer and its metrics (keep these lines together) ---------------------------
from torchdoctor.gan.modes import (  # noqa: F401 - public names
    MIXTURES,
    DigitClassifier,
    digit_stats,
    kl_from_uniform,
    mixture,
    mode_stats,
)
from torchdoctor.gan.outcome import outcome_findings  # noqa: F401
from torchdoctor.gan.run import diagnose_gan, train_gan  # noqa: F401
from torchdoctor.gan.trainer import SAMPLES_FILE, GanResult, GanTrainer  # noqa: F401
# -------------------------------------------------------------------------------------------
