"""Rules on learning progress and the loop: loss_plateau, loss_oscillating, overfitting,
underfitting, train_mode_in_eval."""

from __future__ import annotations

from torchdoctor.catalogue import Thresholds
from torchdoctor.doctor.symptoms._registry import (
    DEFAULT,
    epoch_values,
    finding,
    loss_drop,
    losses,
    rule,
)
from torchdoctor.doctor.vitals import Vitals
from torchdoctor.findings import Finding

__all__: list[str] = []


@rule("loss_plateau")
def loss_plateau(v: Vitals, t: Thresholds = DEFAULT) -> list[Finding]:
    """The loss barely moved: it changed by less than ``plateau_drop`` of its first value
    (either way) over at least 50 recorded steps."""
    ls = losses(v)
    drop = loss_drop(v, min_points=50)
    if drop is None or not -t.plateau_drop < drop < t.plateau_drop:
        return []
    return [finding(
        "loss_plateau", "warning",
        f"The loss changed by only {drop:.1%} over {len(ls)} steps (threshold {t.plateau_drop:.0%}): "
        "training is stuck.",
        step=ls[0][0], relative_drop=drop, steps=len(ls), first_loss=ls[0][1], last_loss=ls[-1][1],
        threshold=t.plateau_drop, source="own")]


def _windowed(values: list[float], windows: int = 20) -> list[float]:
    w = max(3, len(values) // windows)
    return [sum(values[i:i + w]) / len(values[i:i + w]) for i in range(0, len(values) - w + 1, w)]


@rule("loss_oscillating")
def loss_oscillating(v: Vitals, t: Thresholds = DEFAULT) -> list[Finding]:
    """The windowed loss keeps rising and falling: the summed rises exceed
    ``oscillation_rise`` of its net fall from the first window to its minimum, with at
    least 3 rises, each on average >= ``swing_size`` of the loss level (needs 60 steps)."""
    ls = [x for _, x in losses(v)]
    if len(ls) < 60:
        return []
    m = _windowed(ls)
    rises = [b - a for a, b in zip(m, m[1:], strict=False) if b > a]
    fall = m[0] - min(m)
    total_rise = sum(rises)
    level = sum(m) / len(m)
    if len(rises) < 3 or total_rise <= t.oscillation_rise * max(fall, 1e-12):
        return []
    if total_rise / len(rises) < t.swing_size * abs(level):
        return []
    return [finding(
        "loss_oscillating", "warning",
        f"The loss swings: its windowed mean rose {len(rises)} times by {total_rise:.3g} in total "
        f"against a net fall of {fall:.3g} (threshold {t.oscillation_rise:g}x).",
        rises=len(rises), total_rise=total_rise, net_fall=fall, windowed=m,
        threshold=t.oscillation_rise, source="own; AUTOTRAINER unstable_loss")]


@rule("overfitting")
def overfitting(v: Vitals, t: Thresholds = DEFAULT) -> list[Finding]:
    """After 3+ epochs: validation loss rose > ``val_rise`` above its minimum while the
    training loss kept falling; or validation accuracy fell >= ``val_acc_drop`` below its
    best in the last two epochs while training accuracy rose (memorising noisy labels: the
    training labels may be noisier than the validation labels, so there is no gap); or
    training accuracy exceeds validation accuracy by >= ``gap_threshold``."""
    if len(v.epochs) < 3:
        return []
    vl, tl = epoch_values(v, "val_loss"), epoch_values(v, "train_loss")
    va, ta = epoch_values(v, "val_accuracy"), epoch_values(v, "train_accuracy")
    if len(vl) >= 3 and len(tl) >= 3:
        best = min(range(len(vl)), key=vl.__getitem__)
        rise = (vl[-1] - vl[best]) / max(abs(vl[best]), 1e-12)
        if best <= len(vl) - 3 and rise > t.val_rise and tl[-1] < tl[min(best, len(tl) - 1)]:
            return [finding(
                "overfitting", "warning",
                f"Validation loss rose {rise:.0%} above its minimum (epoch {best}) while the "
                "training loss kept falling.",
                best_epoch=best, val_loss_min=vl[best], val_loss_last=vl[-1], rise=rise,
                threshold=t.val_rise, source="own; AUTOTRAINER test_turn_bad")]
    if len(va) >= 4 and len(ta) == len(va):
        best = max(range(len(va)), key=va.__getitem__)
        drop = va[best] - max(va[-2:])
        if best <= len(va) - 3 and drop >= t.val_acc_drop and ta[-1] > ta[best]:
            return [finding(
                "overfitting", "warning",
                f"Validation accuracy fell from {va[best]:.1%} (epoch {best}) to {va[-1]:.1%} "
                f"while training accuracy rose from {ta[best]:.1%} to {ta[-1]:.1%}.",
                best_epoch=best, val_accuracy_best=va[best], val_accuracy_last=va[-1],
                drop=drop, threshold=t.val_acc_drop, source="own; AUTOTRAINER test_turn_bad")]
    if va and ta:
        gap = ta[-1] - va[-1]
        if gap >= t.gap_threshold:
            return [finding(
                "overfitting", "warning",
                f"Training accuracy {ta[-1]:.1%} vs validation {va[-1]:.1%}: a gap of {gap:.1%} "
                f"(threshold {t.gap_threshold:.0%}).",
                train_accuracy=ta[-1], val_accuracy=va[-1], gap=gap, threshold=t.gap_threshold,
                source="AUTOTRAINER test_not_well")]
    return []


@rule("underfitting")
def underfitting(v: Vitals, t: Thresholds = DEFAULT) -> list[Finding]:
    """After 3+ epochs the training accuracy stays below ``theta`` (AUTOTRAINER's
    satisfied accuracy) in the last two epochs."""
    ta = epoch_values(v, "train_accuracy")
    if len(ta) < 3 or max(ta[-2:]) >= t.theta:
        return []
    va = epoch_values(v, "val_accuracy")
    return [finding(
        "underfitting", "warning",
        f"Training accuracy is only {ta[-1]:.1%} after {len(ta)} epochs (threshold {t.theta:.0%}): "
        "the model does not fit the training data.",
        train_accuracy=ta[-1], val_accuracy=va[-1] if va else None, epochs=len(ta),
        threshold=t.theta, source="AUTOTRAINER Theta (satisfied accuracy)")]


@rule("train_mode_in_eval")
def train_mode_in_eval(v: Vitals, t: Thresholds = DEFAULT) -> list[Finding]:
    """Forward passes under ``no_grad`` (evaluation) ran with Dropout/BatchNorm in training
    mode: ``model.eval()`` was forgotten."""
    loop = v.loop
    bad, total = int(loop.get("nograd_train_forwards", 0)), int(loop.get("nograd_forwards", 0))
    if bad == 0 or not loop.get("mode_sensitive"):
        return []
    return [finding(
        "train_mode_in_eval", "warning",
        f"{bad} of {total} no_grad forward passes ran with Dropout/BatchNorm in training mode: "
        "call model.eval() before evaluating.",
        nograd_train_forwards=bad, nograd_forwards=total, source="own: Dropout and BatchNorm behave differently in training mode")]
