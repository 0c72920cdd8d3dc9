"""The rules added for loops the first rules could not see, on hand-made vitals: no_update
(with its cause), output_range_mismatch, loss_shape_mismatch, wrong_softmax_dim, narrow_layer
on bottlenecks; and the policy for findings that come and go. Every expectation follows from
a documented threshold, not from the doctor's own output."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from torchdoctor.catalogue import Thresholds
from torchdoctor.doctor import carry_resolved
from torchdoctor.doctor.symptoms import RULES
from torchdoctor.doctor.vitals import LayerInfo, Vitals
from torchdoctor.findings import Finding

MLP = {"0": LayerInfo("Linear", "param", 0, 32), "1": LayerInfo("ReLU", "activation", 1),
       "2": LayerInfo("Linear", "param", 2, 10)}
COVERED = {"known": True, "unoptimized": [], "zero_lr": [], "lrs": [0.1], "layers": 2}


def run(code: str, v: Vitals) -> list[Finding]:
    return RULES[code](v)


def timeline(n: int = 60, loss: float = 1.0, every: int = 5,
             layer: dict[str, dict[str, Any]] | None = None, **loop: Any) -> Vitals:
    """``n`` steps of constant loss; every ``every``-th step carries ``layer`` statistics."""
    recs: list[dict[str, Any]] = []
    for i in range(n):
        r: dict[str, Any] = {"step": i, "epoch": 0, "loss": loss}
        if layer is not None and i % every == 0:
            r["layers"] = {k: dict(d) for k, d in layer.items()}
            norms = [d["grad_norm"] for d in layer.values() if "grad_norm" in d]
            r["grad_norm"] = sum(norms) if norms else None  # None: no .grad at all
        recs.append(r)
    base = {"steps": n, "optimizer_steps": n, "step_checks": 0, "steps_without_grads": 0,
            "steps_grads_cleared": 0, "optimizer": COVERED}
    return Vitals(layers=dict(MLP), records=recs, loop={**base, **loop})


MOVING = {"0": {"grad_norm": 0.5, "update_ratio": 1e-3}, "2": {"grad_norm": 0.3, "update_ratio": 2e-3}}
FROZEN = {"0": {"grad_norm": 0.5, "update_ratio": 0.0}, "2": {"grad_norm": 0.3, "update_ratio": 0.0}}


def cause(v: Vitals) -> str | None:
    found = run("no_update", v)
    return found[0].evidence["cause"] if found else None


def test_no_update_is_silent_on_a_training_that_moves() -> None:
    assert run("no_update", timeline(layer=MOVING)) == []
    warm = timeline(layer=MOVING)
    warm.records[0]["layers"] = {k: dict(d, update_ratio=0.0) for k, d in MOVING.items()}  # lr 0 at step 0
    assert run("no_update", warm) == []
    accumulation = timeline(layer=MOVING, optimizer_steps=15)
    assert run("no_update", accumulation) == []


def test_no_update_step_never_called() -> None:
    v = timeline(layer={"0": {"grad_norm": 0.5}, "2": {"grad_norm": 0.3}}, optimizer_steps=0)
    assert cause(v) == "step_not_called"
    assert run("no_update", v)[0].severity == "error"
    few = timeline(n=int(Thresholds().no_update_min_steps) - 1, layer={"0": {"grad_norm": 0.5}}, optimizer_steps=0)
    assert cause(few) is None
    unknown = timeline(layer={"0": {"grad_norm": 0.5}}, optimizer_steps=0, optimizer={"known": False})
    assert cause(unknown) is None  # no optimizer handed to the doctor: no claim


def test_no_update_names_cleared_grads_missing_params_and_zero_rate() -> None:
    assert cause(timeline(layer=FROZEN, step_checks=12, steps_without_grads=12,
                          steps_grads_cleared=12)) == "grads_cleared"
    old_model = {**COVERED, "unoptimized": ["0", "2"]}
    assert cause(timeline(layer=FROZEN, optimizer=old_model)) == "not_in_optimizer"
    assert cause(timeline(layer=FROZEN, optimizer={**COVERED, "zero_lr": ["0", "2"], "lrs": [0.0]})) == "zero_lr"
    assert cause(timeline(layer=FROZEN)) == "grads_zeroed"


def test_no_update_share_threshold() -> None:
    v = timeline(layer=MOVING)
    sampled = [r for r in v.records if r.get("layers")]  # 12 checked steps; the later 6 count
    for r in sampled[7:]:  # 5 of the later 6 = 0.83 frozen: above the default share 0.8
        r["layers"] = {k: dict(d, update_ratio=0.0) for k, d in r["layers"].items()}
    assert cause(v) == "grads_zeroed"
    assert RULES["no_update"](v, Thresholds(no_update_share=0.9)) == []


def test_no_update_partial_head_is_an_error_and_backbone_info() -> None:
    head = {"0": MOVING["0"], "2": FROZEN["2"]}
    found = run("no_update", timeline(layer=head, optimizer={**COVERED, "unoptimized": ["2"]}))
    assert found[0].evidence["cause"] == "group_missing" and found[0].severity == "error"
    assert found[0].layer == "2"
    body = {"0": FROZEN["0"], "2": MOVING["2"]}
    found = run("no_update", timeline(layer=body, optimizer={**COVERED, "unoptimized": ["0"]}))
    assert found[0].severity == "info"
    assert run("no_update", timeline(layer=body)) == []  # frozen by unknown means: no claim


def test_no_update_zero_loss_and_no_gradient() -> None:
    zero = {"0": {"grad_norm": 0.0}, "2": {"grad_norm": 0.0}}
    assert cause(timeline(loss=0.0, layer=zero)) == "zero_loss"
    assert cause(timeline(loss=1.3, layer=zero)) == "no_gradient"


def _regression(out: tuple[float, float], tgt: tuple[float, float], last: str | None, n: int = 6) -> Vitals:
    layers = dict(MLP)
    if last is not None:
        layers["3"] = LayerInfo(last, "activation", 3)
    recs = [{"step": i * 10, "epoch": 0, "loss": 1.0, "outputs": {"min": out[0], "max": out[1]},
             "targets": {"kind": "float", "min": tgt[0], "max": tgt[1]},
             "batch": {"kind": "regression"}} for i in range(n)]
    return Vitals(layers=layers, records=recs)


def test_output_range_mismatch() -> None:
    found = run("output_range_mismatch", _regression((0.01, 0.999), (0.1, 9.8), "Sigmoid"))
    assert found and found[0].layer == "3" and found[0].evidence["bound"] == [0.0, 1.0]
    # shortfall (9.8 - 1) / 9.7 = 0.91 > 0.25; a target span inside the bound is fine:
    assert run("output_range_mismatch", _regression((0.01, 0.99), (0.0, 1.0), "Sigmoid")) == []
    # a linear last layer whose outputs cover the targets: nothing
    assert run("output_range_mismatch", _regression((-2.1, 3.0), (-2.0, 3.1), None)) == []
    # no visible layer, but outputs pressed against 1 while targets reach 10: functional sigmoid
    assert run("output_range_mismatch", _regression((0.0, 0.9999), (0.0, 10.0), None))
    # ReLU output on targets that are mostly negative
    assert run("output_range_mismatch", _regression((0.0, 2.0), (-5.0, 1.0), "ReLU"))


def _batches(loss: float, mse: float, n: int = 5) -> Vitals:
    recs = [{"step": i, "epoch": 0, "loss": loss,
             "batch": {"kind": "regression", "output_shape": [64, 1], "target_shape": [64],
                       "mse_bcast": mse, "l1_bcast": 9.0}} for i in range(n)]
    return Vitals(layers=dict(MLP), records=recs)


def test_loss_shape_mismatch_needs_the_broadcast_loss_to_match() -> None:
    found = run("loss_shape_mismatch", _batches(1.8, 1.8))
    assert found and found[0].evidence["output_shape"] == [64, 1]
    assert run("loss_shape_mismatch", _batches(0.4, 1.8)) == []  # the user squeezes in the loss


def test_wrong_softmax_dim() -> None:
    def v(cls: float, other: float, lo: float = -3.0, sums: tuple[float, float] = (5.0, 5.0)) -> Vitals:
        recs = [{"step": i, "epoch": 0, "loss": 1.0,
                 "outputs": {"min": lo, "max": 0.0, "logsumexp_dev": cls, "rowsum_dev": sums[0]},
                 "batch": {"kind": "class", "other_lse_dev": other, "other_sum_dev": sums[1]}}
                for i in range(4)]
        return Vitals(layers=dict(MLP), records=recs)

    assert run("wrong_softmax_dim", v(cls=1.7, other=1e-7))  # log_softmax over the batch
    assert run("wrong_softmax_dim", v(cls=1e-7, other=2.0)) == []  # log_softmax over the classes
    assert run("wrong_softmax_dim", v(cls=1.7, other=0.9)) == []  # raw logits
    # softmax over the batch: non-negative outputs whose columns sum to 1
    assert run("wrong_softmax_dim", v(cls=3.0, other=3.0, lo=0.0, sums=(0.8, 1e-7)))
    # the same sums with negative outputs are no probabilities
    assert run("wrong_softmax_dim", v(cls=3.0, other=3.0, lo=-0.1, sums=(0.8, 1e-7))) == []


def test_narrow_layer_leaves_regression_bottlenecks_alone() -> None:
    ae = {"0": LayerInfo("Linear", "param", 0, 8), "1": LayerInfo("Linear", "param", 1, 64)}
    recs = [{"step": i, "epoch": 0, "loss": 1.0, "batch": {"kind": "regression"}} for i in range(5)]
    assert run("narrow_layer", Vitals(layers=ae, records=recs)) == []
    for r in recs:
        r["batch"]["kind"] = "class"
    assert run("narrow_layer", Vitals(layers=ae, records=recs))


# ---------------------------------------------------------------- findings that come and go
def _f(code: str, severity: str, step: int = 25, layer: str | None = "4") -> Finding:
    return Finding(code=code, severity=severity, message="m", layer=layer, step=step)  # type: ignore[arg-type]


def test_a_vanished_warning_is_kept_as_resolved_info() -> None:
    merged, resolved = carry_resolved([_f("dead_relu", "warning")], [], step=300)
    assert [(f.code, f.severity) for f in merged] == [("dead_relu", "info")]
    assert resolved == merged
    ev = merged[0].evidence
    assert ev["resolved"] and ev["peak_severity"] == "warning"
    assert (ev["first_step"], ev["last_seen_step"]) == (25, 300)
    assert merged[0].message.startswith("Resolved (steps 25-300)")
    again, newly = carry_resolved(merged, [], step=400)  # stays, not resolved twice
    assert again == merged and newly == []
    back, _ = carry_resolved(merged, [_f("dead_relu", "warning", 450)], step=450)
    assert [(f.code, f.severity) for f in back] == [("dead_relu", "warning")]


@pytest.mark.parametrize(("old", "kept"), [("info", []), ("error", [("nonfinite", "error")])])
def test_info_is_not_carried_and_nonfinite_never_resolves(old: str, kept: list[tuple[str, str]]) -> None:
    merged, _ = carry_resolved([_f("nonfinite", old)], [], step=10)
    assert [(f.code, f.severity) for f in merged] == kept


def test_a_lowered_severity_keeps_its_peak() -> None:
    merged, _ = carry_resolved([_f("exploding_gradient", "error")], [_f("exploding_gradient", "info")], 99)
    assert merged[0].severity == "info" and merged[0].evidence["peak_severity"] == "error"


def test_output_range_ignores_a_bounded_module_the_outputs_do_not_obey() -> None:
    # a ReLU registered last but applied inside the body: outputs go negative, so it is not the last op
    assert run("output_range_mismatch", _regression((-4.0, 2.0), (-5.0, 1.0), "ReLU")) == []


def test_no_update_without_any_gradient_names_the_missing_gradient() -> None:
    absent = {"0": {"update_ratio": 0.0}, "2": {"update_ratio": 0.0}}  # .grad None after backward
    v = timeline(loss=1.3, layer=absent, step_checks=12, steps_without_grads=12)
    assert cause(v) == "no_gradient"
    assert "missing" in run("no_update", v)[0].message
    unused = {"0": MOVING["0"], "2": {"update_ratio": 0.0}}  # one layer outside the forward path
    assert run("no_update", timeline(layer=unused, optimizer={**COVERED, "unoptimized": ["2"]})) == []


# ---------------------------------------------------------------- through a real loop
def _real_loop(optimizer_of: str, order: str = "usual", steps: int = 30) -> list[Finding]:
    import torch
    from torch import nn

    import torchdoctor as td

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    params = {"all": model.parameters(), "head": model[2].parameters(), "body": model[0].parameters()}
    opt = torch.optim.SGD(params[optimizer_of], lr=0.1)
    doctor = td.Doctor(model, opt, sample_every=1, console=False)
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        x, y = torch.randn(32, 8, generator=g), torch.randint(0, 3, (32,), generator=g)
        out = model(x)
        loss = nn.functional.cross_entropy(out, y)
        if order == "usual":
            opt.zero_grad()
            loss.backward()
            doctor.step(loss, inputs=x, targets=y, outputs=out)
        elif order == "between":  # zero_grad between backward and step
            loss.backward()
            doctor.step(loss, inputs=x, targets=y, outputs=out)
            opt.zero_grad()
        else:  # the same, with the doctor told after the gradients are gone
            loss.backward()
            opt.zero_grad()
            doctor.step(loss, inputs=x, targets=y, outputs=out)
        opt.step()
    doctor.close()
    return doctor.findings


def test_real_loops_name_the_cause_of_no_update() -> None:
    def by_code(fs: list[Finding]) -> dict[str, Finding]:
        return {f.code: f for f in fs}

    assert "no_update" not in by_code(_real_loop("all"))
    for order in ("between", "between_before_doctor"):
        cleared = by_code(_real_loop("all", order=order))["no_update"]
        assert (cleared.evidence["cause"], cleared.severity) == ("grads_cleared", "error"), order
    head = by_code(_real_loop("body"))["no_update"]
    assert (head.evidence["cause"], head.layer, head.severity) == ("group_missing", "2", "error")
    frozen = by_code(_real_loop("head"))  # backbone frozen by leaving it out: said, not alarmed
    assert frozen["no_update"].severity == "info" and frozen["no_update"].layer == "0"
    assert "missing_zero_grad" not in frozen  # its .grad accumulates by design


def test_wrong_loss_names_softmax_cross_entropy_on_multi_hot_targets() -> None:
    def v(kind: str, ce: float) -> Vitals:
        recs = [{"step": i, "epoch": 0, "loss": 2.0, "losses": {"ce": ce, "bce_logits": 0.7},
                 "targets": {"kind": "float2d", "min": 0.0, "max": 1.0, "rowsum_dev": 1.2, "nonbinary": 0.0},
                 "batch": {"kind": kind}} for i in range(5)]
        return Vitals(layers=dict(MLP), records=recs)

    found = run("wrong_loss", v("multilabel", ce=2.0))
    assert found and found[0].evidence["targets"] == "multi-hot"
    assert [r.code for r in found[0].remedies] == ["use_bce_multilabel"]
    assert run("wrong_loss", v("multilabel", ce=0.9)) == []  # the loss is not the softmax CE
    assert run("wrong_loss", v("soft", ce=2.0)) == []  # soft targets: cross-entropy is right


def test_a_whole_model_no_update_explains_the_plateau_and_the_underfitting() -> None:
    from torchdoctor.doctor import explain

    cause = Finding(code="no_update", severity="error", message="step never called",
                    evidence={"cause": "step_not_called", "layers": []})
    plateau, under = _f("loss_plateau", "warning", layer=None), _f("underfitting", "warning", layer=None)
    out = explain([cause, plateau, under, _f("dead_relu", "warning")])
    assert [(f.code, f.severity) for f in out] == [
        ("no_update", "error"), ("loss_plateau", "info"), ("underfitting", "info"), ("dead_relu", "warning")]
    assert out[1].evidence["explained_by"] == "no_update" and out[1].remedies == []
    partial = dataclasses.replace(cause, evidence={"cause": "group_missing", "layers": ["2"]})
    assert explain([partial, plateau]) == [partial, plateau]  # a partial cause explains nothing


def test_no_update_counts_weights_that_stopped_changing() -> None:
    v = timeline(layer=MOVING, optimizer={**COVERED, "zero_lr": ["0", "2"], "lrs": [0.0]})
    sampled = [r for r in v.records if r.get("layers")]  # 12 checked steps
    for r in sampled[5:]:  # the rate reached 0 after the first 5: 7 of 12 (58 %) frozen
        r["layers"] = {k: dict(d, update_ratio=0.0) for k, d in r["layers"].items()}
    found = run("no_update", v)
    assert found[0].evidence["cause"] == "zero_lr" and found[0].severity == "error"
    assert "every layer" in found[0].message


def test_console_findings_and_run_directory_agree(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Every line the console printed is a finding at the end, and findings.json holds the same."""
    import json

    import torch
    from torch import nn

    import torchdoctor as td

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = torch.optim.SGD(model[0].parameters(), lr=0.1)  # head missing: no_update
    doctor = td.Doctor(model, opt, sample_every=1, log_dir=tmp_path, console=True)
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        for _ in range(20):
            x, y = torch.randn(32, 8, generator=g), torch.randint(0, 3, (32,), generator=g)
            out = model(x)
            loss = nn.functional.cross_entropy(out, y)
            opt.zero_grad()
            loss.backward()
            doctor.step(loss, inputs=x, targets=y, outputs=out)
            opt.step()
        doctor.observe(val_loss=loss.item())
    doctor.close()
    final = {(f.code, f.layer) for f in doctor.findings}
    printed = capsys.readouterr().err
    for code, _ in final:
        assert code in td.SYMPTOM_CODES
    announced = {c for c in td.SYMPTOM_CODES if c in printed}
    assert announced <= {code for code, _ in final}, announced - {code for code, _ in final}
    on_disk = json.loads((tmp_path / "findings.json").read_text())
    if isinstance(on_disk, dict):
        on_disk = on_disk.get("findings", [])
    assert {(d["code"], d["layer"], d["severity"]) for d in on_disk} == \
        {(f.code, f.layer, f.severity) for f in doctor.findings}
    assert ("no_update", "2") in final
