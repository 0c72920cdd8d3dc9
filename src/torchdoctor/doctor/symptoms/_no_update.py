"""The "no update" family: the loop runs, the loss is computed, and the weights do not change.

One symptom, ``no_update``, with its cause named from what the probes saw (pure functions of
the vitals): the optimizer's ``step()`` never ran; it ran with every ``.grad`` already cleared
(``zero_grad()`` between ``backward()`` and ``step()``); the model's parameters are not in the
optimizer (built for another model) or a layer's parameter group is missing; the rate is 0;
or there was nothing to apply because the loss is exactly 0, or no gradient reaches the
parameters. A learning-rate remedy cures none of these: the finding's first remedy is the
cure of its cause.
"""

from __future__ import annotations

from typing import Any

from torchdoctor.catalogue import Thresholds, remedies_for, remedy
from torchdoctor.doctor.symptoms._registry import DEFAULT, finding, losses, rule
from torchdoctor.doctor.vitals import Vitals, finite
from torchdoctor.findings import Finding

__all__ = ["CAUSES", "cause_of_no_update"]

#: Cause -> (message template, the remedy code that cures it).
CAUSES: dict[str, tuple[str, str]] = {
    "step_not_called": (
        "optimizer.step() is never called: {steps} training steps, 0 optimizer steps, so the "
        "weights never change.", "call_optimizer_step"),
    "grads_cleared": (
        "optimizer.step() runs with the gradients already cleared: on {share:.0%} of checked "
        "steps no parameter had a .grad when the step began, so nothing changes "
        "(zero_grad() sits between backward() and step()).", "call_zero_grad"),
    "grads_zeroed": (
        "The parameters receive gradients but never change: updates are exactly 0 on {share:.0%} "
        "of checked steps (the gradients are zeroed before optimizer.step(), or the optimizer "
        "skips them).", "call_zero_grad"),
    "not_in_optimizer": (
        "None of the model's parameters is in the optimizer: they get gradients and never change "
        "(the optimizer was built for another model, or before the model was replaced).",
        "build_optimizer_on_model"),
    "group_missing": (
        "Layer(s) {layers} get gradients but are in no optimizer parameter group: they never "
        "change (a parameter group is missing).", "add_param_group"),
    "zero_lr": (
        "The learning rate is 0 for {layers}: the optimizer steps and nothing changes (a "
        "schedule that decayed to 0, or a group created with lr=0?).",
        "set_nonzero_lr"),
    "zero_loss": (
        "The loss is exactly 0 on {share:.0%} of steps and every gradient is exactly 0: there is "
        "nothing to learn from (a target computed from the output itself, e.g. "
        "loss_fn(out, out.detach()), or a mask that drops every element).", "check_loss_target"),
    "no_gradient": (
        "No gradient reaches the parameters: after backward() every gradient is {how} although "
        "the loss is not 0 (a non-differentiable step such as argmax, round, a comparison or "
        "a detach between the parameters and the loss?).", "differentiable_path"),
}


def _share(hits: int, total: int) -> float:
    return hits / total if total else 0.0


def _update_steps(v: Vitals) -> list[dict[str, Any]]:
    """Per-layer statistics of the sampled steps whose update was measured."""
    out = []
    for r in v.records:
        layers = r.get("layers") or {}
        if any(finite((d or {}).get("update_ratio")) for d in layers.values()):
            out.append(layers)
    return out


def cause_of_no_update(v: Vitals, t: Thresholds = DEFAULT) -> tuple[str, list[str], dict[str, Any]] | None:
    """``(cause, layers, evidence)`` when the weights do not change, else ``None``.

    ``cause`` is a key of :data:`CAUSES`; ``layers`` the layers concerned (empty: all). The
    update share is taken over the later half of the checked steps (all of them when fewer
    than 6), so weights that stopped changing (a rate scheduled to 0) count as well as weights
    that never changed.
    """
    loop = v.loop
    steps = int(loop.get("steps", 0) or 0)
    opt = loop.get("optimizer") or {}
    ls = losses(v)
    grads = [float(r["grad_norm"]) for r in v.records if finite(r.get("grad_norm"))]
    if len(ls) >= t.no_update_min_steps and len(grads) >= 3 and all(g == 0 for g in grads):
        zero = sum(1 for _, x in ls if x == 0)
        cause = "zero_loss" if _share(zero, len(ls)) >= t.no_update_share else "no_gradient"
        return cause, [], {"share": _share(zero, len(ls)), "zero_loss_steps": zero, "steps": len(ls),
                           "sampled_grad_norms": len(grads), "how": "exactly 0"}
    if opt.get("known") and steps >= t.no_update_min_steps and int(loop.get("optimizer_steps", 0) or 0) == 0:
        return "step_not_called", [], {"steps": steps, "optimizer_steps": 0}
    upd = _update_steps(v)
    if len(upd) < 3:
        return None
    checks = int(loop.get("step_checks", 0) or 0)
    absent = int(loop.get("steps_without_grads", 0) or 0)  # no .grad at all at the step
    cleared = int(loop.get("steps_grads_cleared", absent) or 0)  # ... though backward made one
    names = sorted({n for layers in upd for n, d in layers.items() if finite((d or {}).get("update_ratio"))})
    still: list[str] = []
    for n in names:
        rows = [(layers[n].get("update_ratio"), layers[n].get("grad_norm")) for layers in upd
                if finite((layers.get(n) or {}).get("update_ratio"))]
        rows = rows[len(rows) // 2:] if len(rows) >= 6 else rows  # updates that STOPPED count too
        frozen = sum(1 for u, g in rows if u == 0 and (g is None or (finite(g) and g > 0)))
        if len(rows) >= 3 and _share(frozen, len(rows)) >= t.no_update_share:
            still.append(n)
    if not still:
        return None
    graded = [n for n in still if any(finite((layers.get(n) or {}).get("grad_norm")) for layers in upd)]
    ev = {"update_steps": len(upd), "step_checks": checks, "steps_without_grads": absent,
          "steps_grads_cleared": cleared,
          "unoptimized": opt.get("unoptimized", []), "zero_lr": opt.get("zero_lr", []),
          "lrs": opt.get("lrs", [])}
    unopt, zero_lr = set(opt.get("unoptimized", [])), set(opt.get("zero_lr", []))
    if len(still) == len(names):
        if not graded and checks and _share(absent - cleared, checks) >= t.no_update_share:
            return "no_gradient", [], {**ev, "how": "missing (.grad is None)"}
        if checks and _share(cleared, checks) >= t.no_update_share:
            return "grads_cleared", [], {**ev, "share": _share(cleared, checks)}
        if unopt >= set(still):
            return "not_in_optimizer", [], ev
        if zero_lr >= set(still):
            return "zero_lr", [], ev
        return "grads_zeroed", [], {**ev, "share": 1.0}
    still = graded  # a layer without any gradient is unused, not frozen: no claim about it
    missing = [n for n in still if n in unopt]
    if missing:
        return "group_missing", missing, ev
    lr0 = [n for n in still if n in zero_lr]
    return ("zero_lr", lr0, ev) if lr0 else None


@rule("no_update")
def no_update(v: Vitals, t: Thresholds = DEFAULT) -> list[Finding]:
    """The optimizer applies no update (or leaves some layers unchanged) while training runs:
    :func:`cause_of_no_update` names why, comparing against ``t.no_update_min_steps`` and
    ``t.no_update_share``. An error when nothing changes or the output layer is left out;
    ``info`` when only other layers are (freezing a backbone by leaving it out of the
    optimizer is common; ``requires_grad_(False)`` says so and saves their backward pass)."""
    got = cause_of_no_update(v, t)
    if got is None:
        return []
    cause, layers, ev = got
    template, cure = CAUSES[cause]
    named = ", ".join(layers) or "every layer"
    msg = template.format(steps=ev.get("steps", v.loop.get("steps")), share=ev.get("share", 1.0),
                          layers=named, how=ev.get("how", "exactly 0"))
    params = [n for n, i in v.layers.items() if i.role == "param"]
    partial = bool(layers) and set(layers) != set(params)
    severity = "error"
    if partial and params and params[-1] not in layers:  # frozen by leaving them out, maybe
        severity = "info"
        msg += (" If they are frozen on purpose, requires_grad_(False) says so, saves their "
                "backward pass and stops their .grad from accumulating.")
    f = finding("no_update", severity, msg, layer=layers[0] if len(layers) == 1 else None,
                cause=cause, layers=layers, threshold=t.no_update_share,
                min_steps=t.no_update_min_steps,
                source="own choice; Humbatova et al. 2020 (taxonomy of real faults: training loop)", **ev)
    values = {"layers": f" for {named}"} if layers else {}
    f.remedies = [remedy(cure, **values)] + [r for r in remedies_for("no_update", **values)
                                             if r.code != cure][:1]
    return [f]
