"""The GAN ablation's variants as config overrides (``--set`` strings): the vanilla GAN and
each stabilization trick alone on top of it. One owner for ``benchmarks/bench_gan.py`` and the
lab's ``gan_tricks`` experiment; the recommended set is the ``gan:`` defaults (no override)."""

from __future__ import annotations

__all__ = ["TRICKS", "VANILLA"]

#: The vanilla GAN: minimax loss (Goodfellow et al. 2014), no packing, one discriminator, one
#: D step per G step, one rate for both networks, constant rates, no averaging of G.
VANILLA: tuple[str, ...] = (
    "gan.loss=minimax", "gan.pack=1", "gan.num_discriminators=1", "gan.d_steps=1",
    "gan.lr_g=0.001", "gan.lr_d=0.001", "gan.lr_decay=none", "gan.ema=0",
)
#: Each trick alone, on top of :data:`VANILLA`: name -> extra overrides.
TRICKS: dict[str, tuple[str, ...]] = {
    "non-saturating loss": ("gan.loss=non_saturating",),
    "PacGAN pack 4": ("gan.pack=4",),
    "TTUR (lr_d = 4 lr_g)": ("gan.lr_d=0.004",),
    "linear rate decay": ("gan.lr_decay=linear", "gan.lr_decay_start=0"),
    "EMA of G (0.99)": ("gan.ema=0.99",),
    "spectral norm in D": ("gan.spectral_norm=discriminator",),
    "R1 penalty": ("gan.gradient_penalty=r1", "gan.gp_weight=0.1"),
    "instance noise 0.1": ("gan.instance_noise=0.1",),
    "soft labels 0.9": ("gan.soft_labels=0.9",),
    "three discriminators": ("gan.num_discriminators=3",),
}
