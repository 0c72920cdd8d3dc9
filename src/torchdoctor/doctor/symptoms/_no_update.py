"""The "no update" family: the loop runs, the loss is computed, and the weights do not change.

One symptom, ``no_update``, with its cause named from what the probes saw (pure functions of
the vitals): the optimizer's ``step()`` never ran; it ran with every ``.grad`` already cleared
(``zero_grad()`` between ``backward()`` and ``step()``); the model's parameters are not in the
optimizer (built for another model) or a layer's parameter group is missing; the rate is 0;
or there was nothing to apply because the loss is exactly 0, or no gradient reaches the
parameters. A learning-rate remedy cures none of these.
"""

from __future__ import annotations

from typing import Any

from torchdoctor.doctor.symptoms._registry import finding, losses, rule
from torchdoctor.doctor.vitals import Vitals, finite
from torchdoctor.findings import Finding, Remedy

__all__ = ["MIN_STEPS", "ZERO_SHARE", "cause_of_no_update"]

#: Training steps before "never" means anything (own choice: well past any warm-up step
#: at rate 0, and more than one accumulation cycle of the usual 2-16 micro-batches).
MIN_STEPS = 20
#: Share of the checked steps that must show the fault (own choice: a clear majority, so a
#: first warm-up step at rate 0 or one skipped step does not count).
ZERO_SHARE = 0.8

_CAUSES: dict[str, tuple[str, Remedy]] = {
    "step_not_called": (
        "optimizer.step() is never called: {steps} training steps, 0 optimizer steps.",
        Remedy("call_optimizer_step", "Call optimizer.step() after loss.backward() on every "
               "step (with gradient accumulation: every k micro-batches, counting across epochs).",
               {}, "loss.backward()\noptimizer.step()\noptimizer.zero_grad()")),
    "grads_cleared": (
        "optimizer.step() runs with the gradients already cleared: on {share:.0%} of checked "
        "steps no parameter had a .grad when the step began, so nothing changes "
        "(zero_grad() sits between backward() and step()).",
        Remedy("zero_grad_before_backward", "Call optimizer.zero_grad() before loss.backward() "
               "(or after optimizer.step()), never between backward() and step().",
               {}, "optimizer.zero_grad()\nloss.backward()\noptimizer.step()")),
    "grads_zeroed": (
        "The parameters receive gradients but never change: updates are exactly 0 on {share:.0%} "
        "of checked steps (the gradients are zeroed before optimizer.step(), or the optimizer "
        "skips them).",
        Remedy("zero_grad_before_backward", "Call optimizer.zero_grad() before loss.backward() "
               "(or after optimizer.step()), never between backward() and step().",
               {}, "optimizer.zero_grad()\nloss.backward()\noptimizer.step()")),
    "not_in_optimizer": (
        "None of the model's parameters is in the optimizer: they get gradients and never change "
        "(the optimizer was built for another model, or before the model was replaced).",
        Remedy("build_optimizer_on_model", "Build the optimizer from the parameters of the model "
               "you train, after the model is final.", {},
               "optimizer = torch.optim.Adam(model.parameters(), lr=...)")),
    "group_missing": (
        "Layer(s) {layers} get gradients but are in no optimizer parameter group: they never "
        "change (a parameter group is missing).",
        Remedy("add_param_group", "Give the optimizer every trainable parameter (add the missing "
               "group), or freeze those layers with requires_grad_(False).", {},
               "optimizer.add_param_group({'params': model.head.parameters(), 'lr': ...})")),
    "zero_lr": (
        "The learning rate is 0 for {layers}: the optimizer steps and nothing changes.",
        Remedy("set_nonzero_lr", "Give every parameter group a learning rate > 0 (a scheduler "
               "that decays to 0, or a group created with lr=0?).", {}, "")),
    "zero_loss": (
        "The loss is exactly 0 on {share:.0%} of steps and every gradient is exactly 0: there is "
        "nothing to learn from (a target computed from the output itself, e.g. "
        "loss_fn(out, out.detach()), or a mask that drops every element).",
        Remedy("check_loss_target", "Check what the loss compares: the target must come from the "
               "data, not from the model's own output.", {}, "loss = loss_fn(outputs, targets)")),
    "no_gradient": (
        "Every gradient is exactly 0 although the loss is not: no gradient reaches the parameters "
        "(a non-differentiable step such as argmax, round or a comparison in the forward pass?).",
        Remedy("differentiable_path", "Keep the path from parameters to loss differentiable: "
               "feed the loss the raw outputs (logits), not argmax/round of them.", {}, "")),
}


def _share(hits: int, total: int) -> float:
    return hits / total if total else 0.0


def _update_steps(v: Vitals) -> list[tuple[int, dict[str, Any]]]:
    """Sampled steps whose update was measured: ``(step, layers)``."""
    out = []
    for r in v.records:
        layers = r.get("layers") or {}
        if any(finite((d or {}).get("update_ratio")) for d in layers.values()):
            out.append((int(r["step"]), layers))
    return out


def cause_of_no_update(v: Vitals) -> tuple[str, list[str], dict[str, Any]] | None:
    """``(cause, layers, evidence)`` when the weights do not change, else ``None``.

    ``cause`` is a key of the causes table; ``layers`` the layers concerned (empty: all).
    """
    loop = v.loop
    steps = int(loop.get("steps", 0) or 0)
    opt = loop.get("optimizer") or {}
    ls = losses(v)
    grads = [float(r["grad_norm"]) for r in v.records if finite(r.get("grad_norm"))]
    if len(ls) >= MIN_STEPS and len(grads) >= 3 and all(g == 0 for g in grads):
        zero = sum(1 for _, x in ls if x == 0)
        cause = "zero_loss" if _share(zero, len(ls)) >= ZERO_SHARE else "no_gradient"
        return cause, [], {"share": _share(zero, len(ls)), "zero_loss_steps": zero, "steps": len(ls),
                           "sampled_grad_norms": len(grads)}
    if opt.get("known") and steps >= MIN_STEPS and int(loop.get("optimizer_steps", 0) or 0) == 0:
        return "step_not_called", [], {"steps": steps, "optimizer_steps": 0}
    upd = _update_steps(v)
    if len(upd) < 3:
        return None
    checks = int(loop.get("step_checks", 0) or 0)
    cleared = int(loop.get("steps_without_grads", 0) or 0)
    names = sorted({n for _, layers in upd for n, d in layers.items() if finite((d or {}).get("update_ratio"))})
    still: list[str] = []
    for n in names:
        rows = [(layers[n].get("update_ratio"), layers[n].get("grad_norm")) for _, layers in upd
                if finite((layers.get(n) or {}).get("update_ratio"))]
        frozen = [1 for u, g in rows if u == 0 and finite(g) and g > 0]
        if len(rows) >= 3 and _share(len(frozen), len(rows)) >= ZERO_SHARE:
            still.append(n)
    if not still:
        return None
    ev = {"update_steps": len(upd), "step_checks": checks, "steps_without_grads": cleared,
          "unoptimized": opt.get("unoptimized", []), "zero_lr": opt.get("zero_lr", []),
          "lrs": opt.get("lrs", [])}
    unopt, zero_lr = set(opt.get("unoptimized", [])), set(opt.get("zero_lr", []))
    if len(still) == len(names):
        if checks and _share(cleared, checks) >= ZERO_SHARE:
            return "grads_cleared", [], {**ev, "share": _share(cleared, checks)}
        if unopt >= set(still):
            return "not_in_optimizer", [], ev
        if zero_lr >= set(still):
            return "zero_lr", still, ev
        return "grads_zeroed", [], {**ev, "share": 1.0}
    missing = [n for n in still if n in unopt]
    if missing:
        return "group_missing", missing, ev
    lr0 = [n for n in still if n in zero_lr]
    return ("zero_lr", lr0, ev) if lr0 else None


@rule("no_update")
def no_update(v: Vitals) -> list[Finding]:
    """The optimizer applies no update (or leaves some layers unchanged) while training runs:
    :func:`cause_of_no_update` names why. An error when nothing changes or the output layer
    is left out; a warning when only other layers are (frozen on purpose, maybe: say so with
    ``requires_grad_(False)``, which also saves their backward pass)."""
    got = cause_of_no_update(v)
    if got is None:
        return []
    cause, layers, ev = got
    template, remedy = _CAUSES[cause]
    msg = template.format(steps=ev.get("steps", v.loop.get("steps")), share=ev.get("share", 1.0),
                          layers=", ".join(layers) or "every layer")
    params = [n for n, i in v.layers.items() if i.role == "param"]
    partial = bool(layers) and set(layers) != set(params)
    severity = "warning" if partial and params and params[-1] not in layers else "error"
    f = finding("no_update", severity, msg, layer=layers[0] if len(layers) == 1 else None,
                cause=cause, layers=layers, min_steps=MIN_STEPS, threshold=ZERO_SHARE,
                source="own; Humbatova et al. 2020 (taxonomy of real faults: training loop)", **ev)
    f.remedies = [remedy]
    return [f]
