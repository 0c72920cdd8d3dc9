"""Rules on what the outputs can express and how the loss pairs them with the targets:
output_range_mismatch, loss_shape_mismatch, wrong_softmax_dim.

They read the per-batch interpretation of outputs and targets
(:mod:`torchdoctor.doctor.vitals._outputs`): record keys ``outputs`` (min, max),
``targets`` (min, max of float targets) and ``batch`` (kind, shapes, normalization
deviations, broadcast losses).
"""

from __future__ import annotations

from typing import Any

from torchdoctor.catalogue import Thresholds
from torchdoctor.doctor.symptoms._registry import DEFAULT, finding, gate, median, recent, rule
from torchdoctor.doctor.vitals import Vitals, finite
from torchdoctor.findings import Finding

__all__ = ["task_kind"]

_BOUNDED_LAST = {"Sigmoid": (0.0, 1.0), "Hardsigmoid": (0.0, 1.0), "Softmax": (0.0, 1.0),
                 "Tanh": (-1.0, 1.0), "Hardtanh": (-1.0, 1.0), "Softsign": (-1.0, 1.0),
                 "ReLU": (0.0, float("inf")), "ReLU6": (0.0, 6.0), "Softplus": (0.0, float("inf"))}


def _batch_recs(v: Vitals) -> list[dict[str, Any]]:
    return [r for r in v.records if isinstance(r.get("batch"), dict)]


def task_kind(v: Vitals) -> str | None:
    """The batch kind seen on most sampled steps (``class``, ``dense``, ``binary``,
    ``multilabel``, ``soft``, ``regression``), or ``None`` without outputs and targets."""
    kinds = [r["batch"].get("kind") for r in _batch_recs(v) if r["batch"].get("kind") != "unknown"]
    if not kinds:
        return None
    top = max(set(kinds), key=kinds.count)
    return top if kinds.count(top) * 2 > len(kinds) else None


def _regression(v: Vitals) -> bool:
    return task_kind(v) == "regression"


def _last_layer(v: Vitals) -> tuple[str, str] | None:
    if not v.layers:
        return None
    name, info = list(v.layers.items())[-1]
    return name, info.kind


@rule("output_range_mismatch")
def output_range_mismatch(v: Vitals, t: Thresholds = DEFAULT) -> list[Finding]:
    """Regression targets reach beyond what the output layer can produce by more than
    ``t.range_shortfall`` of their span: a bounded last layer (sigmoid, tanh, ReLU ...) or
    outputs that never leave [0, 1] / [-1, 1] and press against the bound (within
    ``t.saturation_gap``). A bounded last module counts only when the outputs obey its
    bound (it may be registered last and applied earlier). A regression
    needs no last activation."""
    if not _regression(v):
        return []
    recs = [r for r in v.records if r.get("outputs") and r.get("targets")
            and finite(r["outputs"].get("min")) and finite(r["targets"].get("max"))]
    if len(recs) < 3:
        return []
    o_lo = min(r["outputs"]["min"] for r in recs)
    o_hi = max(r["outputs"]["max"] for r in recs)
    t_lo, t_hi = median([r["targets"].get("min") for r in recs]), median([r["targets"].get("max") for r in recs])
    if t_lo is None or t_hi is None or t_hi <= t_lo:
        return []
    last = _last_layer(v)
    bound, why = None, ""
    tol = 1e-3 * max(1.0, abs(o_lo), abs(o_hi))
    if last is not None and last[1] in _BOUNDED_LAST and _BOUNDED_LAST[last[1]][0] - tol <= o_lo \
            and o_hi <= _BOUNDED_LAST[last[1]][1] + tol:  # the outputs obey it: it is the last op
        bound, why = _BOUNDED_LAST[last[1]], f"the last layer {last[0]} ({last[1]})"
    else:
        late_hi = max(r["outputs"]["max"] for r in recent(recs))
        late_lo = min(r["outputs"]["min"] for r in recent(recs))
        for lo, hi in ((0.0, 1.0), (-1.0, 1.0)):
            if o_lo >= lo and o_hi <= hi and (hi - late_hi < t.saturation_gap or late_lo - lo < t.saturation_gap):
                bound, why = (lo, hi), "the outputs (squashed by the model, pressed against the bound)"
                break
    if bound is None:
        return []
    span = t_hi - t_lo
    overlap = max(0.0, min(t_hi, bound[1]) - max(t_lo, bound[0]))
    short = 1.0 - overlap / span  # share of the target span out of reach, in [0, 1]
    if short <= t.range_shortfall:
        return []
    lo_s, hi_s = (f"{b:g}" for b in bound)
    msg = (f"Targets run from {t_lo:.3g} to {t_hi:.3g} but {why} can only produce values in "
           f"[{lo_s}, {hi_s}]: {short:.0%} of the target span is out of reach. Remove the "
           "output activation (regression needs none) or rescale the targets into its range.")
    return [finding("output_range_mismatch", gate(v, "warning", t), msg,
                layer=last[0] if last is not None and last[1] in _BOUNDED_LAST else None,
                step=int(recs[0]["step"]), target_min=t_lo, target_max=t_hi, output_min=o_lo,
                output_max=o_hi, bound=list(bound), shortfall=short,
                threshold=t.range_shortfall, source="own choice")]


def _close(a: Any, b: Any, rtol: float) -> bool:
    return finite(a) and finite(b) and abs(a - b) <= rtol * max(1.0, abs(a)) + 1e-6


@rule("loss_shape_mismatch")
def loss_shape_mismatch(v: Vitals, t: Thresholds = DEFAULT) -> list[Finding]:
    """Outputs and targets of different shapes (same number of elements, e.g. ``(N, 1)`` and
    ``(N,)``) whose loss equals the broadcast MSE or L1 over an ``N x N`` grid, on most
    sampled steps (at least 2): every prediction is compared with every target."""
    recs = [r for r in _batch_recs(v) if finite(r["batch"].get("mse_bcast")) and finite(r.get("loss"))]
    rtol = t.loss_match_rtol
    hits = [r for r in recs if _close(r["loss"], r["batch"]["mse_bcast"], rtol)
            or _close(r["loss"], r["batch"]["l1_bcast"], rtol)]
    if len(hits) < 2 or len(hits) * 2 <= len(recs):
        return []
    b = hits[0]["batch"]
    o, tg = b.get("output_shape"), b.get("target_shape")
    msg = (f"The loss compares outputs of shape {tuple(o or ())} with targets of shape {tuple(tg or ())}: "
           "they broadcast to a grid, so every prediction is scored against every target of the "
           "batch. Make the shapes equal (out.squeeze(1) or y.unsqueeze(1)).")
    return [finding("loss_shape_mismatch", "error", msg, step=int(hits[0]["step"]), output_shape=o,
                    target_shape=tg, matched_steps=len(hits), sampled_steps=len(recs),
                    threshold=rtol, source="own choice; Islam et al. 2019 (shape faults)")]


def _normalization_devs(r: dict[str, Any]) -> tuple[float, float] | None:
    """``(class_dev, other_dev)`` of one record: how far the outputs are from (log-)probabilities
    along the classes and along the best other dim (sums count only for non-negative outputs)."""
    o, b = r.get("outputs") or {}, r.get("batch") or {}
    if not (finite(o.get("logsumexp_dev")) and finite(b.get("other_lse_dev")) and finite(o.get("min"))):
        return None
    nonneg = o["min"] >= 0
    inf = float("inf")

    def best(lse: Any, s: Any) -> float:
        return min(float(lse), float(s) if nonneg and finite(s) else inf)

    return best(o["logsumexp_dev"], o.get("rowsum_dev")), best(b["other_lse_dev"], b.get("other_sum_dev"))


@rule("wrong_softmax_dim")
def wrong_softmax_dim(v: Vitals, t: Thresholds = DEFAULT) -> list[Finding]:
    """Outputs are (log-)probabilities along another dim than the classes (the batch, or the
    time axis of a sequence): median deviation from normalized < ``t.normalized_dev`` along
    that dim and > ``t.unnormalized_dev`` along the class dim (at least 3 sampled steps)."""
    devs = [(r, d) for r in _batch_recs(v) if (d := _normalization_devs(r)) is not None]
    if len(devs) < 3:
        return []
    cls = median([d[0] for _, d in devs])
    other = median([d[1] for _, d in devs])
    if other is None or cls is None or other >= t.normalized_dev or cls <= t.unnormalized_dev:
        return []
    msg = ("The outputs are normalized (softmax/log_softmax) along the wrong dimension: they sum "
           "to 1 across the batch (or the time steps) while each row over the classes does not "
           f"(deviation {cls:.3g}). Use dim=-1 (the class dimension).")
    return [finding("wrong_softmax_dim", "error", msg, step=int(devs[0][0]["step"]),
                    other_dim_deviation=other, class_dim_deviation=cls,
                    threshold_normalized=t.normalized_dev,
                    threshold_unnormalized=t.unnormalized_dev, source="own choice")]
