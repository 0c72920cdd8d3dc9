"""The differential reset and the family-default probe: a reset that would cut the number of
optimizer updates (a larger batch) is first tried without it, and the probe runs its whole
budget."""

from __future__ import annotations

from torchdoctor.findings import Finding
from torchdoctor.repair import (
    BATCH_RATE_KEYS,
    budget_epochs,
    differential_candidates,
    family_default,
    repair,
)
from torchdoctor.train.config import load_config
from torchdoctor.train.targets import prepare_inputs
from torchdoctor.train.trainer import Trainer

#: A small MLP with BatchNorm on batches of 2, the rate scaled down for the batch, 4 epochs.
BN_BATCH2 = ["train.epochs=4", "train.batch_size=2", "train.lr=0.002", "model.norm=batch"]


def _warn(code: str) -> Finding:
    return Finding(code, "warning", f"{code} (test)")


def test_a_reset_that_raises_the_batch_size_is_first_tried_without_it_and_its_rate() -> None:
    cfg = load_config("configs/digits.yaml", ["train.epochs=3", "train.batch_size=4",
                                              "train.lr=0.005", "model.norm=batch"])
    default = family_default(cfg)
    assert (default.train.batch_size, default.train.lr, default.model.norm) == (64, 0.05, "none")
    cands = differential_candidates(cfg, default, [_warn("small_batch_norm"), _warn("loss_oscillating")])
    assert [c.patch for c in cands] == [
        {"model.norm": "none"},
        {"model.norm": "none", "train.batch_size": 64, "train.lr": 0.05},
    ]
    assert cands[0].remedies == ["reset_model.norm"]
    assert not set(cands[0].patch) & set(BATCH_RATE_KEYS)


def test_a_reset_that_lowers_the_batch_size_stays_one_candidate() -> None:
    # batches of 1024 and a rate 10x the default: more updates and the default rate together
    cfg = load_config("configs/digits.yaml", ["train.batch_size=1024", "train.lr=0.5"])
    cands = differential_candidates(cfg, family_default(cfg), [_warn("underfitting")])
    assert [c.patch for c in cands] == [{"train.lr": 0.05, "train.batch_size": 64}]


def test_a_batch_size_reset_alone_is_not_split() -> None:
    cfg = load_config("configs/digits.yaml", ["train.batch_size=8", "train.lr=0.005"])
    cands = differential_candidates(cfg, family_default(cfg), [_warn("loss_oscillating")])
    assert [c.patch for c in cands] == [{"train.lr": 0.05, "train.batch_size": 64}]
    assert differential_candidates(cfg, family_default(cfg), []) == []


def test_batchnorm_on_batches_of_two_is_cured_by_removing_the_norm_not_the_small_batch() -> None:
    cfg = load_config("configs/moons.yaml", BN_BATCH2)
    reference = Trainer(load_config("configs/moons.yaml", BN_BATCH2[:3])).fit().metrics["val_accuracy"]
    res = repair(cfg, rounds=2)
    doc = res.to_json()
    assert "small_batch_norm" in doc["before"]["findings"]
    assert doc["candidates"][0]["patch"] == {"model.norm": "none"}
    assert (res.config.model.norm, res.config.train.batch_size) == ("none", 2)
    # seeds 0-4: before 0.805-0.875; after 0.955-0.975, equal to the reference without the norm
    # each time; the merged reset (batches of 32, rate 0.01: 16x fewer updates) 0.885-0.955
    assert doc["before"]["metrics"]["val_accuracy"] < 0.9
    assert doc["after"]["metrics"]["val_accuracy"] >= min(0.93, reference - 0.02)


def test_the_family_default_probe_runs_its_whole_budget() -> None:
    # momentum 0.85 instead of 0.9: a clean run; the stop rule trains the family default once
    cfg = load_config("configs/digits.yaml", ["model.depth=2", "model.width=32", "train.epochs=8",
                                              "train.momentum=0.85"])
    res = repair(cfg, rounds=2)
    doc = res.to_json()
    probe = [c for c in doc["candidates"] if c["name"] == "family default"]
    assert len(probe) == 1 and probe[0]["patch"] == {"train.momentum": 0.9}
    inputs = prepare_inputs(cfg)
    n_budget = budget_epochs(cfg, 0.25, -(-len(inputs.data.x_train) // cfg.train.batch_size))
    assert not probe[0]["stopped_early"] and probe[0]["epochs"] >= n_budget
    assert doc["before"]["findings"] == []
