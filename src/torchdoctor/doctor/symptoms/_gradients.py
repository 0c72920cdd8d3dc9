"""Gradient rules: nonfinite, exploding_gradient, vanishing_gradient, missing_zero_grad."""

from __future__ import annotations

import math
from typing import Any

from torchdoctor.catalogue import Thresholds
from torchdoctor.doctor.symptoms._registry import DEFAULT, finding, gate, median, recent, rule
from torchdoctor.doctor.vitals import Vitals, finite
from torchdoctor.findings import Finding

__all__: list[str] = []


def _nonfinite(x: Any) -> bool:
    return isinstance(x, str) or (isinstance(x, float) and not math.isfinite(x))


@rule("nonfinite")
def nonfinite(v: Vitals, t: Thresholds = DEFAULT) -> list[Finding]:
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
def exploding_gradient(v: Vitals, t: Thresholds = DEFAULT) -> list[Finding]:
    """Early layers get far larger gradients than the last (ratio > ``explode_ratio``),
    the global gradient norm exceeds ``explode_abs``, or it grows more than
    ``explode_growth`` x over the median of its first three values.

    An error when learning also fails (AUTOTRAINER's gate), else ``info``.
    """
    out: list[Finding] = []
    ratios = _ratios(v)
    big = [(s, q) for s, q, _ in ratios if q > t.explode_ratio]
    gn = [(int(r["step"]), r["grad_norm"]) for r in v.records if finite(r.get("grad_norm"))]
    growth = peak = peak_step = None
    if len(gn) >= 2:
        base = median([g for _, g in gn[:3]])
        peak_step, peak = max(gn, key=lambda t: t[1])
        if base and base > 0:
            growth = peak / base
    names = _param_layers(v)
    sev = gate(v, t=t)
    if big:
        s0 = big[0][0]
        out.append(finding(
            "exploding_gradient", sev,
            f"Gradients of the first layer are up to {max(q for _, q in big):.3g}x those of the "
            f"last (threshold {t.explode_ratio:g}) on {len(big)} sampled steps.",
            layer=names[0], step=s0, max_ratio=max(q for _, q in big), steps=len(big),
            threshold=t.explode_ratio, source="AUTOTRAINER beta_3"))
    elif peak is not None and (peak > t.explode_abs or (growth is not None and growth > t.explode_growth)):
        out.append(finding(
            "exploding_gradient", sev,
            f"The gradient norm reached {peak:.3g} at step {peak_step}, {growth or float('nan'):.3g}x "
            f"its first values (thresholds {t.explode_abs:g} and {t.explode_growth:g}x).",
            step=peak_step, growth=growth, peak=peak, threshold_abs=t.explode_abs,
            threshold_growth=t.explode_growth, source="own"))
    return out


@rule("vanishing_gradient")
def vanishing_gradient(v: Vitals, t: Thresholds = DEFAULT) -> list[Finding]:
    """The first layer's gradient is < ``vanish_ratio`` of the last layer's and below
    ``vanish_abs`` in norm (AUTOTRAINER), on most recent sampled steps. An exactly zero
    gradient is left to ``dead_relu`` (units that never fire pass no gradient at all).

    An error when learning also fails, else ``info``.
    """
    ratios = _ratios(v)
    if len(ratios) < 3:
        return []
    last = recent(ratios)
    hits = [(s, q, g) for s, q, g in last if 0 < g and q < t.vanish_ratio and g < t.vanish_abs]
    if len(hits) * 2 <= len(last):
        return []
    q = median([h[1] for h in hits])
    g = median([h[2] for h in hits])
    return [finding(
        "vanishing_gradient", gate(v, t=t),
        f"The first layer receives {q:.2g}x the gradient of the last (norm {g:.2g}); "
        f"thresholds {t.vanish_ratio:g} and {t.vanish_abs:g}.",
        layer=_param_layers(v)[0], step=hits[0][0], ratio=q, first_layer_norm=g,
        threshold_ratio=t.vanish_ratio, threshold_norm=t.vanish_abs, source="AUTOTRAINER beta_1, beta_2")]


@rule("missing_zero_grad")
def missing_zero_grad(v: Vitals, t: Thresholds = DEFAULT) -> list[Finding]:
    """``.grad`` already holds a non-zero gradient when backward begins right after an
    optimizer step, on more than ``stale_fraction`` of such steps (at least 3)."""
    checks = [(int(r["step"]), r["prev_grad_norm"]) for r in v.records
              if finite(r.get("prev_grad_norm"))]
    stale = [(s, g) for s, g in checks if g > 0]
    if len(stale) < 3 or len(stale) <= t.stale_fraction * len(checks):
        return []
    return [finding(
        "missing_zero_grad", "error",
        f"On {len(stale)} of {len(checks)} checked steps the gradient from the previous step was "
        "still in .grad when backward began: gradients accumulate (zero_grad is missing).",
        step=stale[0][0], stale_steps=len(stale), checked=len(checks),
        threshold=t.stale_fraction, source="own")]
