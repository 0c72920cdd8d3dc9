"""The thresholds every symptom rule and the data checkup compare against, with their sources.

One frozen :class:`Thresholds` object holds them all; the rules receive it as an argument, so
two Doctors (or a Doctor and the checkup) can run with different values. Each field documents
its meaning and its source (a paper, a tool's default, or "own choice" with the reason); the
symptom catalogue ``docs/symptoms.md`` is generated from these descriptions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Thresholds", "threshold_doc", "thresholds_from"]


def _t(value: float, doc: str, source: str) -> Any:
    """A threshold field: default ``value``, one-sentence meaning ``doc``, ``source``."""
    return field(default=value, metadata={"doc": doc, "source": source})


_AUTOTRAINER = ("Zhang et al., ICSE 2021, AUTOTRAINER (default parameters of "
                "utils/monitor.py)")


@dataclass(frozen=True)
class Thresholds:
    """Every threshold of the symptom rules and the data checkup (one source per field).

    Build one with overrides: ``Thresholds(dead_fraction=0.7)`` or
    ``thresholds_from({"dead_fraction": 0.7})``; pass it to ``Doctor(thresholds=...)``.
    """

    # -- learning progress, shared by several rules ------------------------------------------
    theta: float = _t(
        0.7, "Training accuracy below which learning counts as failing (satisfied accuracy); "
        "also the underfitting threshold.", f"AUTOTRAINER Theta = 0.7; {_AUTOTRAINER}")
    min_progress: float = _t(
        0.10, "Relative loss drop (first 10 % of steps vs last 20 %) below which learning "
        "counts as failing.", "own choice: 10 % of the first loss")
    # -- gradients ---------------------------------------------------------------------------
    explode_ratio: float = _t(
        70.0, "First-layer / last-layer gradient norm above which gradients explode.",
        f"AUTOTRAINER beta_3 = 70 (gradient_issue); {_AUTOTRAINER}")
    explode_growth: float = _t(
        100.0, "Growth of the global gradient norm over the median of its first three "
        "measurements that counts as explosion.",
        "own choice: two orders of magnitude; healthy gallery runs stay below 10x")
    explode_abs: float = _t(
        1e3, "Global gradient norm above which gradients are far too large.",
        "own choice: healthy gallery runs stay below 10; exploding ones reach 1e3-1e18")
    vanish_ratio: float = _t(
        1e-3, "First-layer / last-layer gradient norm below which gradients vanish.",
        f"AUTOTRAINER beta_1 = 1e-3; {_AUTOTRAINER}")
    vanish_abs: float = _t(
        1e-4, "First-layer gradient norm below which gradients vanish (with vanish_ratio).",
        f"AUTOTRAINER beta_2 = 1e-4; {_AUTOTRAINER}")
    stale_fraction: float = _t(
        0.5, "Share of checked steps whose .grad was already non-zero when backward began, "
        "above which zero_grad is missing.", "own choice: a majority of the checked steps")
    # -- activations and layers --------------------------------------------------------------
    dead_fraction: float = _t(
        0.5, "Share of a ReLU layer's units that never fire, above which the layer is dead.",
        "SageMaker Debugger DeadRelu rule, default threshold_layer = 50 %")
    saturated_fraction: float = _t(
        0.5, "Share of a sigmoid/tanh layer's outputs in the flat tails above which it is "
        "saturated.", "SageMaker Debugger SaturatedActivation rule, default threshold_layer = 50 %")
    collapse_ratio: float = _t(
        100.0, "Ratio of activation std between a deep nonlinearity and the first one beyond "
        "which the scale collapsed (< 1/x) or blew up (> x).",
        "own choice: two orders of magnitude; variance-preserving init keeps it near 1 "
        "(Glorot & Bengio 2010; He et al. 2015)")
    symmetry_spread: float = _t(
        1e-4, "Relative spread of a weight matrix's rows below which its units are identical.",
        "own choice: random init gives ~1, constant init exactly 0")
    bn_min_batch: float = _t(
        8, "Median batch size seen by BatchNorm below which its statistics are unstable.",
        "Wu & He 2018, Group Normalization: BatchNorm's error rises sharply below 8 per batch")
    width_per_output: float = _t(
        4, "Units per output a widened bottleneck layer gets (rounded up to a power of two, "
        "at least 16).", "own choice; a layer narrower than the outputs caps the rank of the "
        "logits (Yang et al. 2018, softmax bottleneck)")
    # -- inputs, outputs, losses, labels -----------------------------------------------------
    input_scale_high: float = _t(
        10.0, "Input scale above which inputs are not normalized: RMS of the inputs (doctor), "
        "a feature's std (checkup).", "own choice: standardized inputs have RMS 1, 8-bit "
        "pixels ~100 (LeCun et al. 1998, Efficient BackProp: inputs near zero mean, unit scale)")
    input_scale_low: float = _t(
        1e-2, "Input scale below which inputs are vanishingly small: RMS of the inputs "
        "(doctor), a feature's std (checkup).", "own choice (LeCun et al. 1998, Efficient "
        "BackProp)")
    input_mean_max: float = _t(
        1.0, "|Feature mean| above which a feature is not centred (checkup).",
        "LeCun et al. 1998, Efficient BackProp, section 4.3: inputs should average to ~0")
    feature_scale_spread: float = _t(
        10.0, "Largest / smallest std across non-constant features above which features are "
        "on very different scales (checkup).", "own choice (LeCun et al. 1998, Efficient "
        "BackProp: equal covariances)")
    input_huge: float = _t(
        1e3, "|x| above which unnormalized inputs are an error rather than a warning "
        "(checkup): saturating scales.", "own choice")
    constant_tol: float = _t(
        1e-8, "A feature with std <= constant_tol x (1 + |mean|) is constant (checkup).",
        "definition, with float64 rounding room")
    negative_loss: float = _t(
        -1e-3, "A loss below this is impossible for cross-entropy, MSE, or NLL on "
        "log-probabilities: the outputs fed to NLL are not log-probabilities.", "own rule")
    loss_match_rtol: float = _t(
        1e-4, "Relative tolerance for 'the recorded loss equals this candidate loss'.",
        "own choice: float32 recomputation agrees to ~1e-6")
    imbalance_ratio: float = _t(
        10.0, "Largest / smallest class count at or above which classes are imbalanced "
        "(doctor and checkup).", "SageMaker Debugger ClassImbalance rule, default "
        "threshold_imbalance = 10; He & Garcia 2009 call 1:10 strong imbalance")
    shuffle_ratio: float = _t(
        0.5, "Mean classes per batch / classes expected from random batches below which "
        "batches follow the dataset order.", "own choice: sorted data gives ~0.15, shuffled ~1")
    leak_error_share: float = _t(
        0.05, "Share of validation rows duplicated in training from which leakage is an error "
        "(checkup).", "own choice (Kaufman et al. 2012, Leakage in data mining)")
    # -- the loop: optimizer step, loss shapes, output range ---------------------------------
    no_update_min_steps: float = _t(
        20, "Training steps before 'the optimizer never steps' or 'the weights never change' "
        "is claimed.", "own choice: past any warm-up step at rate 0 and more than one "
        "accumulation cycle of the usual 2-16 micro-batches")
    no_update_share: float = _t(
        0.8, "Share of the checked optimizer steps that must show an update of exactly 0 "
        "(or no .grad at the step) for no_update.", "own choice: a clear majority, so one "
        "warm-up step at rate 0 or a skipped step does not count")
    range_shortfall: float = _t(
        0.25, "Share of the regression targets' span beyond what the output layer can produce "
        "above which the output activation cannot fit the targets.", "own choice: far beyond "
        "noise; a sigmoid on targets in [0, 10] misses 90 %")
    saturation_gap: float = _t(
        0.01, "Distance of the outputs' extreme to the bound of [0, 1] or [-1, 1] that counts "
        "as pressed against it when no bounded last layer is visible.", "own choice: the "
        "sigmoid's slope there is below 1 % of its maximum")
    normalized_dev: float = _t(
        1e-3, "Mean |logsumexp| (or |sum - 1|) along a dimension below which the outputs are "
        "normalized along it.", "own choice: float32 log_softmax gives ~1e-7, raw logits > 0.1")
    unnormalized_dev: float = _t(
        0.05, "... and above which they are not normalized along the class dimension.",
        "own choice: log-probabilities that do not sum to 1 by more than 5 %")
    # -- loss curve and fit ------------------------------------------------------------------
    plateau_drop: float = _t(
        0.05, "Relative loss change over at least 50 steps below which the loss is on a "
        "plateau.", "own choice; AUTOTRAINER's slow-convergence rule uses an accuracy gain "
        "below 1 %")
    oscillation_rise: float = _t(
        0.5, "Sum of the rises of the windowed loss, relative to its net fall, above which it "
        "oscillates.", "own choice; AUTOTRAINER unstable_loss counts accuracy swings >= 0.03")
    swing_size: float = _t(
        0.05, "Mean rise of the windowed loss, relative to its level, below which swings are "
        "noise.", "own choice: a stuck loss wobbles by < 1 %, a too-high rate swings by > 20 %")
    val_rise: float = _t(
        0.2, "Rise of the validation loss over its minimum that counts as overfitting.",
        "own choice, with AUTOTRAINER's test_turn_bad pattern (train falls, test rises)")
    gap_threshold: float = _t(
        0.1, "Train - validation accuracy gap that counts as overfitting.",
        "AUTOTRAINER test_not_well: 0.1 below 90 % training accuracy (0.07 above; we keep 0.1)")
    val_acc_drop: float = _t(
        0.05, "Fall of the validation accuracy below its best in the last two epochs, while "
        "training accuracy rose, that counts as overfitting.",
        "own choice, with AUTOTRAINER's test_turn_bad on accuracy")

    # -- GAN loops (torchdoctor.GanDoctor) -----------------------------------------------------
    gan_separation_high: float = _t(
        0.99, "Batch AUC of the discriminator (share of (real, fake) pairs whose real score is "
        "higher) at or above which it separates real from fake almost perfectly.",
        "own choice: a discriminator that wins scores every real sample above every fake one "
        "(AUC 1); healthy development loops of examples/gan_loops end at 0.53-0.91")
    gan_grad_fall: float = _t(
        0.1, "Generator gradient norm (recent median) over its peak below which the "
        "generator's gradient vanished.", "own choice: one order of magnitude (Arjovsky & "
        "Bottou 2017: the saturating loss's gradient vanishes as the discriminator becomes "
        "perfect); healthy development loops of examples/gan_loops end at 0.37-0.83")
    gan_d_loss_zero: float = _t(
        0.05, "Discriminator loss (recent median) at or below which a never-negative loss "
        "(BCE, least squares, hinge) has reached zero: D wins.", "own choice, set before any "
        "gallery run: the sum of D's two BCE terms at 0.05 means D gives the right side about "
        "97.5 % probability on average; healthy BCE discriminators hover near 2 log 2 = 1.39 "
        "(Goodfellow et al. 2014)")
    gan_separation_low: float = _t(
        0.75, "Batch AUC of the discriminator at or below which it no longer tells real from "
        "fake (with a steadily falling generator loss).", "own choice: chance is 0.5; an "
        "ineffective development loop of examples/gan_loops ends at 0.70")
    gan_fall_share: float = _t(
        0.7, "Share of window-to-window falls of the generator's loss (10 windows) at or above "
        "which it falls steadily.", "own choice: a random walk falls half the time; healthy "
        "development loops of examples/gan_loops fall in 0.33-0.56, an ineffective one 0.89")
    gan_far_distance: float = _t(
        0.6, "Median distance of generated samples to their nearest real sample, over the mean "
        "distance between two real samples, above which the samples are far from the data.",
        "own choice: healthy development loops of examples/gan_loops end at 0.08-0.45")
    gan_recall_min: float = _t(
        0.5, "Recall of the real samples by the generated ones (Kynkäänniemi et al. 2019, k = 3) "
        "below which the samples cover too small a part of the data.",
        "own choice: collapse to a quarter of the modes gives about 0.25, to one point 0; "
        "healthy development loops of examples/gan_loops end at 0.47-0.84")
    gan_diversity_min: float = _t(
        0.5, "Mean distance between generated samples over that between real samples below "
        "which the generated samples are too alike.", "own choice: collapsed development "
        "loops of examples/gan_loops give 0-0.02, healthy ones 0.69-0.99")
    gan_separation_held: float = _t(
        0.97, "Batch AUC of the discriminator, over both the first and the last third of its "
        "steps, at or above which it has separated real from fake since the start (with "
        "samples that never reached the data: the discriminator wins).", "own choice: "
        "development loops of examples/gan_loops whose discriminator wins from the start hold "
        "0.985-0.994; healthy ones end at 0.51-0.93 (first third up to 1.0)")
    gan_weights_still: float = _t(
        1e-6, "Relative change of the discriminator's weights per step (||delta theta|| / "
        "||theta||, between sampled steps) at or below which it does not learn.", "own choice: "
        "Adam moves each weight by about its learning rate per step; healthy development loops "
        "of examples/gan_loops move 7.7e-4-2.9e-3 per step, the slowest learning "
        "discriminator 8.5e-5, a discriminator never stepped 0")
    gan_weights_lag: float = _t(
        0.1, "Relative weight change of the discriminator per generator step over the "
        "generator's, at or below which the generator outruns a discriminator that hardly "
        "learns (when D also separates at most gan_separation_low).", "own choice: healthy "
        "development loops of examples/gan_loops give 0.7-4.4 (several D steps per G step "
        "count), a discriminator updated once every 20 generator steps 0.02-0.04")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
                raise ValueError(f"threshold {f.name} must be a real number, got {value!r}")

    def replace(self, **overrides: float) -> Thresholds:
        """A copy with ``overrides`` (unknown names raise ``ValueError`` listing valid ones)."""
        return thresholds_from(overrides, base=self)


def threshold_doc(name: str) -> tuple[str, str]:
    """``(meaning, source)`` of the threshold field ``name``.

    Raises:
        ValueError: ``name`` is not a field of :class:`Thresholds`.
    """
    fields = {f.name: f for f in dataclasses.fields(Thresholds)}
    if name not in fields:
        raise ValueError(f"threshold must be one of {sorted(fields)}, got {name!r}")
    return fields[name].metadata["doc"], fields[name].metadata["source"]


def thresholds_from(value: Thresholds | Mapping[str, float] | None, *,
                    base: Thresholds | None = None) -> Thresholds:
    """A :class:`Thresholds` from ``None`` (defaults), a ``Thresholds``, or a dict of field
    overrides applied to ``base`` (defaults when ``None``).

    Raises:
        ValueError: an unknown field name (the message lists the valid ones), a non-numeric
            value, or a value of another type.
    """
    start = base if base is not None else Thresholds()
    if value is None:
        return start
    if isinstance(value, Thresholds):
        return value
    if not isinstance(value, Mapping):
        raise ValueError(f"thresholds must be a Thresholds, a dict of overrides or None, "
                         f"got {type(value).__name__}")
    names = [f.name for f in dataclasses.fields(Thresholds)]
    unknown = sorted(k for k in value if k not in names)
    if unknown:
        raise ValueError(f"thresholds must name fields of Thresholds ({', '.join(sorted(names))}), "
                         f"got {', '.join(map(repr, unknown))}")
    return dataclasses.replace(start, **dict(value))
