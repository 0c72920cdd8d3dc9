"""The repair loop on real (tiny) trainings: early stopping of candidates, the usual-rate
patches, and one repair through the Python API."""

from __future__ import annotations

import math

import pytest

from torchdoctor.optim import USUAL_LR
from torchdoctor.repair import Session, apply_patch, repair, row_score
from torchdoctor.train.config import load_config
from torchdoctor.train.targets import prepare_inputs

FAST = ["model.depth=2", "model.width=32", "train.epochs=6"]


def _cfg(*ov: str):
    return load_config(None, [*FAST, *ov])


def test_row_score_prefers_accuracy_then_loss() -> None:
    assert row_score({"val_accuracy": 0.9, "val_loss": 0.3}) > row_score({"val_accuracy": 0.9, "val_loss": 0.4})
    assert row_score({"val_accuracy": 0.9, "val_loss": 0.1}) < row_score({"val_accuracy": 0.91, "val_loss": 9.0})
    assert row_score({"val_loss": 2.0}) == -2.0
    assert row_score({}) == -math.inf


@pytest.mark.parametrize(("lr", "value", "expected"), [
    (2.0, "<=usual", USUAL_LR["sgdm"]), (1e-5, "<=usual", None),
    (1e-5, ">=usual", USUAL_LR["sgdm"]), (2.0, ">=usual", None), (2.0, "usual", USUAL_LR["sgdm"]),
])
def test_usual_rate_patches_only_move_the_rate_the_right_way(lr: float, value: str, expected) -> None:
    res = apply_patch(_cfg(f"train.lr={lr}"), {"train.lr": value})
    if expected is None:
        assert not res.ok and "changes nothing" in res.reason
    else:
        assert res.ok and res.config.train.lr == pytest.approx(expected)


def test_usual_rate_follows_an_optimizer_change_in_the_same_patch() -> None:
    res = apply_patch(_cfg("train.lr=1e-6"), {"train.lr": "usual", "train.optimizer": "adam"})
    assert res.config.train.optimizer == "adam" and res.config.train.lr == pytest.approx(1e-3)


def test_candidate_no_better_than_its_parent_halfway_is_stopped() -> None:
    cfg = _cfg()
    inputs = prepare_inputs(cfg)
    # a parent that was perfect at every epoch: no candidate can beat it, stop at ceil(5/2) = 3
    s = Session("c", cfg, inputs).start(5, reference=[1.0] * 5, min_gain=0.005)
    assert s.lagging and s.stopped_early and s.epochs_run == 3
    s.close()
    # a parent at chance level: a healthy config beats it and runs its whole budget
    s = Session("c", cfg, inputs).start(5, reference=[0.1] * 5, min_gain=0.005)
    assert not s.lagging and not s.stopped_early and s.epochs_run == 5
    assert s.scores()[-1] == pytest.approx(s.score())
    s.close()
    # a candidate no longer showing a finding of its parent that it targets is not stopped:
    # a cure of one of two faults may not raise the score yet (a healthy run shows no
    # missing_zero_grad)
    s = Session("c", cfg, inputs).start(5, reference=[1.0] * 5, min_gain=0.005,
                                        keep_if_resolved={"missing_zero_grad"})
    assert not s.lagging and s.epochs_run == 5
    s.close()


def test_candidate_with_a_new_error_is_stopped_at_once() -> None:
    cfg = _cfg("train.lr=50")  # diverges in the first epoch
    s = Session("c", cfg, prepare_inputs(cfg)).start(5, abort_codes={"nonfinite", "exploding_gradient"})
    assert s.aborted is not None and s.aborted.code in {"nonfinite", "exploding_gradient"}
    assert s.epochs_run < 5 and s.stopped_early
    s.close()


def test_repair_api_end_to_end_fixes_a_far_too_low_rate() -> None:
    cfg = _cfg("train.epochs=12", "train.lr=1e-5")
    res = repair(cfg, rounds=2)
    doc = res.to_json()
    # seeds 0-4 of this config: before 0.053-0.106, after 0.967-0.989 (margins >= 0.39, 0.067)
    assert doc["before"]["metrics"]["val_accuracy"] < 0.5
    assert res.config.train.lr >= 1e-3  # the rate went up by two orders of magnitude or more
    assert doc["after"]["metrics"]["val_accuracy"] > 0.9
    assert res.applied and doc["diff"]["train.lr"][0] == pytest.approx(1e-5)
    assert doc["cost_vs_one_training"] is not None


def test_a_class_weight_patch_gets_its_own_sample_weights() -> None:
    from torchdoctor.repair import InputsCache

    cache = InputsCache()
    plain = cache(_cfg("data.imbalance=10"))
    weighted = cache(_cfg("data.imbalance=10", "train.class_weight=balanced"))
    assert plain.sample_weights is None and weighted.sample_weights is not None
    assert cache(_cfg("data.imbalance=10", "train.lr=0.1")) is plain  # shared when data agree


def test_rate_probe_ranks_rates_by_their_short_run_loss() -> None:
    import math

    from torchdoctor.repair import PROBE_FACTORS, PROBE_STEPS, probe_epochs, probe_rate

    low = _cfg("train.lr=1e-6")  # every probed rate is far too low: more is better
    best, losses = probe_rate(low, prepare_inputs(low))
    assert list(losses) == pytest.approx([1e-6 * f for f in PROBE_FACTORS])
    assert best == pytest.approx(3e-6) and losses[best] < min(v for k, v in losses.items() if k != best)
    high = _cfg("train.lr=20", "train.optimizer=sgd")  # every probed rate is far too high
    best, losses = probe_rate(high, prepare_inputs(high))
    assert best == pytest.approx(20 / 3) and losses[best] < losses[20.0] < losses[60.0]
    absurd = _cfg("train.lr=1e30", "train.optimizer=sgd")  # all diverge: keep the rate
    best, losses = probe_rate(absurd, prepare_inputs(absurd))
    assert best == 1e30 and all(math.isinf(v) for v in losses.values())
    n_train = len(prepare_inputs(low).data.x_train)
    assert probe_epochs(low, prepare_inputs(low)) == pytest.approx(
        len(PROBE_FACTORS) * PROBE_STEPS / math.ceil(n_train / 64))


@pytest.mark.parametrize("extra", [[], ["train.l1=1e-3", "data.shuffle=false", "model.dropout=0.2"]])
def test_rate_probe_steps_are_the_trainers_steps(extra: list[str]) -> None:
    from torchdoctor.repair import short_run_loss
    from torchdoctor.train.trainer import Trainer

    cfg = _cfg("train.epochs=2", "train.batch_size=512", *extra)  # 3 batches an epoch, the last short
    inputs = prepare_inputs(cfg)
    seen: list[float] = []

    class Record:
        def on_after_backward(self, trainer, *, loss, **kw) -> None:
            seen.append(float(loss.detach()))

    trainer = Trainer(cfg, data=inputs.data, sample_weights=inputs.sample_weights)
    trainer.callbacks.append(Record())
    trainer.fit()
    assert len(seen) == 6  # two epochs of the real training
    assert short_run_loss(cfg, inputs, 5) == pytest.approx(sum(seen[2:5]) / 3, rel=1e-6)


def test_only_a_jump_to_the_usual_rate_is_probed() -> None:
    from torchdoctor.repair import is_rate_jump

    old = _cfg("train.lr=1e-5")
    usual = apply_patch(old, {"train.lr": ">=usual"}).config
    assert is_rate_jump(old, usual, {"train.lr": ">=usual"})
    tenfold = apply_patch(old, {"train.lr": "x10"}).config
    assert not is_rate_jump(old, tenfold, {"train.lr": "x10"})  # a relative step is not probed
    near = _cfg("train.lr=0.02")
    assert not is_rate_jump(near, apply_patch(near, {"train.lr": ">=usual"}).config, {"train.lr": ">=usual"})


def test_td_repair_is_the_repair_function_before_and_after_importing_the_package() -> None:
    import importlib
    import inspect

    import torchdoctor as td

    assert callable(td.repair)
    pkg = importlib.import_module("torchdoctor.repair")
    assert callable(td.repair) and td.repair is pkg  # the import rebinds the attribute
    assert pkg.repair is repair
    assert inspect.signature(td.repair) == inspect.signature(repair)
    with pytest.raises(ValueError, match="rounds must be >= 0"):
        td.repair(_cfg(), rounds=-1)


def test_differential_diagnosis_resets_the_bias_that_kills_the_relus_from_step_0() -> None:
    # biases at -3: every ReLU unit is dead before the first update; the healthy default of
    # this family (configs/digits.yaml) has biases at 0, and dead_relu implicates the bias
    res = repair(_cfg("model.bias_init=-3", "train.epochs=8"), rounds=2)
    doc = res.to_json()
    assert "dead_relu" in doc["before"]["findings"]
    assert "reset_model.bias_init" in res.applied and res.config.model.bias_init == 0.0
    # step-0 evidence: dead before any update, so a lower rate alone is not a candidate
    assert all(set(c["patch"]) != {"train.lr"} for c in doc["candidates"])
    # seeds 0-4 (depth 2, width 32, 8 epochs): before 0.100-0.103, after 0.964-0.983
    assert doc["after"]["metrics"]["val_accuracy"] > 0.9 > 0.2 > doc["before"]["metrics"]["val_accuracy"]


def test_a_short_training_still_gets_a_minimum_number_of_steps_per_run() -> None:
    from torchdoctor.repair import budget_epochs

    cfg = _cfg("train.epochs=20")
    assert budget_epochs(cfg, 0.25) == 5  # a quarter of the epochs
    assert budget_epochs(cfg, 0.25, steps_per_epoch=23) == 5  # 115 steps: enough
    assert budget_epochs(cfg, 0.25, steps_per_epoch=4) == 10  # 40 steps need 10 epochs
    assert budget_epochs(cfg, 0.25, steps_per_epoch=1) == 20  # never more than the training
    assert budget_epochs(_cfg("train.epochs=3"), 0.25, steps_per_epoch=23) == 3


def test_a_clean_config_is_compared_with_its_family_default() -> None:
    # batches of 1024: 2 updates an epoch and no finding fires; the stop rule does not end the
    # search on the absence of findings but trains the family default once
    cfg = load_config("configs/digits.yaml", ["train.batch_size=1024"])
    res = repair(cfg, rounds=2)
    doc = res.to_json()
    assert doc["before"]["findings"] == []
    probe = [c for c in doc["candidates"] if c["name"] == "family default"]
    assert len(probe) == 1 and probe[0]["patch"]["train.batch_size"] == 64
    # seeds 0-4: before 0.961-0.972, the family default kept every time, after 0.972-0.992
    # (after - before: +0.011 to +0.022)
    assert doc["after"]["metrics"]["val_accuracy"] >= doc["before"]["metrics"]["val_accuracy"] - 0.005


def test_differential_diagnosis_resets_an_implicated_batch_size() -> None:
    cfg = load_config("configs/digits.yaml", [*FAST, "train.batch_size=1024"])  # 12 updates in all
    res = repair(cfg, rounds=2)
    doc = res.to_json()
    # seeds 0-4: reset by the differential candidate (underfitting implicates the batch size)
    # or by the family-default probe (no finding); before 0.635-0.811, after 0.961-0.975
    assert res.config.train.batch_size == 64
    assert {"reset_train.batch_size", "family_default"} & set(res.applied)
    assert doc["after"]["metrics"]["val_accuracy"] > 0.9 > 0.85 > doc["before"]["metrics"]["val_accuracy"]
