"""Specs of the GAN symptoms: codes of the public contract whose rules are still to come."""

from torchdoctor.catalogue._spec import symptom

__all__: list[str] = []  # registers specs on import

symptom(
    "gan_discriminator_wins", "discriminator loss -> 0; the generator gets no signal",
    "Reserved: the discriminator's loss falls towards 0 and stays there.",
    remedies=("non_saturating_loss", "spectral_norm", "instance_noise", "soft_labels",
              "fewer_d_steps"), role="symptom", rank=500, producer="reserved")
symptom(
    "gan_mode_collapse", "generated samples cover few modes of the data",
    "Reserved: generated samples fall into few of the data's modes.",
    remedies=("pack_samples", "gradient_penalty", "spectral_norm"), role="outcome", rank=510, producer="reserved")
symptom(
    "gan_discriminator_ineffective",
    "the generator's loss falls steadily while D no longer tells real from fake",
    "Reserved: the generator's loss falls steadily while the discriminator's accuracy on real "
    "versus fake stays near chance.",
    remedies=("more_d_steps", "two_timescale_rates"), role="symptom", rank=520, producer="reserved")
