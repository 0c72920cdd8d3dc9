"""Specs of the GAN symptoms, produced by the rules of ``torchdoctor.doctor.symptoms`` on the
series a :class:`~torchdoctor.GanDoctor` records (``docs/gan-doctor.md``)."""

from torchdoctor.catalogue._spec import symptom

__all__: list[str] = []  # registers specs on import

symptom(
    "gan_discriminator_wins", "discriminator loss -> 0; the generator gets no signal",
    "The discriminator's batch AUC (share of real/fake pairs it orders correctly, for logits "
    "and critic values alike) stays at or above gan_separation_high over the last third of its "
    "steps, and either the generator's gradient norm fell below gan_grad_fall of its peak or "
    "D's loss, when it is never negative (BCE, least squares, hinge), is down to "
    "gan_d_loss_zero: its scores saturate and the generator learns nothing "
    "(Goodfellow et al. 2014; Arjovsky & Bottou 2017). A discriminator that wins from the "
    "start leaves no gradient peak to fall from: its AUC at or above gan_separation_held over "
    "both the first and the last third of its steps, with generated samples whose recall of "
    "the real ones never reached gan_recall_min, is named too.",
    remedies=("non_saturating_loss", "spectral_norm", "instance_noise", "soft_labels",
              "fewer_d_steps"), role="symptom", rank=500,
    thresholds=("gan_separation_high", "gan_grad_fall", "gan_d_loss_zero",
                "gan_separation_held", "gan_recall_min"))
symptom(
    "gan_mode_collapse", "generated samples cover few modes of the data",
    "On sampled steps, the recall of a reservoir of real samples by the generated batch "
    "(Kynkäänniemi et al. 2019, k-nearest-neighbour balls of the generated samples) stays below "
    "gan_recall_min over the last third of the samples, and the generated samples are less "
    "diverse than the real ones (mean pairwise distance ratio below gan_diversity_min): they "
    "cover a small part of the data. Coverage (Naeem et al. 2020) is "
    "given as evidence.",
    remedies=("pack_samples", "gradient_penalty", "spectral_norm"), role="outcome", rank=510,
    thresholds=("gan_recall_min", "gan_diversity_min"))
symptom(
    "gan_discriminator_ineffective",
    "the generator's loss falls steadily while D no longer tells real from fake",
    "The generator's loss falls from window to window (at least gan_fall_share of 10 windows) "
    "while the discriminator's batch AUC stays at or below gan_separation_low over the last "
    "third of its steps, and the generated samples stay far from the data (median distance to "
    "the nearest real sample above gan_far_distance of the real samples' mean distance, or a "
    "recall of the real samples below gan_recall_min): the generator fools a discriminator "
    "that no longer learns. Also named when the discriminator's weights hardly move (relative "
    "change per step at or below gan_weights_still over the last third of sampled steps) while "
    "it does not win (AUC below gan_separation_high) and the generator's weights move: "
    "opt_d.step() forgotten, an optimizer built on other parameters, a learning rate typo, "
    "requires_grad left off; or when, per generator step, its weights move at most "
    "gan_weights_lag as much as the generator's while its AUC is at most gan_separation_low.",
    remedies=("more_d_steps", "two_timescale_rates"), role="symptom",
    rank=520,
    thresholds=("gan_separation_low", "gan_fall_share", "gan_far_distance", "gan_recall_min",
                "gan_weights_still", "gan_weights_lag", "gan_separation_high"))
