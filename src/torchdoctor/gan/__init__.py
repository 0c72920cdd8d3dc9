"""GAN clinic: sample metrics (:mod:`torchdoctor.gan.metrics`)."""
