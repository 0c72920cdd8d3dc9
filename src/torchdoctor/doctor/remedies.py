"""Remedies for the doctor's findings, fitted to the user's own optimizer.

The cures themselves (one description and snippet per remedy code) and which cures each
symptom gets live in the symptom catalogue (:mod:`torchdoctor.catalogue`). This module fills
them into findings and rewrites the learning-rate cures with what the Doctor sees in the
optimizer it was given: "Lower the learning rate of your SGD from 0.5 to about 0.05". It never
speaks torchdoctor's config: config patches are added on the repair side.

Live treatment (``Doctor(treat=True)``) only applies cures marked safe in :data:`LIVE`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from torchdoctor.catalogue import SPECS, remedies_for, remedy
from torchdoctor.findings import Finding

__all__ = ["LIVE", "attach_remedies", "fit_rate_remedies", "optimizer_label", "optimizer_name",
           "remedies_for"]

#: Codes with a safe live treatment in ``Doctor(treat=True)`` and what it does.
LIVE: dict[str, str] = {code: s.live for code, s in SPECS.items() if s.live}


def attach_remedies(findings: list[Finding]) -> list[Finding]:
    """Fill in ``remedies`` of findings that have none; returns ``findings``."""
    for f in findings:
        if not f.remedies:
            f.remedies = remedies_for(f.code)
    return findings


def optimizer_name(optimizer: Any) -> str | None:
    """The optimizer family of a ``torch.optim`` optimizer as a key of
    :data:`torchdoctor.optim.USUAL_LR` (``"sgdm"`` for SGD with momentum), or None for an
    optimizer without a usual rate."""
    from torchdoctor.optim import LARS

    kind = type(optimizer).__name__
    if isinstance(optimizer, LARS):
        return "lars"
    if kind == "SGD":
        return "sgdm" if optimizer.param_groups[0].get("momentum", 0) else "sgd"
    return {"Adam": "adam", "AdamW": "adamw", "RMSprop": "rmsprop", "Adagrad": "adagrad",
            "Adadelta": "adadelta"}.get(kind)


def optimizer_label(optimizer: Any) -> str:
    """How to name ``optimizer`` to its user: ``"SGD"``, ``"SGD with momentum 0.9"``,
    ``"Adam"``."""
    kind = type(optimizer).__name__
    momentum = optimizer.param_groups[0].get("momentum", 0) if kind == "SGD" else 0
    return f"{kind} with momentum {momentum:g}" if momentum else kind


_RATE_CODES = {"lower_lr_to_usual": min, "raise_lr_to_usual": max}


def fit_rate_remedies(findings: list[Finding], optimizer: Any) -> list[Finding]:
    """Fit the "to the usual rate" remedies to ``optimizer`` (in place); returns ``findings``.

    A remedy that would not move the rate (already at or below / above the usual one for this
    optimizer family) is dropped; one that would is rewritten with the optimizer's name, its
    current rate and the target. Without an optimizer, or for one without a usual rate, every
    remedy is kept as it is.
    """
    from torchdoctor.optim import USUAL_LR

    name = optimizer_name(optimizer) if optimizer is not None else None
    if name is None or not optimizer.param_groups:
        return findings
    lr, usual = float(optimizer.param_groups[0]["lr"]), USUAL_LR[name]
    label = optimizer_label(optimizer)
    for f in findings:
        kept = []
        for r in f.remedies:
            pick = _RATE_CODES.get(r.code)
            if pick is None:
                kept.append(r)
                continue
            target = pick(lr, usual)
            if target == lr:
                continue
            fitted = remedy(r.code, of_optimizer=f" of your {label}", usual=f"{target:.3g}",
                            target=f"from {lr:.3g} to about {target:.3g}, its usual starting rate",
                            comment="")
            kept.append(dataclasses.replace(r, description=fitted.description,
                                            snippet=fitted.snippet))
        f.remedies = kept
    return findings
