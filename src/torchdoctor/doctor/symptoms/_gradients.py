"""Gradient rules: nonfinite, exploding_gradient, vanishing_gradient, missing_zero_grad."""

from __future__ import annotations

import math
from typing import Any

from torchdoctor.doctor.symptoms._registry import finding, gate, median, recent, rule
from torchdoctor.doctor.vitals import Vitals, finite
from torchdoctor.findings import Finding

__all__ = ["EXPLODE_ABS", "EXPLODE_GROWTH", "EXPLODE_RATIO", "STALE_FRACTION", "VANISH_ABS", "VANISH_RATIO"]

#: First-layer / last-layer gradient norm above which gradients explode (AUTOTRAINER
#: ``beta_3`` = 70, Zhang et al., ICSE 2021, ``gradient_issue`` in ``utils/monitor.py``).
EXPLODE_RATIO = 70.0
#: Growth of the global gradient norm over its first measurements that counts as explosion
#: (own choice: two orders of magnitude; healthy runs on the gallery stay below 10x).
EXPLODE_GROWTH = 100.0
#: First/last gradient ratio and absolute first-layer norm below which gradients vanish
#: (AUTOTRAINER ``beta_1`` = 1e-3 and ``beta_2`` = 1e-4, same source).
VANISH_RATIO = 1e-3
#: Global gradient norm above which gradients are far too large (own choice: healthy runs of
#: the gallery stay below 10; the exploding examples reach 1e3-1e18 within a few steps).
EXPLODE_ABS = 1e3
VANISH_ABS = 1e-4
#: Share of steps, right after an optimizer step, whose ``.grad`` was already non-zero when
#: backward began, above which ``zero_grad`` is missing (own choice: a majority).
STALE_FRACTION = 0.5


def _nonfinite(x: Any) -> bool:
    return isinstance(x, str) or (isinstance(x, float) and not math.isfinite(x))


@rule("nonfinite")
def nonfinite(v: Vitals) -> list[Finding]:
    """NaN or Inf in the loss, the gradient norms or the parameter norms (always an error)."""
    first: tuple[int, str, str | None] | None = None
    count = 0
    for r in v.records:
        where = None
        if _nonfinite(r.get("loss")):
            where = ("loss", None)
        elif _nonfinite(r.get("grad_norm")):
            bad = [n for n, d in (r.get("layers") or {}).items()
                   if _nonfinite(d.get("grad_norm"))]
            where = ("gradient", bad[0] if bad else None)
        else:
            bad = [n for n, d in (r.get("layers") or {}).items()
                   if _nonfinite(d.get("param_norm"))]
            if bad:
                where = ("parameters", bad[0])
        if where is not None:
            count += 1
            if first is None:
                first = (int(r.get("step", 0)), where[0], where[1])
    if first is None:
        return []
    step, what, layer = first
    return [finding("nonfinite", "error",
                    f"Non-finite {what} from step {step} on ({count} recorded steps affected).",
                    layer=layer, step=step, first_step=step, where=what, steps_affected=count)]


def _param_layers(v: Vitals) -> list[str]:
    return [n for n, i in v.layers.items() if i.role == "param" and
            not i.kind.startswith(("BatchNorm", "LayerNorm", "GroupNorm", "InstanceNorm"))]


def _ratios(v: Vitals) -> list[tuple[int, float, float]]:
    """``(step, first/last gradient norm, first-layer norm)`` on sampled steps."""
    names = _param_layers(v)
    if len(names) < 2:
        return []
    a, b = names[0], names[-1]
    out = []
    for r in v.records:
        layers = r.get("layers") or {}
        ga, gb = (layers.get(a) or {}).get("grad_norm"), (layers.get(b) or {}).get("grad_norm")
        if finite(ga) and finite(gb) and gb > 0:
            out.append((int(r["step"]), ga / gb, ga))
    return out


@rule("exploding_gradient")
def exploding_gradient(v: Vitals) -> list[Finding]:
    """Early layers get far larger gradients than the last (ratio > :data:`EXPLODE_RATIO`),
    the global gradient norm exceeds :data:`EXPLODE_ABS`, or it grows more than
    :data:`EXPLODE_GROWTH` x over the median of its first three values.

    An error when learning also fails (AUTOTRAINER's gate), else ``info``.
    """
    out: list[Finding] = []
    ratios = _ratios(v)
    big = [(s, q) for s, q, _ in ratios if q > EXPLODE_RATIO]
    gn = [(int(r["step"]), r["grad_norm"]) for r in v.records if finite(r.get("grad_norm"))]
    growth = peak = peak_step = None
    if len(gn) >= 2:
        base = median([g for _, g in gn[:3]])
        peak_step, peak = max(gn, key=lambda t: t[1])
        if base and base > 0:
            growth = peak / base
    names = _param_layers(v)
    sev = gate(v)
    if big:
        s0 = big[0][0]
        out.append(finding(
            "exploding_gradient", sev,
            f"Gradients of the first layer are up to {max(q for _, q in big):.3g}x those of the "
            f"last (threshold {EXPLODE_RATIO:g}) on {len(big)} sampled steps.",
            layer=names[0], step=s0, max_ratio=max(q for _, q in big), steps=len(big),
            threshold=EXPLODE_RATIO, source="AUTOTRAINER beta_3"))
    elif peak is not None and (peak > EXPLODE_ABS or (growth is not None and growth > EXPLODE_GROWTH)):
        out.append(finding(
            "exploding_gradient", sev,
            f"The gradient norm reached {peak:.3g} at step {peak_step}, {growth or float('nan'):.3g}x "
            f"its first values (thresholds {EXPLODE_ABS:g} and {EXPLODE_GROWTH:g}x).",
            step=peak_step, growth=growth, peak=peak, threshold_abs=EXPLODE_ABS,
            threshold_growth=EXPLODE_GROWTH, source="own"))
    return out


@rule("vanishing_gradient")
def vanishing_gradient(v: Vitals) -> list[Finding]:
    """The first layer's gradient is < :data:`VANISH_RATIO` of the last layer's and below
    :data:`VANISH_ABS` in norm (AUTOTRAINER), on most recent sampled steps. An exactly zero
    gradient is left to ``dead_relu`` (units that never fire pass no gradient at all).

    An error when learning also fails, else ``info``.
    """
    ratios = _ratios(v)
    if len(ratios) < 3:
        return []
    last = recent(ratios)
    hits = [(s, q, g) for s, q, g in last if 0 < g and q < VANISH_RATIO and g < VANISH_ABS]
    if len(hits) * 2 <= len(last):
        return []
    q = median([h[1] for h in hits])
    g = median([h[2] for h in hits])
    return [finding(
        "vanishing_gradient", gate(v),
        f"The first layer receives {q:.2g}x the gradient of the last (norm {g:.2g}); "
        f"thresholds {VANISH_RATIO:g} and {VANISH_ABS:g}.",
        layer=_param_layers(v)[0], step=hits[0][0], ratio=q, first_layer_norm=g,
        threshold_ratio=VANISH_RATIO, threshold_norm=VANISH_ABS, source="AUTOTRAINER beta_1, beta_2")]


@rule("missing_zero_grad")
def missing_zero_grad(v: Vitals) -> list[Finding]:
    """``.grad`` already holds a non-zero gradient when backward begins right after an
    optimizer step, on more than :data:`STALE_FRACTION` of such steps (at least 3)."""
    checks = [(int(r["step"]), r["prev_grad_norm"]) for r in v.records
              if finite(r.get("prev_grad_norm"))]
    stale = [(s, g) for s, g in checks if g > 0]
    if len(stale) < 3 or len(stale) <= STALE_FRACTION * len(checks):
        return []
    return [finding(
        "missing_zero_grad", "error",
        f"On {len(stale)} of {len(checks)} checked steps the gradient from the previous step was "
        "still in .grad when backward began: gradients accumulate (zero_grad is missing).",
        step=stale[0][0], stale_steps=len(stale), checked=len(checks),
        threshold=STALE_FRACTION, source="own")]
