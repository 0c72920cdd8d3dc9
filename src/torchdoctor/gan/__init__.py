"""GAN clinic: :class:`GanDoctor` (a doctor for two-network GAN loops, ``docs/gan-doctor.md``)
and sample metrics (:mod:`torchdoctor.gan.metrics`)."""

from torchdoctor.gan import metrics
from torchdoctor.gan._doctor import GAN_CODES, GanDoctor

__all__ = ["GAN_CODES", "GanDoctor", "metrics"]
