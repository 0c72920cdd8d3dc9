"""Repair's building blocks on hand-made findings: patches, conflicts, candidate generation."""

from __future__ import annotations

import pytest

from torchdoctor.findings import Finding, Remedy
from torchdoctor.repair import apply_patch, config_diff, merge_patches, propose_candidates
from torchdoctor.train.config import load_config


def _cfg(*ov: str):
    return load_config(None, list(ov))


def test_absolute_and_relative_values() -> None:
    res = apply_patch(_cfg(), {"model.init": "kaiming_normal", "train.lr": "x0.1"})
    assert res.ok and res.config is not None
    assert res.config.model.init == "kaiming_normal"
    assert res.config.train.lr == pytest.approx(0.005)
    assert res.changes == {"model.init": ("default", "kaiming_normal"), "train.lr": (0.05, pytest.approx(0.005))}
    assert apply_patch(_cfg(), {"train.lr": "x2"}).config.train.lr == pytest.approx(0.1)
    halved = apply_patch(_cfg("model.depth=8"), {"model.depth": "x0.5"}).config
    assert halved.model.depth == 4 and isinstance(halved.model.depth, int)


@pytest.mark.parametrize(("patch", "reason"), [
    ({"train.nope": 1}, "train.nope: not a config key"),
    ({"model.norm": "instance"}, "model.norm = instance: needs spatial inputs"),
    ({"train.lr": -1.0}, "train.lr = -1.0: must be > 0"),
    ({"model.activation": "relu"}, "changes nothing in this config"),
    ({"model.arch": "x2"}, "needs a numeric current value"),
])
def test_patches_that_cannot_apply_give_the_reason(patch: dict, reason: str) -> None:
    res = apply_patch(_cfg(), patch)
    assert not res.ok and reason in res.reason


def test_merge_drops_conflicting_patch_whole() -> None:
    merged, dropped = merge_patches([{"train.lr": "x0.1"}, {"model.norm": "batch"},
                                     {"train.lr": "x0.5", "model.init": "xavier_normal"}])
    assert merged == {"train.lr": "x0.1", "model.norm": "batch"}
    assert len(dropped) == 1 and "conflicts with {train.lr: 'x0.1'}" in dropped[0]
    same, none = merge_patches([{"train.lr": "x0.1"}, {"train.lr": "x0.1"}])
    assert same == {"train.lr": "x0.1"} and none == []


def test_config_diff() -> None:
    a, b = _cfg(), _cfg("train.lr=0.1", "model.norm=batch")
    assert config_diff(a, b) == {"train.lr": (0.05, 0.1), "model.norm": ("none", "batch")}


def _finding(code: str, severity: str, *remedies: tuple[str, dict]) -> Finding:
    return Finding(code=code, severity=severity, message=code,
                   remedies=[Remedy(c, c, p) for c, p in remedies])


def test_candidates_merge_first_remedies_then_singles_then_alternatives() -> None:
    cfg = _cfg("model.activation=sigmoid", "model.depth=8")
    findings = [
        _finding("loss_plateau", "error", ("raise_lr", {"train.lr": "x10"}), ("use_adam", {"train.optimizer": "adam"})),
        _finding("vanishing_gradient", "error", ("relu_he", {"model.activation": "relu", "model.init": "kaiming_normal"}),
                 ("add_norm", {"model.norm": "batch"}), ("shallower", {"model.depth": 3})),
        _finding("class_imbalance", "warning", ("focal", {"train.loss": "focal"})),
    ]
    cands, skipped = propose_candidates(cfg, findings, max_candidates=10)
    # causes before symptoms; warnings count too; the plateau (an outcome) stays out of the merge
    assert cands[0].patch == {"model.activation": "relu", "model.init": "kaiming_normal", "train.loss": "focal"}
    assert cands[0].remedies == ["relu_he", "focal"]
    assert [c.patch for c in cands[1:]] == [
        {"train.lr": "x10"}, {"model.activation": "relu", "model.init": "kaiming_normal"},
        {"train.loss": "focal"}, {"model.norm": "batch"}, {"train.optimizer": "adam"}, {"model.depth": 3}]
    assert skipped == []
    assert len(propose_candidates(cfg, findings)[0]) == 4  # the default cap


def test_setup_bug_comes_first_even_as_warning() -> None:
    findings = [
        _finding("vanishing_gradient", "error", ("relu_he", {"model.init": "kaiming_normal"})),
        _finding("unnormalized_input", "warning", ("normalize", {"data.normalize": "standard"})),
    ]
    cands, _ = propose_candidates(_cfg("data.normalize=none"), findings)
    assert cands[0].remedies == ["normalize", "relu_he"]
    assert cands[1].patch == {"data.normalize": "standard"}


def test_conflicting_first_remedy_becomes_its_own_candidate() -> None:
    findings = [
        _finding("exploding_gradient", "error", ("lower_lr", {"train.lr": "x0.1"})),
        _finding("loss_plateau", "warning", ("raise_lr", {"train.lr": "x10"})),
    ]
    cands, _ = propose_candidates(_cfg(), findings)
    assert [c.patch for c in cands] == [{"train.lr": "x0.1"}, {"train.lr": "x10"}]


def test_a_stuck_loss_outranks_a_swinging_one() -> None:
    # both fire on a flat, noisy loss; its cure is a higher rate, tried first
    findings = [
        _finding("loss_oscillating", "warning", ("lower_lr", {"train.lr": "x0.1"})),
        _finding("loss_plateau", "warning", ("raise_lr", {"train.lr": "x10"})),
    ]
    cands, _ = propose_candidates(_cfg(), findings)
    assert [c.patch for c in cands] == [{"train.lr": "x10"}, {"train.lr": "x0.1"}]


def test_one_target_per_code() -> None:
    f = [_finding("dead_relu", "warning", ("leaky", {"model.activation": "leaky_relu"})),
         _finding("dead_relu", "error", ("leaky", {"model.activation": "leaky_relu"}))]
    cands, _ = propose_candidates(_cfg(), f)
    assert [c.remedies for c in cands] == [["leaky"]]


def test_inapplicable_remedies_are_skipped_with_reason() -> None:
    findings = [_finding("small_batch_norm", "error", ("groupnorm_mlp", {"model.norm": "instance"}),
                         ("layer", {"model.norm": "layer"}), ("noop", {"model.norm": "none"}))]
    cands, skipped = propose_candidates(_cfg(), findings)
    assert [c.patch for c in cands] == [{"model.norm": "layer"}]
    reasons = {s["remedy"]: s["reason"] for s in skipped}
    assert "needs spatial inputs" in reasons["groupnorm_mlp"]
    assert reasons["noop"] == "changes nothing in this config"


def test_duplicate_candidates_collapse_and_count_is_capped() -> None:
    f1 = _finding("exploding_gradient", "error", ("clip", {"train.grad_clip": 1.0}), ("lr", {"train.lr": "x0.1"}),
                  ("lars", {"train.optimizer": "lars"}), ("adam", {"train.optimizer": "adam"}))
    f2 = _finding("loss_oscillating", "error", ("lr", {"train.lr": "x0.1"}), ("clip", {"train.grad_clip": 1.0}))
    cands, _ = propose_candidates(_cfg(), [f1, f2], max_candidates=3)
    patches = [c.patch for c in cands]
    assert patches == [{"train.grad_clip": 1.0}, {"train.lr": "x0.1"}, {"train.optimizer": "lars"}]


def test_outcome_findings_and_costly_remedies_stay_out_of_the_merge() -> None:
    findings = [
        _finding("dead_relu", "error", ("leaky", {"model.activation": "leaky_relu"})),
        _finding("underfitting", "warning", ("adam", {"train.optimizer": "adam"})),
        _finding("loss_plateau", "warning", ("bigger", {"model.width": "x4"}), ("raise", {"train.lr": "x10"})),
    ]
    cands, _ = propose_candidates(_cfg(), findings, max_candidates=10)
    assert cands[0].patch == {"model.activation": "leaky_relu"}
    # then the excluded firsts alone (costly, outcome), then the alternatives
    assert [c.patch for c in cands[1:]] == [{"model.width": "x4"}, {"train.optimizer": "adam"}, {"train.lr": "x10"}]
    only_outcome = [_finding("underfitting", "warning", ("adam", {"train.optimizer": "adam"}))]
    assert propose_candidates(_cfg(), only_outcome)[0][0].patch == {"train.optimizer": "adam"}


def test_an_absolute_widening_is_a_costlier_candidate_of_its_own() -> None:
    from torchdoctor.repair import grows_cost

    cfg = _cfg("model.width=2")
    assert grows_cost({"model.width": 64}, cfg) and not grows_cost({"model.width": 2}, cfg)
    assert grows_cost({"train.epochs": "x2"}) and not grows_cost({"train.epochs": "x0.5"})
    findings = [
        _finding("narrow_layer", "error", ("widen", {"model.width": 64})),
        _finding("dead_relu", "error", ("leaky", {"model.activation": "leaky_relu"})),
    ]
    cands, _ = propose_candidates(cfg, findings)
    assert [c.patch for c in cands] == [{"model.activation": "leaky_relu"}, {"model.width": 64}]
