"""Rules on what flows in and out: unnormalized_input, wrong_output_activation, wrong_loss,
class_imbalance, unshuffled_data."""

from __future__ import annotations

import math
from typing import Any

from torchdoctor.catalogue import Thresholds, remedies_for
from torchdoctor.doctor.symptoms._registry import DEFAULT, finding, median, rule
from torchdoctor.doctor.vitals import Vitals, finite
from torchdoctor.findings import Finding

__all__: list[str] = []



def _io_records(v: Vitals, key: str) -> list[dict[str, Any]]:
    return [r for r in v.records if r.get(key)]


@rule("unnormalized_input")
def unnormalized_input(v: Vitals, t: Thresholds = DEFAULT) -> list[Finding]:
    """Inputs far from zero-mean unit scale: RMS > ``input_scale_high`` or <
    ``input_scale_low`` (median over sampled steps; LeCun et al. 1998, Efficient BackProp)."""
    recs = _io_records(v, "inputs")
    if not recs:
        return []
    mean = median([r["inputs"].get("mean") for r in recs])
    std = median([r["inputs"].get("std") for r in recs])
    absmax = median([r["inputs"].get("absmax") for r in recs])
    if mean is None or std is None:
        return []
    rms = math.sqrt(mean * mean + std * std)
    if t.input_scale_low <= rms <= t.input_scale_high:
        return []
    what = "large" if rms > t.input_scale_high else "tiny"
    f = finding(
        "unnormalized_input", "warning",
        f"Inputs are {what}: mean {mean:.3g}, std {std:.3g}, max |x| {absmax:.3g} (RMS {rms:.3g}; "
        f"expected {t.input_scale_low:g}..{t.input_scale_high:g}).",
        step=int(recs[0]["step"]), mean=mean, std=std, absmax=absmax, rms=rms,
        threshold_high=t.input_scale_high, threshold_low=t.input_scale_low,
        source="own; LeCun et al. 1998 (Efficient BackProp)")
    # the batch statistics cannot tell 8-bit pixels apart: scale_pixels is the checkup's pick
    f.remedies = [r for r in remedies_for("unnormalized_input") if r.code != "scale_pixels"]
    return [f]


def _matches(loss: Any, cand: Any, t: Thresholds) -> bool:
    return finite(loss) and finite(cand) and abs(loss - cand) <= t.loss_match_rtol * max(1.0, abs(loss)) + 1e-6


def _loss_used(v: Vitals, t: Thresholds) -> tuple[str | None, int, int]:
    """Which candidate loss the recorded loss equals on most sampled steps: (name, hits, n)."""
    recs = [r for r in v.records if r.get("losses") and finite(r.get("loss"))]
    if not recs:
        return None, 0, 0
    counts: dict[str, int] = {}
    for r in recs:
        for name, val in r["losses"].items():
            if _matches(r["loss"], val, t):
                counts[name] = counts.get(name, 0) + 1
    if not counts:
        return None, 0, len(recs)
    name = max(counts, key=counts.__getitem__)
    return (name if counts[name] * 2 > len(recs) else None), counts[name], len(recs)


def _outputs(v: Vitals) -> dict[str, float | None]:
    recs = _io_records(v, "outputs")
    return {k: median([r["outputs"].get(k) for r in recs])
            for k in ("min", "max", "rowsum_dev", "logsumexp_dev")}


def _is_prob(o: dict[str, float | None]) -> bool:
    return (o["min"] is not None and o["max"] is not None and o["min"] >= -1e-6
            and o["max"] <= 1 + 1e-6)


@rule("wrong_output_activation")
def wrong_output_activation(v: Vitals, t: Thresholds = DEFAULT) -> list[Finding]:
    """Outputs already squashed, fed to a loss that applies its own (log-)softmax/sigmoid:
    probabilities (rows in [0, 1] summing to 1) into ``cross_entropy``, probabilities into
    ``nll_loss`` (which expects log-probabilities), sigmoid outputs into
    ``binary_cross_entropy_with_logits``. The loss is recognized by recomputing the usual
    losses on sampled steps."""
    used, hits, n = _loss_used(v, t)
    name = v.loop.get("loss_name")
    o = _outputs(v)
    if o["min"] is None:
        return []
    probs = _is_prob(o) and o["rowsum_dev"] is not None and o["rowsum_dev"] < 1e-3
    step = next((int(r["step"]) for r in v.records if r.get("outputs")), None)
    ev = dict(loss_matched=used, matched_steps=hits, sampled_steps=n, loss_fn=name,
              output_min=o["min"], output_max=o["max"], rowsum_dev=o["rowsum_dev"],
              source="own: the loss applies its own (log-)softmax/sigmoid (PyTorch documentation)")
    if probs and (used == "ce" or (used is None and name == "CrossEntropyLoss")):
        msg = ("Outputs are probabilities (rows sum to 1) but the loss is cross-entropy, which "
               "applies its own log-softmax: remove the softmax layer.")
        return [finding("wrong_output_activation", "error", msg, step=step, **ev)]
    if probs and (used == "nll" or (used is None and name == "NLLLoss")):
        msg = ("Outputs are probabilities but the loss is NLLLoss, which expects "
               "log-probabilities: use log_softmax (or CrossEntropyLoss on logits).")
        return [finding("wrong_output_activation", "error", msg, step=step, **ev)]
    neg = [float(r["loss"]) for r in v.records if finite(r.get("loss")) and r["loss"] < t.negative_loss]
    if neg and (used == "nll" or name == "NLLLoss" or len(neg) * 2 > len(v.records)):
        msg = (f"The loss is negative (down to {min(neg):.3g}): a negative log-likelihood fed with "
               "outputs that are not log-probabilities (raw logits into NLLLoss) can fall without "
               "bound. End the model with log_softmax, or use cross-entropy on logits.")
        ev.update(negative_loss_steps=len(neg), min_loss=min(neg), threshold=t.negative_loss)
        return [finding("wrong_output_activation", "error", msg, step=step, **ev)]
    if _is_prob(o) and (used == "bce_logits" or (used is None and name == "BCEWithLogitsLoss")):
        msg = ("Outputs lie in [0, 1] but the loss is BCEWithLogits, which applies its own "
               "sigmoid: remove the sigmoid layer.")
        return [finding("wrong_output_activation", "error", msg, step=step, **ev)]
    if not _is_prob(o) and o["min"] >= 0 and used == "ce":
        msg = ("All logits are non-negative (a ReLU on the output layer?): cross-entropy needs "
               "unrestricted logits.")
        return [finding("wrong_output_activation", "warning", msg, step=step, **ev)]
    return []


@rule("wrong_loss")
def wrong_loss(v: Vitals, t: Thresholds = DEFAULT) -> list[Finding]:
    """A regression loss on class targets: MSE (or ``MSELoss``/``L1Loss``) on one-hot or
    class-index targets, BCE on multi-class one-hot targets, or cross-entropy (softmax) on
    multi-hot targets."""
    used, hits, n = _loss_used(v, t)
    name = v.loop.get("loss_name")
    trecs = [r["targets"] for r in v.records if r.get("targets")]
    if not trecs:
        return []
    kinds = [tr.get("kind") for tr in trecs]
    onehot = [tr for tr in trecs if tr.get("kind") == "float2d" and tr.get("min") == 0
              and tr.get("max") == 1 and finite(tr.get("rowsum_dev")) and tr["rowsum_dev"] < 1e-6
              and tr.get("nonbinary") == 0]
    is_onehot = len(onehot) * 2 > len(trecs)
    is_class = kinds.count("class") * 2 > len(kinds)
    step = next((int(r["step"]) for r in v.records if r.get("targets")), None)
    ev = dict(loss_matched=used, matched_steps=hits, sampled_steps=n, loss_fn=name,
              targets="one-hot" if is_onehot else ("class indices" if is_class else "other"),
              source="own: cross-entropy, not MSE, for classification (Golik et al. 2013)")
    regression = used == "mse" or name in ("MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss")
    if (is_onehot or is_class) and regression:
        return [finding(
            "wrong_loss", "warning",
            "A regression loss (MSE) is trained on class labels: use cross-entropy on logits.",
            step=step, **ev)]
    if is_onehot and (used in ("bce", "bce_logits") or name in ("BCELoss", "BCEWithLogitsLoss")):
        return [finding(
            "wrong_loss", "warning",
            "Binary cross-entropy on one-hot multi-class targets: use cross-entropy (softmax).",
            step=step, **ev)]
    from torchdoctor.doctor.symptoms._io_shapes import task_kind

    if task_kind(v) == "multilabel" and (used == "ce" or name == "CrossEntropyLoss"):
        ev["targets"] = "multi-hot"
        f = finding(
            "wrong_loss", "warning",
            "Cross-entropy (one softmax over the labels) on multi-hot targets: the labels compete "
            "for one probability mass. Use BCEWithLogitsLoss (one sigmoid per label).",
            step=step, **ev)
        f.remedies = remedies_for("wrong_loss")[-1:]
        return [f]
    return []


def _hists(v: Vitals) -> list[list[int]]:
    return [tr["hist"] for tr in (r.get("targets") or {} for r in v.records)
            if isinstance(tr, dict) and tr.get("hist")]


@rule("class_imbalance")
def class_imbalance(v: Vitals, t: Thresholds = DEFAULT) -> list[Finding]:
    """Largest / smallest class count in the sampled training batches >=
    ``imbalance_ratio`` (at least 200 labels seen)."""
    hists = _hists(v)
    if not hists:
        return []
    total = [sum(col) for col in zip(*hists, strict=False)]
    n = sum(total)
    if n < 200:
        return []
    present = [c for c in total if c > 0]
    counts = total if n >= 50 * len(total) else present
    if len(present) < 2:
        return []
    lo, hi = min(counts), max(counts)
    ratio = hi / lo if lo > 0 else float("inf")
    if ratio < t.imbalance_ratio:
        return []
    return [finding(
        "class_imbalance", "warning",
        f"Classes are imbalanced: largest/smallest count {ratio:.3g} in {n} sampled labels "
        f"(threshold {t.imbalance_ratio:g}).",
        ratio=ratio, counts=total, labels_seen=n, threshold=t.imbalance_ratio,
        source="SageMaker Debugger ClassImbalance threshold_imbalance")]


@rule("unshuffled_data")
def unshuffled_data(v: Vitals, t: Thresholds = DEFAULT) -> list[Finding]:
    """Batches hold far fewer classes than random batches would (mean distinct classes per
    batch / expected under shuffling < ``shuffle_ratio``, at least 5 batches, 3 classes)."""
    hists = _hists(v)
    if len(hists) < 5:
        return []
    total = [sum(col) for col in zip(*hists, strict=False)]
    n = sum(total)
    if sum(1 for c in total if c > 0) < 3:
        return []
    p = [c / n for c in total]
    observed, expected = [], []
    for h in hists:
        b = sum(h)
        if b < 2:
            continue
        observed.append(sum(1 for c in h if c > 0))
        expected.append(sum(1 - (1 - pc) ** b for pc in p))
    if len(observed) < 5 or sum(expected) <= 0:
        return []
    ratio = sum(observed) / sum(expected)
    if ratio >= t.shuffle_ratio:
        return []
    return [finding(
        "unshuffled_data", "warning",
        f"Training batches hold {sum(observed) / len(observed):.2g} classes on average where "
        f"shuffled batches would hold {sum(expected) / len(expected):.2g}: the data is not shuffled.",
        ratio=ratio, batches=len(observed), threshold=t.shuffle_ratio, source="own")]
