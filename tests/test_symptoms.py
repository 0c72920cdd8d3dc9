"""Each symptom rule on hand-made vitals: it fires, it stays quiet, and its edge cases.

The timelines below are written by hand (no training), so every expectation follows from the
rule's documented threshold, not from the doctor's own output.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from torchdoctor.catalogue import Thresholds
from torchdoctor.doctor.symptoms import RULES, diagnose
from torchdoctor.doctor.symptoms import _activations as A
from torchdoctor.doctor.symptoms import _data as D
from torchdoctor.doctor.symptoms import _gradients as G
from torchdoctor.doctor.symptoms import _progress as P
from torchdoctor.doctor.vitals import LayerInfo, Vitals
from torchdoctor.findings import SYMPTOM_CODES

T = Thresholds()  # the default thresholds

MLP = {"0": LayerInfo("Linear", "param", 0, 32), "1": LayerInfo("ReLU", "activation", 1),
       "2": LayerInfo("Linear", "param", 2, 32), "3": LayerInfo("ReLU", "activation", 3),
       "4": LayerInfo("Linear", "param", 4, 10)}


def falling(n: int, start: float = 2.3, end: float = 0.1) -> list[float]:
    return [start * (end / start) ** (i / (n - 1)) for i in range(n)]


def vitals(losses: list[Any] | None = None, layers: dict[str, LayerInfo] | None = None,
           sampled: dict[int, dict[str, Any]] | None = None, **kw: Any) -> Vitals:
    """Records for ``losses``; ``sampled[step]`` merges extra keys into that step's record."""
    losses = losses if losses is not None else falling(100)
    recs = [{"step": i, "epoch": 0, "loss": x} for i, x in enumerate(losses)]
    for step, extra in (sampled or {}).items():
        recs[step].update(extra)
    return Vitals(layers=dict(layers or MLP), records=recs, **kw)


def codes(v: Vitals) -> set[str]:
    return {f.code for f in diagnose(v)}


def grads(first: float, last: float) -> dict[str, Any]:
    return {"grad_norm": math.hypot(first, last),
            "layers": {"0": {"grad_norm": first}, "2": {"grad_norm": 1.0}, "4": {"grad_norm": last}}}


def test_every_code_but_shift_and_checkup_has_a_rule() -> None:
    expected = set(SYMPTOM_CODES) - {
        "covariate_shift", "label_shift", "duplicate_samples", "constant_feature"}
    assert set(RULES) == expected


def test_healthy_timeline_is_silent() -> None:
    sampled = {s: grads(0.5, 1.0) for s in range(0, 100, 10)}
    for s in sampled:
        sampled[s]["layers"].update({"1": {"frac_dead": 0.1, "act_std": 0.8},
                                     "3": {"frac_dead": 0.2, "act_std": 0.9}})
        sampled[s]["inputs"] = {"mean": 0.0, "std": 1.0, "absmax": 4.0}
    v = vitals(sampled=sampled, epochs=[
        {"epoch": e, "train_loss": 1 / (e + 1), "train_accuracy": 0.8 + 0.04 * e,
         "val_loss": 1.1 / (e + 1), "val_accuracy": 0.78 + 0.04 * e} for e in range(4)])
    assert diagnose(v) == []


# -- nonfinite -------------------------------------------------------------------------------
def test_nonfinite_fires_on_nan_loss_with_first_step() -> None:
    v = vitals([1.0] * 10 + ["nan"] * 5)
    (f,) = G.nonfinite(v)
    assert (f.severity, f.step, f.evidence["steps_affected"]) == ("error", 10, 5)


def test_nonfinite_fires_on_gradient_and_names_layer() -> None:
    v = vitals([1.0] * 5, sampled={3: {"grad_norm": "inf", "layers": {"2": {"grad_norm": "inf"}}}})
    (f,) = G.nonfinite(v)
    assert (f.layer, f.evidence["where"]) == ("2", "gradient")


def test_nonfinite_quiet_on_missing_values() -> None:
    assert G.nonfinite(vitals([1.0, None, 0.5])) == []


# -- exploding / vanishing -----------------------------------------------------------------
def test_exploding_ratio_info_when_learning_works_error_when_not() -> None:
    sampled = {s: grads(100.0, 1.0) for s in range(0, 100, 10)}
    (f,) = G.exploding_gradient(vitals(sampled=sampled))
    assert f.severity == "info" and f.evidence["max_ratio"] == pytest.approx(100.0)
    (f,) = G.exploding_gradient(vitals([2.3] * 100, sampled=sampled))
    assert f.severity == "error"


def test_exploding_ratio_just_below_threshold_is_quiet() -> None:
    sampled = {s: grads(T.explode_ratio * 0.99, 1.0) for s in range(0, 100, 10)}
    assert G.exploding_gradient(vitals(sampled=sampled)) == []


def test_exploding_growth_and_absolute() -> None:
    sampled = {s: {"grad_norm": g} for s, g in zip(range(0, 50, 10), [1, 1, 1, 50, 150], strict=True)}
    (f,) = G.exploding_gradient(vitals(sampled=sampled))
    assert f.evidence["growth"] == pytest.approx(150) and f.step == 40
    sampled = {0: {"grad_norm": 2e3}, 10: {"grad_norm": 2e3}}
    assert G.exploding_gradient(vitals(sampled=sampled))[0].evidence["peak"] == 2e3


def test_vanishing_fires_below_both_thresholds_only() -> None:
    tiny = {s: grads(1e-6, 1.0) for s in range(0, 100, 10)}
    (f,) = G.vanishing_gradient(vitals([2.3] * 100, sampled=tiny))
    assert (f.severity, f.layer) == ("error", "0")
    assert G.vanishing_gradient(vitals(sampled=tiny))[0].severity == "info"
    # ratio small but first layer not below VANISH_ABS (large last layer): AUTOTRAINER needs both
    big_last = {s: grads(1e-3, 1e2) for s in range(0, 100, 10)}
    assert G.vanishing_gradient(vitals(sampled=big_last)) == []
    # exactly zero gradients are dead units, not vanishing ones
    zero = {s: grads(0.0, 1.0) for s in range(0, 100, 10)}
    assert G.vanishing_gradient(vitals(sampled=zero)) == []


def test_vanishing_needs_three_sampled_steps() -> None:
    assert G.vanishing_gradient(vitals(sampled={0: grads(1e-9, 1.0), 1: grads(1e-9, 1.0)})) == []


def test_missing_zero_grad() -> None:
    stale = {s: {"prev_grad_norm": 0.5} for s in range(1, 20)}
    (f,) = G.missing_zero_grad(vitals(sampled=stale))
    assert f.evidence["stale_steps"] == 19 and f.severity == "error"
    zeroed = {s: {"prev_grad_norm": 0.0} for s in range(1, 20)}  # zero_grad(set_to_none=False)
    assert G.missing_zero_grad(vitals(sampled=zeroed)) == []
    few = {s: {"prev_grad_norm": 0.5} for s in range(1, 3)}  # accumulation-like, too few
    assert G.missing_zero_grad(vitals(sampled=few)) == []


# -- activations -----------------------------------------------------------------------------
def test_dead_relu_uses_window_then_per_batch() -> None:
    s = {10: {"layers": {"1": {"frac_dead": 0.9, "window_dead": 0.8}, "3": {"frac_dead": 0.1}}}}
    (f,) = A.dead_relu(vitals(sampled=s))
    assert (f.layer, f.severity, f.evidence["dead_fraction"]) == ("1", "warning", 0.8)
    s = {10: {"layers": {"1": {"frac_dead": 0.9, "window_dead": 0.3}}}}
    assert A.dead_relu(vitals(sampled=s)) == []
    s = {k: {"layers": {"3": {"frac_dead": 0.7}}} for k in (10, 20, 30)}
    assert [f.layer for f in A.dead_relu(vitals([2.3] * 100, sampled=s))] == ["3"]


def test_dead_relu_at_threshold_is_quiet() -> None:
    s = {10: {"layers": {"1": {"window_dead": T.dead_fraction}}}}
    assert A.dead_relu(vitals(sampled=s)) == []


TANH = {"0": LayerInfo("Linear", "param", 0, 8), "1": LayerInfo("Tanh", "activation", 1),
        "2": LayerInfo("Linear", "param", 2, 8), "3": LayerInfo("Tanh", "activation", 3),
        "4": LayerInfo("Linear", "param", 4, 8), "5": LayerInfo("Tanh", "activation", 5)}


def test_saturated_activation() -> None:
    s = {k: {"layers": {"3": {"frac_saturated": 0.8}, "1": {"frac_saturated": 0.2}}} for k in (0, 10, 20)}
    (f,) = A.saturated_activation(vitals(layers=TANH, sampled=s))
    assert f.layer == "3" and f.evidence["saturated_fraction"] == 0.8
    s = {k: {"layers": {"3": {"frac_saturated": 0.4}}} for k in (0, 10, 20)}
    assert A.saturated_activation(vitals(layers=TANH, sampled=s)) == []


def test_activation_collapse_shrinks_and_grows() -> None:
    def s(stds: list[float]) -> dict[int, dict[str, Any]]:
        return {k: {"layers": {n: {"act_std": x} for n, x in zip("135", stds, strict=True)}}
                for k in (0, 10, 20)}

    (f,) = A.activation_collapse(vitals(layers=TANH, sampled=s([1.0, 1e-2, 1e-3])))
    assert f.layer == "5" and f.evidence["ratio"] == pytest.approx(1e-3)
    (f,) = A.activation_collapse(vitals(layers=TANH, sampled=s([1.0, 50.0, 500.0])))
    assert "grows" in f.message
    assert A.activation_collapse(vitals(layers=TANH, sampled=s([1.0, 0.5, 0.02]))) == []
    # two nonlinearities are not enough to speak of depth
    assert A.activation_collapse(vitals(sampled={0: {"layers": {"1": {"act_std": 1.0},
                                                               "3": {"act_std": 1e-6}}}})) == []


def test_symmetric_weights() -> None:
    v = vitals(weights={"0": {"row_spread": 0.0, "units": 32}, "2": {"row_spread": 0.9, "units": 32}})
    (f,) = A.symmetric_weights(v)
    assert (f.layer, f.severity) == ("0", "error")
    assert A.symmetric_weights(vitals(weights={"0": {"row_spread": 2e-4, "units": 3}})) == []


def test_small_batch_norm() -> None:
    bn = {**MLP, "1": LayerInfo("BatchNorm1d", "param", 1, 32)}
    (f,) = A.small_batch_norm(vitals(layers=bn, loop={"bn_batch_sizes": [2] * 10 + [64]}))
    assert f.evidence["median_batch"] == 2 and f.layer == "1"
    assert A.small_batch_norm(vitals(loop={"bn_batch_sizes": [8] * 10 + [1]})) == []
    assert A.small_batch_norm(vitals(loop={"bn_batch_sizes": [2] * 4})) == []  # too few


# -- data in and out -------------------------------------------------------------------------
def test_unnormalized_input() -> None:
    s = {k: {"inputs": {"mean": 80.0, "std": 90.0, "absmax": 255.0}} for k in (0, 10)}
    (f,) = D.unnormalized_input(vitals(sampled=s))
    assert f.evidence["rms"] == pytest.approx(math.hypot(80, 90))
    s = {k: {"inputs": {"mean": 0.45, "std": 0.3, "absmax": 1.0}} for k in (0, 10)}  # min-max [0,1]
    assert D.unnormalized_input(vitals(sampled=s)) == []
    s = {0: {"inputs": {"mean": 0.0, "std": 1e-3, "absmax": 1e-2}}}
    assert "tiny" in D.unnormalized_input(vitals(sampled=s))[0].message


def _io(loss: float, **cands: float) -> dict[str, Any]:
    return {"loss": loss, "losses": {"ce": None, "nll": None, "mse": None, "bce_logits": None,
                                     "bce": None, **cands}}


def test_wrong_output_activation_softmax_into_cross_entropy() -> None:
    s = {k: {**_io(2.0, ce=2.0, nll=-0.1), "outputs": {"min": 0.01, "max": 0.6, "rowsum_dev": 1e-7,
                                                      "logsumexp_dev": 2.3}} for k in (0, 10, 20)}
    (f,) = D.wrong_output_activation(vitals(sampled=s))
    assert f.severity == "error" and f.evidence["loss_matched"] == "ce"
    # logits (unbounded) into cross-entropy: fine
    s = {k: {**_io(2.0, ce=2.0), "outputs": {"min": -3.0, "max": 4.0, "rowsum_dev": 2.0,
                                             "logsumexp_dev": 4.1}} for k in (0, 10, 20)}
    assert D.wrong_output_activation(vitals(sampled=s)) == []


def test_wrong_output_activation_probabilities_into_nll_and_sigmoid_into_bce_logits() -> None:
    probs = {"min": 0.0, "max": 0.9, "rowsum_dev": 0.0, "logsumexp_dev": 1.0}
    s = {k: {**_io(-0.3, nll=-0.3, ce=2.1), "outputs": probs} for k in (0, 10)}
    assert "NLLLoss" in D.wrong_output_activation(vitals(sampled=s))[0].message
    sig = {"min": 0.1, "max": 0.9, "rowsum_dev": None, "logsumexp_dev": None}
    s = {k: {**_io(0.7, bce_logits=0.7, bce=0.5), "outputs": sig} for k in (0, 10)}
    assert "BCEWithLogits" in D.wrong_output_activation(vitals(sampled=s))[0].message
    # the same outputs with plain BCE are right
    s = {k: {**_io(0.5, bce_logits=0.7, bce=0.5), "outputs": sig} for k in (0, 10)}
    assert D.wrong_output_activation(vitals(sampled=s)) == []


def test_wrong_loss_mse_on_one_hot_and_by_name() -> None:
    onehot = {"kind": "float2d", "min": 0.0, "max": 1.0, "rowsum_dev": 0.0, "nonbinary": 0.0}
    s = {k: {**_io(0.09, mse=0.09, ce=2.2), "targets": onehot} for k in (0, 10)}
    (f,) = D.wrong_loss(vitals(sampled=s))
    assert f.evidence["targets"] == "one-hot"
    soft = {**onehot, "nonbinary": 0.2}  # soft labels, e.g. distillation: not one-hot
    s = {k: {**_io(0.09, mse=0.09), "targets": soft} for k in (0, 10)}
    assert D.wrong_loss(vitals(sampled=s)) == []
    s = {k: {"targets": {"kind": "class", "hist": [3, 3]}} for k in (0, 10)}
    assert D.wrong_loss(vitals(sampled=s, loop={"loss_name": "MSELoss"}))
    assert D.wrong_loss(vitals(sampled=s, loop={"loss_name": "CrossEntropyLoss"})) == []


def test_class_imbalance() -> None:
    s = {k: {"targets": {"kind": "class", "hist": [40, 2, 22]}} for k in range(10)}
    (f,) = D.class_imbalance(vitals(sampled=s))
    assert f.evidence["ratio"] == pytest.approx(20.0)
    s = {k: {"targets": {"kind": "class", "hist": [30, 5, 29]}} for k in range(10)}
    assert D.class_imbalance(vitals(sampled=s)) == []
    s = {0: {"targets": {"kind": "class", "hist": [40, 1, 22]}}}  # 63 labels: too few to judge
    assert D.class_imbalance(vitals(sampled=s)) == []


def test_unshuffled_data_vs_small_shuffled_batches() -> None:
    sorted_batches = {k: {"targets": {"kind": "class", "hist": [64 if c == k % 10 else 0 for c in range(10)]}}
                      for k in range(20)}
    (f,) = D.unshuffled_data(vitals(sampled=sorted_batches))
    assert f.evidence["ratio"] < 0.2
    # batches of 2 from 10 classes hold <= 2 classes even when shuffled: not a finding
    pairs = {k: {"targets": {"kind": "class", "hist": [1 if c in (k % 10, (k + 3) % 10) else 0
                                                       for c in range(10)]}} for k in range(20)}
    assert D.unshuffled_data(vitals(sampled=pairs)) == []


# -- progress ----------------------------------------------------------------------------------
def test_loss_plateau() -> None:
    (f,) = P.loss_plateau(vitals([2.30 - 1e-4 * i for i in range(100)]))
    assert f.evidence["relative_drop"] < T.plateau_drop
    assert P.loss_plateau(vitals(falling(100))) == []
    assert P.loss_plateau(vitals([2.3] * 40)) == []  # too short to tell


def test_loss_oscillating_vs_noisy_descent() -> None:
    swings = [1.0 + 0.8 * math.sin(i / 4) for i in range(200)]
    (f,) = P.loss_oscillating(vitals(swings))
    assert f.evidence["rises"] >= 3
    noisy = [x * (1 + 0.02 * (-1) ** i) for i, x in enumerate(falling(200))]
    assert P.loss_oscillating(vitals(noisy)) == []
    flat_wobble = [2.3 + 0.005 * math.sin(i) for i in range(200)]  # stuck, not oscillating
    assert P.loss_oscillating(vitals(flat_wobble)) == []


def epochs(tl: list[float], vl: list[float], ta: list[float] | None = None,
           va: list[float] | None = None) -> list[dict[str, Any]]:
    rows = []
    for e in range(len(tl)):
        row = {"epoch": e, "train_loss": tl[e], "val_loss": vl[e]}
        if ta:
            row.update(train_accuracy=ta[e], val_accuracy=va[e])  # type: ignore[index]
        rows.append(row)
    return rows


def test_overfitting_by_rising_val_loss_and_by_gap() -> None:
    v = vitals(epochs=epochs([1, .5, .3, .2, .1, .05], [1, .6, .5, .6, .7, .8]))
    assert P.overfitting(v)[0].evidence["best_epoch"] == 2
    v = vitals(epochs=epochs([1, .5, .3], [1, .6, .5], [.8, .95, 1.0], [.7, .8, .85]))
    assert P.overfitting(v)[0].evidence["gap"] == pytest.approx(0.15)
    v = vitals(epochs=epochs([1, .5, .3], [1, .6, .55], [.8, .95, 1.0], [.75, .9, .95]))
    assert P.overfitting(v) == []
    assert P.overfitting(vitals(epochs=epochs([1, .5], [1, 2]))) == []  # two epochs only


def test_underfitting() -> None:
    v = vitals(epochs=epochs([2, 1.9, 1.8], [2, 2, 2], [.3, .4, .45], [.3, .4, .4]))
    (f,) = P.underfitting(v)
    assert f.evidence["train_accuracy"] == 0.45
    v = vitals(epochs=epochs([2, 1, .5], [2, 1, .5], [.3, .6, .75], [.3, .6, .7]))
    assert P.underfitting(v) == []


def test_train_mode_in_eval() -> None:
    loop = {"nograd_forwards": 3, "nograd_train_forwards": 3, "mode_sensitive": True}
    assert P.train_mode_in_eval(vitals(loop=loop))[0].evidence["nograd_train_forwards"] == 3
    assert P.train_mode_in_eval(vitals(loop={**loop, "mode_sensitive": False})) == []
    assert P.train_mode_in_eval(vitals(loop={**loop, "nograd_train_forwards": 0})) == []


# -- registry ----------------------------------------------------------------------------------
def test_diagnose_dedupes_keeps_most_severe_and_survives_a_failing_rule(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from torchdoctor.doctor.symptoms import _registry as R

    def boom(v: Vitals, t: Thresholds) -> list:
        raise RuntimeError("boom")

    def twice(v: Vitals, t: Thresholds) -> list:
        return [R.finding("dead_relu", "info", "a", layer="1"), R.finding("dead_relu", "error", "b", layer="1")]

    monkeypatch.setitem(R.RULES, "dead_relu", twice)
    monkeypatch.setitem(R.RULES, "nonfinite", boom)
    found = diagnose(vitals())
    assert [(f.code, f.severity) for f in found] == [("dead_relu", "error")]
    assert "rule 'nonfinite' failed" in caplog.text


def test_diagnose_rejects_unknown_codes() -> None:
    with pytest.raises(ValueError, match="codes must name registered rules"):
        diagnose(vitals(), codes=["no_such_code"])


def test_overfitting_by_falling_val_accuracy_over_two_epochs() -> None:
    # val loss stays flat (no 20 % rise) and train accuracy < val accuracy (noisy training
    # labels): only the fall of validation accuracy from its best shows the memorisation
    tl, vl = [1, .9, .8, .7, .6, .5], [.6, .55, .5, .55, .56, .57]
    ta, va = [.5, .6, .65, .7, .75, .8], [.85, .9, .92, .85, .86, .84]
    (f,) = P.overfitting(vitals(epochs=epochs(tl, vl, ta, va)))
    assert f.evidence["best_epoch"] == 2 and f.evidence["drop"] == pytest.approx(0.92 - 0.86)
    dip = [.85, .9, .92, .8, .91, .84]  # one bad epoch and a recovery: noise, not overfitting
    assert P.overfitting(vitals(epochs=epochs(tl, vl, ta, dip))) == []
    flat_train = [.5, .6, .65, .6, .6, .6]  # training accuracy did not rise since the best
    assert P.overfitting(vitals(epochs=epochs(tl, vl, flat_train, va))) == []


def test_narrow_layer_bottleneck_and_its_widening() -> None:
    narrow = {"0": LayerInfo("Linear", "param", 0, 2), "1": LayerInfo("ReLU", "activation", 1),
              "2": LayerInfo("Linear", "param", 2, 10)}
    (f,) = A.narrow_layer(vitals(layers=narrow))
    assert (f.layer, f.evidence["units"], f.evidence["outputs"]) == ("0", 2, 10)
    assert f.severity == "warning"  # the loss falls: only a warning
    assert f.evidence["suggested_width"] == 64  # 4 per output, next power of two
    assert f.remedies[0].code == "widen_layers" and "64 units" in f.remedies[0].description
    stuck = vitals([2.3] * 100, layers=narrow)
    assert A.narrow_layer(stuck)[0].severity == "error"
    assert A.narrow_layer(vitals()) == []  # 32 hidden units for 10 outputs
    binary = {**narrow, "2": LayerInfo("Linear", "param", 2, 1)}
    assert A.narrow_layer(vitals(layers=binary)) == []
    three = {**narrow, "2": LayerInfo("Linear", "param", 2, 3)}
    assert A.narrow_layer(vitals(layers=three))[0].evidence["suggested_width"] == 16


def test_narrow_layer_ignores_conv_channels() -> None:
    # 4 channels of 8x8 positions feed the classifier 256 features: not a bottleneck
    cnn = {"0": LayerInfo("Conv2d", "param", 0, 4), "1": LayerInfo("ReLU", "activation", 1),
           "2": LayerInfo("Linear", "param", 2, 10)}
    assert A.narrow_layer(vitals(layers=cnn)) == []
